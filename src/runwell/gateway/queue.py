"""Queued answers: degradation mode ``queued`` keeps the request and answers it later.

When no variant can answer (or the feature is killed) and the spec says ``degradation: {mode:
queued}``, the client gets ``202`` with a ticket; the request is stored in ``queued_requests`` (so it
survives a restart) and a background job retries it, with backoff, until a variant answers or it
gives up after :data:`MAX_ATTEMPTS`. The client fetches the answer with
``GET /v1/queued/{ticket}`` using the same API key.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import orjson

from runwell.store import Database

__all__ = ["MAX_ATTEMPTS", "QueueTable", "Queued"]

MAX_ATTEMPTS = 20
"""Tries before a queued request is given up (about an hour with the backoff below)."""
_BACKOFF_S = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_COLUMNS = (
    "ticket, feature, request, status, answer, error, attempts, api_key_id, created_at, updated_at, "
    "next_try_at"
)


@dataclass(frozen=True, slots=True)
class Queued:
    """One queued request and, once there is one, its answer."""

    ticket: str
    feature: str
    request: dict[str, Any]
    status: str
    """``queued`` (waiting or retrying), ``done`` (answered), ``failed`` (given up)."""
    answer: dict[str, Any] | None
    error: str | None
    attempts: int
    api_key_id: str | None
    created_at: float
    updated_at: float
    next_try_at: float

    def to_dict(self) -> dict[str, Any]:
        """What ``GET /v1/queued/{ticket}`` answers."""
        out: dict[str, Any] = {
            "id": self.ticket,
            "object": "runwell.queued_request",
            "feature": self.feature,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at,
        }
        if self.answer is not None:
            out["answer"] = self.answer
        if self.error is not None:
            out["error"] = self.error
        return out


def _queued(row: tuple[Any, ...]) -> Queued:
    ticket, feature, request, status, answer, error, attempts, key, created, updated, next_try = row
    return Queued(
        ticket,
        feature,
        orjson.loads(request),
        status,
        None if answer is None else orjson.loads(answer),
        error,
        int(attempts),
        key,
        float(created),
        float(updated),
        float(next_try),
    )


class QueueTable:
    """``queued_requests`` in the gateway's database (synchronous: call from a worker thread)."""

    def __init__(self, db: Database, *, first_try_s: float = _BACKOFF_S[0]) -> None:
        self._db = db
        self._first_try_s = first_try_s

    def add(
        self, feature: str, request: dict[str, Any], api_key_id: str | None, *, now: float | None = None
    ) -> str:
        """Store a request to answer later; returns its ticket."""
        moment = time.time() if now is None else now
        ticket = "q_" + os.urandom(12).hex()
        with self._db.transaction("queue a request") as tx:
            tx.execute(
                f"INSERT INTO queued_requests ({_COLUMNS}) "
                "VALUES (?, ?, ?, 'queued', NULL, NULL, 0, ?, ?, ?, ?)",
                (
                    ticket,
                    feature,
                    orjson.dumps(request).decode(),
                    api_key_id,
                    moment,
                    moment,
                    moment + self._first_try_s,
                ),
            )
        return ticket

    def get(self, ticket: str) -> Queued | None:
        """The queued request with this ticket, or ``None``."""
        row = self._db.query_one(
            f"SELECT {_COLUMNS} FROM queued_requests WHERE ticket = ?",
            (ticket,),
            action="read a queued request",
        )
        return None if row is None else _queued(row)

    def claim_due(self, *, now: float | None = None, limit: int = 10, lease_s: float = 60.0) -> list[Queued]:
        """Take up to ``limit`` requests due for a try, pushing their next try ``lease_s`` away so that
        another replica does not take them meanwhile."""
        moment = time.time() if now is None else now
        claimed: list[Queued] = []
        with self._db.transaction("claim queued requests") as tx:
            rows = tx.query(
                f"SELECT {_COLUMNS} FROM queued_requests WHERE status = 'queued' AND next_try_at <= ? "
                "ORDER BY next_try_at LIMIT ?",
                (moment, limit),
            )
            for row in rows:
                item = _queued(row)
                if tx.execute(
                    "UPDATE queued_requests SET next_try_at = ?, updated_at = ? "
                    "WHERE ticket = ? AND next_try_at = ?",
                    (moment + lease_s, moment, item.ticket, item.next_try_at),
                ):
                    claimed.append(item)
        return claimed

    def finish(self, ticket: str, answer: dict[str, Any], *, now: float | None = None) -> None:
        """Store the answer."""
        moment = time.time() if now is None else now
        with self._db.transaction("store a queued answer") as tx:
            tx.execute(
                "UPDATE queued_requests SET status = 'done', answer = ?, error = NULL, "
                "attempts = attempts + 1, updated_at = ? WHERE ticket = ?",
                (orjson.dumps(answer).decode(), moment, ticket),
            )

    def retry_later(self, ticket: str, attempts: int, error: str, *, now: float | None = None) -> None:
        """Note a failed try and when the next one is due; give up after :data:`MAX_ATTEMPTS`."""
        moment = time.time() if now is None else now
        done = attempts + 1
        status = "failed" if done >= MAX_ATTEMPTS else "queued"
        wait = _BACKOFF_S[min(done, len(_BACKOFF_S) - 1)]
        with self._db.transaction("reschedule a queued request") as tx:
            tx.execute(
                "UPDATE queued_requests SET status = ?, error = ?, attempts = ?, updated_at = ?, "
                "next_try_at = ? WHERE ticket = ?",
                (status, error, done, moment, moment + wait, ticket),
            )

    def counts(self) -> dict[str, int]:
        """How many requests are queued, done and failed."""
        rows = self._db.query(
            "SELECT status, count(*) FROM queued_requests GROUP BY status", action="count queued requests"
        )
        return {str(status): int(n) for status, n in rows}

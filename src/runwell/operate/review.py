"""The human review queue: answers chosen by the spec's rules, labelled and corrected by people.

What is queued (``oncall.review`` in the spec):

* on the request path, an answered request a guardrail *flagged*, or one in the sampled share
  (``sample_percent``, decided by a hash of the request id, so replicas agree): the request hook only
  appends to a bounded in-memory list, a background job writes the items;
* from the experiment layer's tables, a request whose online quality score fell below
  ``below_quality`` or that got negative user feedback (the evaluator scans them);
* when an incident is resolved, the requests that failed during it (reason ``incident:<id>``),
  so that the incident's inputs become regression cases once someone writes the right answer.

An item is ``pending``, then ``labelled`` (a label such as ``good``/``bad``/``unsafe``, and a
correction: the answer it should have been), then ``exported`` (appended to the eval set by
:mod:`runwell.operate.export`). A request is queued once, whatever the number of reasons.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runwell.errors import ConfigError, NotFoundError
from runwell.spec.operate import ReviewRules
from runwell.store import Database

__all__ = [
    "ReviewItem",
    "ReviewSampler",
    "get_item",
    "label_item",
    "list_items",
    "queue_items",
    "scan_signals",
]

_NAMES = (
    "id", "request_id", "feature", "reason", "state", "label", "correction", "reviewer",
    "created_at", "labelled_at", "exported_at",
)  # fmt: skip
_COLUMNS = ", ".join(_NAMES)
Candidate = tuple[str, str, str, float]
"""``(request id, feature, reason, at)``."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One item of the queue."""

    id: str
    request_id: str
    feature: str
    reason: str
    state: str
    label: str | None
    correction: str | None
    reviewer: str | None
    created_at: float
    labelled_at: float | None
    exported_at: float | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ReviewItem:
        """Build from a row in column order."""
        values = list(row)
        for i in (8, 9, 10):
            values[i] = None if values[i] is None else float(values[i])
        return cls(*values)

    @property
    def source(self) -> str:
        """``incident`` for an incident's input, else ``review``: the tag its export carries."""
        return "incident" if self.reason.startswith("incident:") else "review"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {name: getattr(self, name) for name in _NAMES}


class ReviewSampler:
    """The request hook's side: decides in memory, queues in memory (see the module docstring)."""

    def __init__(self, rules: Mapping[str, ReviewRules], *, limit: int = 10_000) -> None:
        self._rules = dict(rules)
        self._pending: deque[Candidate] = deque(maxlen=limit)

    def wants(self, feature: str) -> bool:
        """Whether any rule could ever select a request of ``feature`` (else the hook skips it)."""
        rules = self._rules.get(feature)
        return rules is not None and (bool(rules.guardrail_flags) or rules.sample_percent > 0)

    def consider(self, request_id: str, feature: str, statuses: Mapping[str, str], answered: bool) -> None:
        """Queue an answered request when a rule selects it. Never blocks."""
        rules = self._rules.get(feature)
        if rules is None or not answered:
            return
        reason = None
        if rules.guardrail_flags:
            flagged = sorted(name for name, status in statuses.items() if status == "flagged")
            if flagged:
                reason = "guardrail_flag:" + ",".join(flagged)
        if reason is None and rules.sample_percent > 0 and _bucket(request_id) < rules.sample_percent / 100:
            reason = "sampled"
        if reason is not None:
            self._pending.append((request_id, feature, reason, time.time()))

    def drain(self) -> list[Candidate]:
        """Everything queued since the last drain."""
        out = list(self._pending)
        self._pending.clear()
        return out


def _bucket(request_id: str) -> float:
    digest = hashlib.sha256(b"runwell review sample\x00" + request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def queue_items(db: Database, candidates: Iterable[Candidate]) -> int:
    """Insert candidates not queued yet; returns how many were new."""
    added = 0
    with db.transaction("queue answers for review") as tx:
        for request_id, feature, reason, at in candidates:
            added += tx.execute(
                f"INSERT INTO review_items ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, 'pending', NULL, NULL, NULL, ?, NULL, NULL) "
                "ON CONFLICT (request_id) DO NOTHING",
                ("rev_" + os.urandom(6).hex(), request_id, feature, reason, at),
            )
    return added


def scan_signals(
    db: Database, rules: Mapping[str, ReviewRules], since: float, until: float
) -> list[Candidate]:
    """Requests whose quality score or user feedback, recorded in ``[since, until)``, selects them."""
    out: list[Candidate] = []
    for feature, r in rules.items():
        if r.below_quality is not None:
            rows = db.query(
                "SELECT request_id, MIN(score), MAX(created_at) FROM scores "
                "WHERE feature = ? AND created_at >= ? AND created_at < ? AND score < ? GROUP BY request_id",
                (feature, since, until, r.below_quality),
                action="find low quality scores",
            )
            out += [(str(rid), feature, f"low_quality:{float(s):.2f}", float(at)) for rid, s, at in rows]
        if r.negative_feedback:
            rows = db.query(
                "SELECT request_id, MAX(created_at) FROM feedback WHERE feature = ? AND created_at >= ? "
                "AND created_at < ? AND score < 0.5 GROUP BY request_id",
                (feature, since, until),
                action="find negative feedback",
            )
            out += [(str(rid), feature, "negative_feedback", float(at)) for rid, at in rows]
    return out


def list_items(
    db: Database,
    *,
    feature: str | None = None,
    state: str | None = None,
    reason: str | None = None,
    limit: int = 50,
) -> list[ReviewItem]:
    """Items, oldest first (the queue's order)."""
    where, params = ["1 = 1"], []
    for column, value in (("feature", feature), ("state", state)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if reason is not None:
        where.append("reason LIKE ?")
        params.append(reason + "%")
    rows = db.query(
        f"SELECT {_COLUMNS} FROM review_items WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT ?",
        (*params, limit),
        action="list review items",
    )
    return [ReviewItem.from_row(r) for r in rows]


def get_item(db: Database, item_id: str) -> ReviewItem:
    """One item, by its id or its request's id."""
    row = db.query_one(
        f"SELECT {_COLUMNS} FROM review_items WHERE id = ? OR request_id = ?",
        (item_id, item_id),
        action="read a review item",
    )
    if row is None:
        raise NotFoundError(f"no review item {item_id!r}; list them with `runwell review list`")
    return ReviewItem.from_row(row)


def label_item(
    db: Database,
    item_id: str,
    *,
    label: str,
    correction: str | None,
    reviewer: str,
    clock: Callable[[], float] = time.time,
) -> ReviewItem:
    """Label an item (and give the answer it should have been); relabelling before export is allowed."""
    if not label.strip():
        raise ConfigError("a label is needed, e.g. --label good, bad or unsafe")
    item = get_item(db, item_id)
    if item.state == "exported":
        raise ConfigError(f"review item {item.id} is already exported to the eval set; change the case there")
    with db.transaction("label a review item") as tx:
        tx.execute(
            "UPDATE review_items SET state = 'labelled', label = ?, correction = ?, reviewer = ?, "
            "labelled_at = ? WHERE id = ?",
            (label.strip(), correction, reviewer, clock(), item.id),
        )
    return get_item(db, item.id)

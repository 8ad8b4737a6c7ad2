"""The recent state changes and run-time events of every replica, read from the shared audit log.

Run-time events (``breaker_open``, ``budget_alert``, ``drift``, ``rollout_*``...) are raised in the
replica that saw them and appended to the audit log as change entries; levers (kill switch,
guardrail overrides, flags, budgets) and rollout steps are change entries too. The audit log is
the one place every replica writes to, so the evaluator reads them there: events for the alert
rules, lever changes for the incident timelines.

Each poll reads only the change entries appended since the last one (an index range with the
``change:`` key filter; decision entries are never parsed), keeps the last ``keep_s`` seconds in
memory, and attributes each entry to the features it concerns.

Synchronous, like the store: call :meth:`ChangeFeed.poll` from a worker thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from runwell.store import Database

__all__ = ["Change", "ChangeFeed", "FeatureIndex"]

_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Change:
    """One change entry of the audit log, with the features it concerns."""

    index: int
    at: float
    kind: str
    subject: str
    actor: str
    reason: str
    before: Any
    after: Any
    features: frozenset[str]

    def describe(self) -> str:
        """One line for a timeline: ``kill_switch on support by ana: provider outage``."""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.kind} on {self.subject} by {self.actor}{why}"


class FeatureIndex:
    """Which features a change entry concerns, from its kind, subject and details.

    ``models`` maps ``provider/model`` (a circuit breaker's subject) to the features whose
    variants call it.
    """

    def __init__(self, features: Iterable[str], models: dict[str, set[str]]) -> None:
        self._features = frozenset(features)
        self._models = models

    def of(self, kind: str, subject: str, after: Any) -> frozenset[str]:
        """The features concerned (empty when none this gateway serves)."""
        if kind.startswith("breaker_"):
            return frozenset(self._models.get(subject, ()))
        found: set[str] = set()
        if isinstance(after, dict) and isinstance(after.get("feature"), str):
            found.add(after["feature"])
        # Lever subjects: "feature", "feature@variant", "feature:guardrail", "feature.flag".
        head = subject
        for separator in ("@", ":", "."):
            head = head.split(separator, 1)[0]
        found.add(head)
        return frozenset(found & self._features)


class ChangeFeed:
    """Polls the audit log for change entries; see the module docstring."""

    def __init__(self, db: Database, index: FeatureIndex, *, keep_s: float = 3600.0) -> None:
        self._db = db
        self._index = index
        self.keep_s = keep_s
        self._last: int | None = None
        self._recent: deque[Change] = deque()

    def poll(self, now: float) -> list[Change]:
        """Read the change entries appended since the last poll (the first poll starts ``keep_s``
        ago); returns them, oldest first."""
        if self._last is None:
            self._last = self._index_before(now - self.keep_s)
        rows = self._db.query(
            "SELECT idx, leaf, created_at FROM audit_entries WHERE idx > ? AND request_id LIKE ? "
            f"ORDER BY idx LIMIT {_BATCH}",
            (self._last, "change:%"),
            action="read recent changes from the audit log",
        )
        fresh = [change for change in (self._decode(r) for r in rows) if change is not None]
        if rows:
            self._last = int(rows[-1][0])
        self._recent.extend(fresh)
        while self._recent and self._recent[0].at < now - self.keep_s:
            self._recent.popleft()
        return fresh

    def recent(
        self, *, feature: str, since: float, kinds: Callable[[str], bool] = lambda kind: True
    ) -> list[Change]:
        """The kept changes concerning ``feature`` at or after ``since`` whose kind passes ``kinds``."""
        return [c for c in self._recent if c.at >= since and feature in c.features and kinds(c.kind)]

    def count(self, kind: str, feature: str, since: float) -> int:
        """How many ``kind`` entries concern ``feature`` since ``since``."""
        return sum(1 for c in self._recent if c.kind == kind and c.at >= since and feature in c.features)

    def _decode(self, row: tuple[Any, ...]) -> Change | None:
        idx, leaf, created_at = row
        try:
            entry = orjson.loads(bytes(leaf))
        except orjson.JSONDecodeError:
            return None  # audit verification reports corrupt leaves; the feed only skips them
        if not isinstance(entry, dict) or entry.get("type") != "change":
            return None
        kind, subject, after = str(entry.get("kind", "")), str(entry.get("subject", "")), entry.get("after")
        return Change(
            index=int(idx),
            at=float(created_at),
            kind=kind,
            subject=subject,
            actor=str(entry.get("actor", "")),
            reason=str(entry.get("reason", "")),
            before=entry.get("before"),
            after=after,
            features=self._index.of(kind, subject, after),
        )

    def _index_before(self, moment: float) -> int:
        """The last index appended before ``moment`` (-1 when none): a binary search on the
        primary key, since ``created_at`` has no index."""
        row = self._db.query_one("SELECT max(idx) FROM audit_entries", action="size the audit log")
        hi = int(row[0]) if row and row[0] is not None else -1
        lo = -1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            found = self._db.query_one(
                "SELECT created_at FROM audit_entries WHERE idx >= ? ORDER BY idx LIMIT 1",
                (mid,),
                action="find a time in the audit log",
            )
            if found is not None and float(found[0]) < moment:
                lo = mid
            else:
                hi = mid - 1
        return lo

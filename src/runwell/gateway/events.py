"""Run-time events: a budget crossing its alert fraction, the budget store going down, a breaker
opening or closing. Each is counted in ``/metrics`` (``runwell_events_total``) at once, logged, and
appended to the audit log as a change entry (actor ``runwell``) by a background job.

The request path only counts and queues: :meth:`Events.emit` never blocks. The audit entries are
throttled per (kind, subject), one per ``throttle_s`` (60 s by default): a Redis outage seen by a
thousand requests is one entry a minute, not a thousand, while the metric counts every one. Paging
on these events belongs to the alerts (``alerts:`` in the spec).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runwell.audit.log import AuditLog
from runwell.audit.open import record_change
from runwell.resilience import Transition

__all__ = ["Event", "Events"]

_log = logging.getLogger("runwell.gateway")


@dataclass(frozen=True, slots=True)
class Event:
    """One event, as the audit log receives it."""

    kind: str
    subject: str
    feature: str
    details: dict[str, Any]
    at: float


class Events:
    """Counts, logs and (throttled) audits run-time events; see the module docstring."""

    def __init__(
        self,
        log: AuditLog | None,
        count: Callable[[str, str], None],
        *,
        throttle_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._count = count
        self._throttle_s = throttle_s
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._queue: list[Event] = []
        self._subscribers: list[Callable[[Event], None]] = []

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback`` with every event, throttled or not (it runs on the request path: it
        must only record or queue)."""
        self._subscribers.append(callback)

    def emit(self, kind: str, details: dict[str, Any], *, subject: str | None = None) -> None:
        """Count the event and queue its audit entry (unless one of its kind and subject was queued
        within ``throttle_s``). Safe on the request path."""
        feature = str(details.get("feature", ""))
        subject = subject or str(details.get("subject") or feature or kind)
        self._count(kind, feature)
        if self._subscribers:
            event = Event(kind, subject, feature, details, time.time())
            for callback in self._subscribers:
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not reach the request
                    _log.exception("event subscriber %r failed on %s", callback, kind)
        now = self._clock()
        last = self._last.get((kind, subject))
        if last is not None and now - last < self._throttle_s:
            return
        self._last[(kind, subject)] = now
        _log.warning("event %s on %s: %s", kind, subject, details)
        self._queue.append(Event(kind, subject, feature, details, time.time()))

    def breaker_transition(self, transition: Transition) -> None:
        """The breaker registry's callback: an event per state change (``breaker_open`` ...)."""
        self.emit(
            f"breaker_{transition.to_state.value}",
            {
                "provider": transition.provider,
                "model": transition.model,
                "from": transition.from_state.value,
                "reason": transition.reason,
                "open_until": transition.open_until,
                "learnt_from_another_replica": transition.remote,
            },
            subject=f"{transition.provider}/{transition.model}",
        )

    @property
    def pending(self) -> int:
        """Events waiting for their audit entry."""
        return len(self._queue)

    async def flush(self) -> None:
        """Append the queued events to the audit log (the background job's tick)."""
        if not self._queue or self._log is None:
            self._queue.clear()
            return
        batch, self._queue = self._queue, []
        await asyncio.to_thread(self._append, batch)

    def _append(self, batch: list[Event]) -> None:
        assert self._log is not None
        for event in batch:
            record_change(
                self._log,
                kind=event.kind,
                subject=event.subject,
                actor="runwell",
                reason=f"{event.kind.replace('_', ' ')} (an event the gateway raised)",
                after=event.details,
                at=event.at,
            )

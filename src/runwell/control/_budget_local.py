"""The in-process budget backend: one replica, counters in a dict, seeded from stored records.

Each step runs under one lock and never awaits, so it is atomic for every task of the event loop
(and for threads, should one call it). A restart would reset today's spend to zero;
:meth:`LocalBudgets.seed_from_records` reads it back from the ``requests`` table first.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
from collections.abc import Iterable, Sequence

from runwell.control._budget_model import to_nano
from runwell.control._budget_plan import Budgets, Clock, Found, Reservation
from runwell.control._budget_seed import SpentSoFar, spend_in_records
from runwell.store import Database

__all__ = ["LocalBudgets"]

# Counters of ended windows are dropped this long after the window ends (late settles may still
# land in them meanwhile), checked at most once per this many seconds.
_GRACE_S = 60.0


class _Tally:
    """One counter: spent and held per unit, and the units whose alert was reported."""

    __slots__ = ("alerted", "ends", "held", "spent")

    def __init__(self, ends: float) -> None:
        self.spent = [0, 0, 0]
        self.held = [0, 0, 0]
        self.alerted: set[int] = set()
        self.ends = ends


class LocalBudgets(Budgets):
    """Budgets of one gateway process, kept in memory; see :class:`Budgets` for the methods.

    Use it when one replica serves a feature; several replicas need :class:`RedisBudgets`.
    """

    def __init__(self, *, clock: Clock = time.time, reservation_ttl_s: float = 300.0) -> None:
        super().__init__(clock=clock, reservation_ttl_s=reservation_ttl_s)
        self._lock = threading.Lock()
        self._tallies: dict[str, _Tally] = {}
        self._held: dict[str, Reservation] = {}
        self._expiry: list[tuple[float, str]] = []
        self._next_sweep = 0.0

    async def seed_from_records(self, db: Database) -> int:
        """Add today's and this month's spend stored in ``db``'s request records; call once at start-up.

        The query runs in a worker thread, never on the event loop. Returns how many counters were
        seeded. Minute windows are not seeded: a restart forgets at most one minute of rate.
        """
        entries = await asyncio.to_thread(spend_in_records, db, now=self._clock())
        self.seed(entries)
        return len(entries)

    async def aclose(self) -> None:
        """Nothing to close: the counters live in this process."""

    def seed(self, entries: Iterable[SpentSoFar]) -> None:
        """Add ``entries`` (from :func:`spend_in_records`) to the spent counters."""
        now = self._clock()
        with self._lock:
            for entry in entries:
                span = self._calendar.span(entry.window, now)
                if span.id != entry.window_id:
                    continue  # a window that ended between the query and now
                key = f"{{{entry.feature}}}:{entry.window}:{span.id}:{entry.scope}:{entry.subject}"
                tally = self._tally(key, span.end)
                tally.spent[0] += to_nano(entry.usd)
                tally.spent[1] += entry.tokens

    def _tally(self, key: str, ends: float) -> _Tally:
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally(ends)
        return tally

    def _expire(self, now: float) -> None:
        """Stop counting reservations past their TTL, and drop counters of long-ended windows."""
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, rid = heapq.heappop(expiry)
            reservation = self._held.pop(rid, None)
            if reservation is not None:
                self._unhold(reservation)
        if now >= self._next_sweep:
            self._next_sweep = now + _GRACE_S
            ended = [key for key, tally in self._tallies.items() if tally.ends + _GRACE_S <= now]
            for key in ended:
                del self._tallies[key]

    def _unhold(self, reservation: Reservation) -> None:
        amounts = reservation.amounts
        for counter in reservation.counters:
            tally = self._tallies.get(counter.key)
            if tally is not None:
                held = tally.held
                held[0] -= amounts[0]
                held[1] -= amounts[1]
                held[2] -= amounts[2]

    async def _grant(self, reservation: Reservation, now: float) -> Found | None:
        amounts = reservation.amounts
        with self._lock:
            self._expire(now)
            tallies = [self._tally(c.key, c.span.end) for c in reservation.counters]
            for index, (counter, tally) in enumerate(zip(reservation.counters, tallies, strict=True)):
                for unit, limit, _ in counter.rule.checks:
                    if tally.spent[unit] + tally.held[unit] + amounts[unit] > limit:
                        return index, unit, tally.spent[unit], tally.held[unit]
            for tally in tallies:
                held = tally.held
                held[0] += amounts[0]
                held[1] += amounts[1]
                held[2] += amounts[2]
            self._held[reservation.id] = reservation
            expiry = self._expiry
            if len(expiry) > 2 * len(self._held) + 64:
                # Settled reservations leave their entry behind; rebuild rather than let the heap
                # grow with the request rate times the TTL.
                expiry[:] = [(r.expires_at, r.id) for r in self._held.values()]
                heapq.heapify(expiry)
            else:
                heapq.heappush(expiry, (reservation.expires_at, reservation.id))
        return None

    async def _settle(
        self, reservation: Reservation, used: tuple[int, int, int], now: float
    ) -> Sequence[tuple[int, int, int]]:
        crossed: list[tuple[int, int, int]] = []
        with self._lock:
            self._expire(now)
            if self._held.pop(reservation.id, None) is not None:
                self._unhold(reservation)
            for index, counter in enumerate(reservation.counters):
                tally = self._tally(counter.key, counter.span.end)
                spent = tally.spent
                spent[0] += used[0]
                spent[1] += used[1]
                spent[2] += used[2]
                for unit, threshold in counter.rule.alerts:
                    if spent[unit] >= threshold and unit not in tally.alerted:
                        tally.alerted.add(unit)
                        crossed.append((index, unit, spent[unit]))
        return crossed

    async def _release(self, reservation: Reservation, now: float) -> None:
        with self._lock:
            self._expire(now)
            if self._held.pop(reservation.id, None) is not None:
                self._unhold(reservation)

"""From a request's ask to the counters a backend checks: windows, counter keys, reservations.

Both backends share this: they differ only in where the counters live and how a check-and-reserve
is made atomic (a lock in one process, a Lua script in Redis).
"""

from __future__ import annotations

import itertools
import math
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from runwell.control._budget_model import (
    NANO_PER_USD,
    UNITS,
    Ask,
    Breach,
    BudgetAlert,
    BudgetExceeded,
    Limits,
    Rule,
    Usage,
    Window,
    to_nano,
)

__all__ = ["Budgets", "Calendar", "Clock", "Counter", "Found", "Reservation", "Span", "request_breach"]

Clock = Callable[[], float]
"""Wall-clock time in epoch seconds (``time.time``); injected so tests can cross midnight."""

Found = tuple[int, int, int, int]
"""A backend's refusal: (counter index, unit index, spent, reserved), in engine units."""


class Span(NamedTuple):
    """One window: its id (``2025-03-14``, ``2025-03``, or the minute's number) and its bounds."""

    id: str
    start: float
    end: float


class Counter(NamedTuple):
    """What one scope spent in one window (``key`` names it in the store) and the limits it has."""

    key: str
    rule: Rule
    subject: str
    span: Span


class Calendar:
    """The UTC window around a time; the current minute, day and month are computed once and reused."""

    __slots__ = ("_day", "_minute", "_month")

    def __init__(self) -> None:
        self._minute = self._day = self._month = Span("", 0.0, 0.0)

    def span(self, window: Window, now: float) -> Span:
        """The ``window`` (minute, day or month) that contains ``now`` (epoch seconds)."""
        cached = self._minute if window == "minute" else self._day if window == "day" else self._month
        if cached.start <= now < cached.end:
            return cached
        if window == "minute":
            minute = int(now // 60)
            self._minute = span = Span(str(minute), minute * 60.0, minute * 60.0 + 60.0)
            return span
        at = datetime.fromtimestamp(now, UTC)
        if window == "day":
            start = datetime(at.year, at.month, at.day, tzinfo=UTC)
            end = start + timedelta(days=1)
            self._day = span = Span(start.strftime("%Y-%m-%d"), start.timestamp(), end.timestamp())
        else:
            start = datetime(at.year, at.month, 1, tzinfo=UTC)
            end = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
            self._month = span = Span(start.strftime("%Y-%m"), start.timestamp(), end.timestamp())
        return span

    def counters(self, limits: Limits, ask: Ask, now: float) -> tuple[Counter, ...]:
        """Every counter ``ask`` must fit in, in the order :attr:`Limits.rules` checks them."""
        found: list[Counter] = []
        for rule in limits.rules:
            scope = rule.scope
            subject = ask.feature if scope == "feature" else ask.api_key_id if scope == "key" else ask.user_id
            if subject is None:
                continue
            span = self.span(rule.window, now)
            # The feature in braces is a Redis Cluster hash tag (one request's keys share a slot);
            # the subject comes last so that no id can make two counters' keys collide.
            key = f"{{{ask.feature}}}:{rule.window}:{span.id}:{scope}:{subject}"
            found.append(Counter(key, rule, subject, span))
        return tuple(found)


class Reservation:
    """A grant to spend up to ``max_cost_usd`` and ``max_tokens``; settle or release it once.

    ``expires_at`` (epoch seconds) is when it stops counting against the budgets if it was
    neither settled nor released (a crashed replica's reservations must not block a budget).
    """

    __slots__ = ("_state", "amounts", "counters", "expires_at", "feature", "id", "limits", "member")

    def __init__(
        self, rid: str, ask: Ask, limits: Limits, counters: tuple[Counter, ...], expires_at: float
    ) -> None:
        self.id = rid
        """Unique across replicas."""
        self.feature = ask.feature
        self.limits = limits
        self.counters = counters
        self.expires_at = expires_at
        self.amounts = (to_nano(ask.max_cost_usd), ask.input_tokens + ask.max_output_tokens, 1)
        """What it holds, in engine units: nano-dollars, tokens, requests."""
        # The same string in every counter's set of reservations: expiring one can read back
        # what it held without another lookup.
        self.member = f"{self.id}:{self.amounts[0]}:{self.amounts[1]}:{self.amounts[2]}"
        self._state = "held"

    @property
    def max_cost_usd(self) -> float:
        """The dollars held."""
        return self.amounts[0] / NANO_PER_USD

    @property
    def max_tokens(self) -> int:
        """The tokens held (input estimate plus ``max_tokens``)."""
        return self.amounts[1]

    @property
    def state(self) -> str:
        """``held``, ``settled`` or ``released``."""
        return self._state

    def finish(self, state: str) -> bool:
        """Mark it settled or released; ``False`` if it already was one of them."""
        if self._state != "held":
            return False
        self._state = state
        return True

    def __repr__(self) -> str:
        return f"Reservation({self.id}, feature={self.feature!r}, {self._state}, ${self.max_cost_usd:g})"


def _value(unit: int, amount: int) -> float:
    return amount / NANO_PER_USD if unit == 0 else float(amount)


def request_breach(limits: Limits, ask: Ask) -> Breach | None:
    """The first per-request limit ``ask`` breaks, or ``None``; needs no store."""
    checks = (
        ("max_input_tokens", 1, limits.max_input_tokens, ask.input_tokens),
        ("max_output_tokens", 1, limits.max_output_tokens, ask.max_output_tokens),
        (
            "max_cost_usd",
            0,
            None if limits.max_cost_usd is None else to_nano(limits.max_cost_usd),
            to_nano(ask.max_cost_usd),
        ),
    )
    for budget, unit, limit, requested in checks:
        if limit is not None and requested > limit:
            return Breach(
                budget,
                "feature",
                ask.feature,
                ask.feature,
                "request",
                UNITS[unit],
                _value(unit, limit),
                0.0,
                0.0,
                _value(unit, requested),
                None,
                None,
            )
    return None


def _refusal(reservation: Reservation, found: Found, now: float) -> BudgetExceeded:
    """The refusal for a backend's ``found`` (counter index, unit, spent, reserved)."""
    index, unit, spent, reserved = found
    counter = reservation.counters[index]
    limit, budget = next((c.limit, c.budget) for c in counter.rule.checks if c.unit == unit)
    requested = reservation.amounts[unit]
    retry = None if requested > limit else max(1, math.ceil(counter.span.end - now))
    return BudgetExceeded(
        Breach(
            budget,
            counter.rule.scope,
            counter.subject,
            reservation.feature,
            counter.rule.window,
            UNITS[unit],
            _value(unit, limit),
            _value(unit, spent),
            _value(unit, reserved),
            _value(unit, requested),
            counter.span.end,
            retry,
        )
    )


def _alert(reservation: Reservation, index: int, unit: int, spent: int) -> BudgetAlert:
    """The alert for counter ``index``'s ``unit`` having reached its threshold with ``spent``."""
    counter = reservation.counters[index]
    limit, budget = next((c.limit, c.budget) for c in counter.rule.checks if c.unit == unit)
    return BudgetAlert(
        budget,
        counter.rule.scope,
        counter.subject,
        reservation.feature,
        counter.rule.window,
        counter.span.id,
        UNITS[unit],
        _value(unit, limit),
        _value(unit, spent),
        reservation.limits.alert_at_fraction or 1.0,
        counter.span.end,
    )


class Budgets(ABC):
    """The budget engine's interface; :class:`LocalBudgets` and :class:`RedisBudgets` implement it.

    The shared steps live here (per-request limits, which counters apply, refusals, alerts); a
    backend supplies three atomic steps on its counters: grant, settle and release.
    """

    def __init__(self, *, clock: Clock = time.time, reservation_ttl_s: float = 300.0) -> None:
        if not reservation_ttl_s > 0:
            raise ValueError(f"reservation_ttl_s must be > 0, got {reservation_ttl_s!r}")
        self._clock = clock
        self._calendar = Calendar()
        # Reservation ids: a random prefix per engine and a sequence, unique across replicas
        # without a system call per request.
        self._id_prefix = secrets.token_hex(6)
        self._ids = itertools.count()
        self.reservation_ttl_s = reservation_ttl_s
        """How long an unsettled reservation counts; longer than the slowest provider call."""

    async def reserve(self, limits: Limits, ask: Ask, *, ttl_s: float | None = None) -> Reservation:
        """Hold ``ask``'s maximum cost and tokens against every limit that applies, atomically.

        Raises :class:`BudgetExceeded` naming the first limit the request would break (nothing is
        held then), and :class:`BudgetStoreUnavailable` when the shared store cannot answer.
        ``ttl_s`` overrides :attr:`reservation_ttl_s` for this request (a long streaming call).
        """
        if ttl_s is None:
            ttl_s = self.reservation_ttl_s
        elif not ttl_s > 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s!r}")
        breach = request_breach(limits, ask)
        if breach is not None:
            raise BudgetExceeded(breach)
        now = self._clock()
        counters = self._calendar.counters(limits, ask, now)
        rid = f"{self._id_prefix}{next(self._ids):x}"
        reservation = Reservation(rid, ask, limits, counters, now + ttl_s)
        if counters:
            found = await self._grant(reservation, now)
            if found is not None:
                raise _refusal(reservation, found, now)
        return reservation

    async def settle(self, reservation: Reservation, usage: Usage) -> tuple[BudgetAlert, ...]:
        """Replace the reservation by what the request used; returns the alerts it triggered.

        The spend counts in the windows the request started in, even if it ends after midnight.
        Raises ``ValueError`` if the reservation was already settled or released.
        """
        if not reservation.finish("settled"):
            raise ValueError(
                f"{reservation!r} was already {reservation.state}; settle or release each reservation once"
            )
        if not reservation.counters:
            return ()
        used = (to_nano(usage.cost_usd), usage.input_tokens + usage.output_tokens, 1)
        crossed = await self._settle(reservation, used, self._clock())
        return tuple(_alert(reservation, index, unit, spent) for index, unit, spent in crossed)

    async def release(self, reservation: Reservation) -> None:
        """Give the reservation back unused (the call failed); a no-op once settled or released."""
        if reservation.finish("released") and reservation.counters:
            await self._release(reservation, self._clock())

    @abstractmethod
    async def aclose(self) -> None:
        """Release the backend's connections."""

    @abstractmethod
    async def _grant(self, reservation: Reservation, now: float) -> Found | None:
        """Atomically: drop expired reservations, check every counter, and hold the amounts in all
        of them if every check passes; else return the first check that fails."""

    @abstractmethod
    async def _settle(
        self, reservation: Reservation, used: tuple[int, int, int], now: float
    ) -> Sequence[tuple[int, int, int]]:
        """Atomically: stop holding the reservation (if it has not expired), add ``used`` to each
        counter, and return ``(counter index, unit, spent)`` for each alert reported for the first time."""

    @abstractmethod
    async def _release(self, reservation: Reservation, now: float) -> None:
        """Stop holding the reservation in each counter, if it has not expired."""

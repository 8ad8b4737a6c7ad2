"""A circuit breaker for one (provider, model): fail fast while an upstream is failing.

The breaker counts outcomes over a count-based sliding window (the last ``window`` calls), the
resilience4j way, rather than pybreaker's consecutive failures: a 50 % failure rate opens it even
when every other call succeeds. States::

    closed ──(failure rate >= threshold over >= min_calls calls)──► open
    open ──(open_s elapsed, checked on the next allow())──► half_open
    half_open ──(half_open_calls trials all succeed)──► closed
    half_open ──(one trial fails)──► open
    any ──force_open()──► forced_open   (rejects every call until reset())
    any ──disable()──► disabled         (allows every call, records nothing, until reset())

What counts as a failure (:func:`counts_as_failure`): connection errors, timeouts, 5xx, 429,
malformed or cut answers, auth and configuration failures. A client's mistake (the provider
refused the request as sent: ``invalid_request``, ``unsupported_request``, an upstream 400, 413
or 422) says nothing about the upstream's health and is ignored, as is the breaker's own
``circuit_open`` rejection.

The request path calls :meth:`CircuitBreaker.allow` and :meth:`CircuitBreaker.record`, which
touch a few attributes and never lock, sleep or do I/O: the gateway runs them on one asyncio
loop. Sharing states between replicas is :class:`runwell.resilience.BreakerRegistry`'s job.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from runwell.errors import CircuitOpen, ConfigError, ProviderError

__all__ = [
    "BreakerSettings",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "Transition",
    "counts_as_failure",
]

_log = logging.getLogger("runwell.resilience")

# The provider refused the request as sent: the client's to fix (the gateway answers 400).
_CLIENT_MISTAKES = frozenset({"invalid_request", "unsupported_request"})
# An upstream that rejects the request's content (bad parameters, context too long) is healthy.
_CLIENT_STATUSES = frozenset({400, 413, 422})
_REJECTED = "circuit_open"


class BreakerState(StrEnum):
    """A breaker's state; the values are what snapshots, metrics and Redis carry."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"


_CLOSED = BreakerState.CLOSED
_OPEN = BreakerState.OPEN
_HALF_OPEN = BreakerState.HALF_OPEN
_FORCED_OPEN = BreakerState.FORCED_OPEN
_DISABLED = BreakerState.DISABLED


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """When a breaker opens and how it recovers.

    The defaults are scaled-down resilience4j defaults (``failureRateThreshold`` 50 %, count-based
    window of 100 calls, ``minimumNumberOfCalls`` 100, 60 s open, 10 half-open calls): a gateway
    keeps one breaker per (provider, model) per replica, so each sees a fraction of the traffic,
    and a 100-call window would react to an outage only after minutes at low volume. pybreaker's
    5 consecutive failures would open on a short burst while most calls still succeed.
    """

    window: int = 20
    """How many of the latest calls the failure rate is computed over."""
    min_calls: int = 10
    """Calls the window must hold before the breaker may open."""
    failure_rate: float = 0.5
    """Failure share (0 < rate <= 1) at or above which the breaker opens."""
    open_s: float = 30.0
    """Seconds an opened breaker rejects calls before it lets trial calls through."""
    half_open_calls: int = 3
    """Trial calls in half-open: all must succeed to close; one failure opens again."""

    def __post_init__(self) -> None:
        where = "circuit breaker settings"
        if self.window < 1:
            raise ConfigError(f"{where}: window must be at least 1 call, got {self.window}")
        if not 1 <= self.min_calls <= self.window:
            raise ConfigError(
                f"{where}: min_calls must be within 1..window ({self.window}), got {self.min_calls}"
            )
        if not 0.0 < self.failure_rate <= 1.0:
            raise ConfigError(f"{where}: failure_rate must be within (0, 1], got {self.failure_rate}")
        if not (self.open_s > 0 and math.isfinite(self.open_s)):
            raise ConfigError(f"{where}: open_s must be a positive number of seconds, got {self.open_s}")
        if self.half_open_calls < 1:
            raise ConfigError(f"{where}: half_open_calls must be at least 1, got {self.half_open_calls}")


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change, handed to the ``on_transition`` callback (for logs, audit and metrics).

    ``at`` and ``open_until`` are wall-clock Unix times; ``remote`` is true when the state was
    learnt from another replica through Redis.
    """

    provider: str
    model: str
    from_state: BreakerState
    to_state: BreakerState
    reason: str
    at: float
    open_until: float | None = None
    remote: bool = False


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A breaker's state for ``/readyz``, ``/metrics`` and request records.

    ``failure_rate`` is over the ``calls`` in the closed-state window (``None`` when it is
    empty); ``since`` is when the current state began (``None`` if it never changed) and
    ``reason`` why; times are wall-clock Unix seconds.
    """

    provider: str
    model: str
    state: BreakerState
    failure_rate: float | None
    calls: int
    failures: int
    open_until: float | None
    since: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the state as its string value)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "state": self.state.value,
            "failure_rate": self.failure_rate,
            "calls": self.calls,
            "failures": self.failures,
            "open_until": self.open_until,
            "since": self.since,
            "reason": self.reason,
        }


def counts_as_failure(exc: ProviderError) -> bool:
    """Whether ``exc`` says the upstream is unhealthy (see the module docstring).

    False for the client's mistakes and for the breaker's own rejection, which must neither open
    a breaker nor keep one open.
    """
    if exc.error_class in _CLIENT_MISTAKES or exc.error_class == _REJECTED:
        return False
    return exc.upstream_status not in _CLIENT_STATUSES


class CircuitBreaker:
    """The breaker of one (provider, model); see the module docstring for its states.

    ``clock`` is monotonic seconds and times the open period; ``wall`` is Unix seconds, used only
    for what leaves the process (snapshots, transitions, Redis). ``on_transition`` runs on the
    request path, inside :meth:`allow` or :meth:`record`: it must be quick and must not block
    (queue the work); an exception it raises is logged and never reaches the request.
    """

    __slots__ = (
        "_clock",
        "_failures",
        "_filled",
        "_in_flight",
        "_index",
        "_last_grant",
        "_on_transition",
        "_open_until",
        "_outcomes",
        "_reason",
        "_since",
        "_size",
        "_state",
        "_trial_ok",
        "_trip_at",
        "_wall",
        "model",
        "provider",
        "settings",
    )

    def __init__(
        self,
        provider: str,
        model: str,
        settings: BreakerSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.settings = settings = settings or BreakerSettings()
        self._clock = clock
        self._wall = wall
        self._on_transition = on_transition
        self._state = _CLOSED
        self._reason = "new breaker"
        self._since: float | None = None
        self._open_until = 0.0  # monotonic
        # Closed-state window: a ring of outcomes, 1 for a failure, 0 for a success.
        self._outcomes = bytearray(settings.window)
        self._size = settings.window
        self._index = 0
        self._filled = 0
        self._failures = 0
        # _trip_at[n]: failures that open the breaker when the window holds n calls. Integer
        # thresholds keep record() free of float division; below min_calls nothing can trip.
        never = settings.window + 1
        self._trip_at = [
            max(1, math.ceil(settings.failure_rate * n - 1e-9)) if n >= settings.min_calls else never
            for n in range(settings.window + 1)
        ]
        # Half-open trials: granted and not yet answered, answered successfully, last grant time.
        self._in_flight = 0
        self._trial_ok = 0
        self._last_grant = 0.0

    @property
    def name(self) -> str:
        """``provider/model``, as logs and metrics label the breaker."""
        return f"{self.provider}/{self.model}"

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose period has elapsed reports half-open)."""
        if self._state is _OPEN and self._clock() >= self._open_until:
            self._to_half_open()
        return self._state

    @property
    def since(self) -> float | None:
        """Wall-clock time of the last transition, ``None`` if there was none."""
        return self._since

    def allow(self) -> bool:
        """Whether a call may go to the upstream now. In half-open, a True is a trial permit:
        answer it with :meth:`record`, :meth:`record_error` or :meth:`release`."""
        if self._state is _CLOSED:
            return True
        return self._allow_slow()

    def record(self, ok: bool) -> None:
        """Count the outcome of an allowed call: ``ok`` False for an upstream failure."""
        if self._state is not _CLOSED:
            self._record_slow(ok)
            return
        i = self._index
        outcomes = self._outcomes
        failures = self._failures
        filled = self._filled
        if filled == self._size:
            failures -= outcomes[i]
        else:
            filled = self._filled = filled + 1
        if ok:
            outcomes[i] = 0
        else:
            outcomes[i] = 1
            failures += 1
        self._failures = failures
        i += 1
        self._index = 0 if i == self._size else i
        if failures >= self._trip_at[filled]:
            self._open(
                f"failure rate {failures / filled:.0%} over the last {filled} calls "
                f"(threshold {self.settings.failure_rate:.0%})"
            )

    def record_error(self, exc: ProviderError) -> None:
        """Count ``exc`` as a failure, or ignore it if it is the client's mistake
        (:func:`counts_as_failure`); an ignored half-open trial returns its permit."""
        if counts_as_failure(exc):
            self.record(False)
        else:
            self.release()

    def release(self) -> None:
        """Give back a permit whose call ended without an outcome (cancelled, client's mistake)."""
        if self._state is _HALF_OPEN and self._in_flight > 0:
            self._in_flight -= 1

    def open_error(self) -> ProviderError:
        """The error to raise for a call :meth:`allow` refused (``error_class="circuit_open"``)."""
        state = self.state
        if state is _FORCED_OPEN:
            until = "until an operator resets it"
        elif state is _HALF_OPEN:
            until = "while its trial calls are in flight"
        else:
            left = max(0.0, self._open_until - self._clock())
            until = f"for another {left:.1f}s"
        return CircuitOpen(
            self.provider,
            f"circuit breaker for model {self.model!r} is {state.value} {until} ({self._reason}); "
            "calls fail fast meanwhile: use a fallback variant or retry later",
        )

    def snapshot(self) -> BreakerSnapshot:
        """The breaker's state, failure rate and last transition."""
        state = self.state
        filled = self._filled
        open_until = None
        if state is _OPEN:
            open_until = self._wall() + (self._open_until - self._clock())
        return BreakerSnapshot(
            provider=self.provider,
            model=self.model,
            state=state,
            failure_rate=self._failures / filled if filled else None,
            calls=filled,
            failures=self._failures,
            open_until=open_until,
            since=self._since,
            reason=self._reason,
        )

    def force_open(self, reason: str) -> None:
        """Reject every call until :meth:`reset` (an operator's decision)."""
        self._transition(_FORCED_OPEN, f"forced open: {reason}")

    def disable(self, reason: str) -> None:
        """Allow every call and record nothing until :meth:`reset` (an operator's decision)."""
        self._transition(_DISABLED, f"disabled: {reason}")

    def reset(self, reason: str) -> None:
        """Back to closed with an empty window, whatever the state."""
        self._transition(_CLOSED, f"reset: {reason}")

    def adopt(self, state: BreakerState, reason: str, *, open_until: float | None = None) -> None:
        """Take a state another replica decided (``open_until`` in wall-clock seconds for OPEN).

        Used by :class:`runwell.resilience.BreakerRegistry`; the transition is marked remote.
        """
        until = None
        if state is _OPEN:
            if open_until is None:
                raise ValueError("adopting an open state needs open_until")
            until = self._clock() + (open_until - self._wall())
        self._transition(state, reason, open_until=until, remote=True)

    def _allow_slow(self) -> bool:
        state = self._state
        if state is _OPEN:
            if self._clock() < self._open_until:
                return False
            self._to_half_open()
            state = self._state
        if state is _HALF_OPEN:
            now = self._clock()
            granted = self._trial_ok + self._in_flight
            if granted >= self.settings.half_open_calls:
                # Permits whose calls never answered (a bug, a lost task) would keep the breaker
                # half-open and rejecting forever: after an open period without news, reissue.
                if self._in_flight == 0 or now - self._last_grant < self.settings.open_s:
                    return False
                self._in_flight = 0
            self._in_flight += 1
            self._last_grant = now
            return True
        return state is _DISABLED

    def _record_slow(self, ok: bool) -> None:
        # Outcomes in open, forced-open and disabled are ignored; in half-open only answers to
        # trial permits count (a call allowed while closed may answer late).
        if self._state is not _HALF_OPEN or self._in_flight == 0:
            return
        self._in_flight -= 1
        if not ok:
            self._open("a half-open trial call failed")
            return
        self._trial_ok += 1
        if self._trial_ok >= self.settings.half_open_calls:
            self._transition(_CLOSED, f"{self._trial_ok} half-open trial calls succeeded")

    def _open(self, reason: str) -> None:
        self._transition(_OPEN, reason, open_until=self._clock() + self.settings.open_s)

    def _to_half_open(self) -> None:
        self._transition(_HALF_OPEN, f"open period of {self.settings.open_s:g}s elapsed")

    def _transition(
        self, state: BreakerState, reason: str, *, open_until: float | None = None, remote: bool = False
    ) -> None:
        previous = self._state
        self._state = state
        self._reason = reason
        at = self._since = self._wall()
        if open_until is not None:
            self._open_until = open_until
        self._in_flight = self._trial_ok = 0
        if state is _CLOSED:
            self._outcomes[:] = bytes(len(self._outcomes))
            self._index = self._filled = self._failures = 0
        callback = self._on_transition
        if callback is None:
            return
        event = Transition(
            provider=self.provider,
            model=self.model,
            from_state=previous,
            to_state=state,
            reason=reason,
            at=at,
            open_until=at + (self._open_until - self._clock()) if state is _OPEN else None,
            remote=remote,
        )
        try:
            callback(event)
        except Exception:  # a broken audit hook must not fail the request that tripped the breaker
            _log.exception("breaker %s: on_transition callback failed", self.name)

"""Retries with exponential backoff and full jitter, inside one deadline for the whole call.

What is retried (:func:`is_retryable`): connection failures, timeouts, a peer that hung up, a
stream cut, HTTP 429 and 5xx (except 501 Not Implemented), and only **before any output reached
the client**: after that a retry would send the answer twice. Never a client's mistake (400,
``invalid_request``, ``unsupported_request``), a malformed answer, auth or configuration errors,
nor the circuit breaker's ``circuit_open``.

How long to wait before retry ``n`` (:meth:`RetryPolicy.delay`): a uniform draw in
``[0, min(max_delay_s, base_delay_s * 2 ** (n - 1))]`` ("full jitter", AWS Architecture Blog,
*Exponential Backoff And Jitter*, 2015: it spreads retries of many clients best). An upstream's
``Retry-After`` (read as ``exc.retry_after_s``, seconds) replaces the draw: the retry never comes
earlier than the upstream asked. When the upstream asks for more than ``max_retry_after_s``, or
the wait would leave less than ``min_attempt_s`` of the deadline, the call gives up at once so a
fallback can answer while there is still time.

Every attempt gets ``min(attempt_timeout_s, time left)``, passed to the attempt and, by default,
enforced here too, so one slow attempt cannot eat the next attempt's time or overrun the deadline.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from runwell.errors import ConfigError, ProviderError, ProviderTimeout
from runwell.resilience.breaker import CircuitBreaker

__all__ = ["Attempt", "Deadline", "Retrier", "RetryPolicy", "is_retryable", "retry_after"]

T = TypeVar("T")

_RETRYABLE_CLASSES = frozenset({"connect_error", "timeout", "upstream_disconnected", "stream_cut"})
_RETRYABLE_HTTP = re.compile(r"upstream_http_(429|5\d\d)")


def is_retryable(exc: ProviderError, *, output_started: bool) -> bool:
    """Whether a new attempt is safe and may help (see the module docstring)."""
    if output_started:
        return False
    if exc.error_class in _RETRYABLE_CLASSES:
        return True
    status = exc.upstream_status
    if status is not None:
        return status == 429 or (500 <= status <= 599 and status != 501)
    # Adapters that name the status only in the class (the sim provider, older code).
    return bool(_RETRYABLE_HTTP.fullmatch(exc.error_class)) and exc.error_class != "upstream_http_501"


def retry_after(exc: BaseException) -> float | None:
    """The upstream's ``Retry-After`` in seconds, when the error carries a usable one."""
    value = getattr(exc, "retry_after_s", None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts and how long to wait between them.

    Defaults follow the official OpenAI Python SDK (2 retries, 0.5 s initial delay, 8 s maximum)
    with AWS's full jitter instead of its ±25 %; ``max_retry_after_s`` is lower than the SDK's
    60 s because a gateway request has a user waiting and a fallback to try.
    """

    attempts: int = 3
    """Calls in all, the first included (1 disables retries)."""
    base_delay_s: float = 0.5
    """Backoff ceiling before the first retry; it doubles for each later one."""
    max_delay_s: float = 8.0
    """The backoff ceiling never exceeds this."""
    max_retry_after_s: float = 10.0
    """Longest ``Retry-After`` honoured; asking for more ends the retries."""
    min_attempt_s: float = 0.5
    """No attempt starts with less than this left of the deadline (except the first)."""

    def __post_init__(self) -> None:
        where = "retry policy"
        if self.attempts < 1:
            raise ConfigError(f"{where}: attempts must be at least 1, got {self.attempts}")
        for name in ("base_delay_s", "max_delay_s", "max_retry_after_s", "min_attempt_s"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"{where}: {name} must be a finite number >= 0, got {value}")
        if self.max_delay_s < self.base_delay_s:
            raise ConfigError(
                f"{where}: max_delay_s ({self.max_delay_s}) must not be below base_delay_s "
                f"({self.base_delay_s})"
            )

    def backoff(self, retry: int, rng: random.Random) -> float:
        """A full-jitter wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(retry - 1, 62))
        return rng.uniform(0.0, ceiling)

    def delay(
        self,
        exc: ProviderError,
        *,
        retry: int,
        output_started: bool,
        remaining_s: float,
        rng: random.Random,
    ) -> float | None:
        """Seconds to wait before retry number ``retry``, or ``None`` to give up and raise ``exc``.

        ``remaining_s`` is what is left of the deadline now.
        """
        if retry >= self.attempts or not is_retryable(exc, output_started=output_started):
            return None
        asked = retry_after(exc)
        if asked is not None:
            if asked > self.max_retry_after_s:
                return None
            wait = asked
        else:
            wait = self.backoff(retry, rng)
        if remaining_s - wait < self.min_attempt_s:
            return None
        return wait


class Deadline:
    """A time budget for a whole call, retries included, on an injectable monotonic clock."""

    __slots__ = ("_clock", "_end", "total_s")

    def __init__(self, total_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not total_s > 0:
            raise ConfigError(f"a deadline must be a positive number of seconds, got {total_s}")
        self.total_s = total_s
        self._clock = clock
        self._end = clock() + total_s

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - self._clock())


@dataclass(slots=True)
class Attempt:
    """One try, handed to the function :meth:`Retrier.call` runs.

    Pass ``timeout_s`` on to the provider; call :meth:`mark_output` as soon as anything was sent
    to the client, after which an error is never retried.
    """

    number: int
    """1 for the first try."""
    timeout_s: float
    """Seconds this attempt may take: the per-attempt timeout or what is left, the smaller."""
    output_started: bool = False

    def mark_output(self) -> None:
        """Record that output reached the client: a failure from now on is final."""
        self.output_started = True


class Retrier:
    """Runs a provider call with a :class:`RetryPolicy`, a :class:`Deadline` and, optionally,
    a circuit breaker. ``clock`` (monotonic seconds), ``sleep`` and ``rng`` are injectable.

    ``guard_timeouts`` also enforces each attempt's ``timeout_s`` here (``asyncio.timeout``, about
    10 µs per attempt on a small machine), for attempt functions that may not honour it; a caller
    whose providers all do may turn it off.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
        guard_timeouts: bool = True,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._guard = guard_timeouts

    def deadline(self, total_s: float) -> Deadline:
        """A deadline ``total_s`` from now on this retrier's clock."""
        return Deadline(total_s, clock=self._clock)

    async def call(
        self,
        fn: Callable[[Attempt], Awaitable[T]],
        *,
        provider: str,
        deadline: Deadline,
        attempt_timeout_s: float,
        breaker: CircuitBreaker | None = None,
        guard_timeout: bool | None = None,
    ) -> T:
        """``await fn(attempt)`` until it returns, retrying what the policy allows.

        Raises the last ``ProviderError``; ``ProviderTimeout`` when an attempt overruns its
        ``timeout_s`` or no time is left; the breaker's ``circuit_open`` error when ``breaker``
        refuses the first attempt (a refused retry raises the previous attempt's error). Each
        attempt's outcome is recorded on ``breaker``; a cancelled attempt returns its permit.
        ``provider`` names the upstream in the errors raised here. ``guard_timeout=False`` skips
        this retrier's own timer for a call whose ``fn`` ends within ``attempt.timeout_s`` by itself.
        """
        last: ProviderError | None = None
        number = 0
        guard = self._guard if guard_timeout is None else guard_timeout
        while True:
            number += 1
            left = deadline.remaining()
            if left <= 0:
                raise ProviderTimeout(
                    provider,
                    f"the request's {deadline.total_s:g}s deadline passed before attempt {number}; "
                    "raise the feature's timeout or make the upstream faster",
                )
            if breaker is not None and not breaker.allow():
                if last is not None:
                    raise last  # the breaker opened during our retries: the upstream's error says why
                raise breaker.open_error()
            attempt = Attempt(number, min(attempt_timeout_s, left))
            try:
                if guard:
                    result = await self._attempt(fn, attempt, provider, deadline)
                else:
                    result = await fn(attempt)
            except ProviderError as exc:
                if breaker is not None:
                    breaker.record_error(exc)
                wait = self.policy.delay(
                    exc,
                    retry=number,
                    output_started=attempt.output_started,
                    remaining_s=deadline.remaining(),
                    rng=self._rng,
                )
                if wait is None:
                    raise
                last = exc
                if wait > 0:
                    await self._sleep(wait)
                continue
            except BaseException:
                if breaker is not None:
                    breaker.release()
                raise
            if breaker is not None:
                breaker.record(True)
            return result

    @staticmethod
    async def _attempt(
        fn: Callable[[Attempt], Awaitable[T]], attempt: Attempt, provider: str, deadline: Deadline
    ) -> T:
        try:
            async with asyncio.timeout(attempt.timeout_s):
                return await fn(attempt)
        except TimeoutError:
            raise ProviderTimeout(
                provider,
                f"attempt {attempt.number} did not finish within {attempt.timeout_s:.3g}s (the "
                f"per-attempt timeout or what was left of the {deadline.total_s:g}s deadline)",
            ) from None

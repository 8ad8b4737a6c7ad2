"""How the eval runner calls a provider: rate limit, retries with backoff and jitter.

Transient failures are retried: timeouts, connection errors, HTTP 429 and 5xx. Anything else
(4xx, a malformed answer, a missing API key) is the variant's real answer to the case and is
recorded as such: retrying would only hide it.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field

from runwell.errors import ConfigError, ProviderError
from runwell.providers.base import ChatRequest, ChatResult, Provider

__all__ = ["RateLimiter", "RetryPolicy", "call_with_retry", "is_transient"]

_TRANSIENT = re.compile(r"^(timeout|connect_error|upstream_disconnected|upstream_http_(429|5\d\d))$")


def is_transient(exc: ProviderError) -> bool:
    """Whether ``exc`` is worth another try (timeout, connection error, 429, 5xx)."""
    return bool(_TRANSIENT.match(exc.error_class))


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``attempts`` calls; before retry ``n`` (1-based) wait a random time between half and
    all of ``min(max_delay_s, base_delay_s * 2 ** (n - 1))`` ("equal jitter": never zero, never
    in lockstep with the other workers)."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"retry attempts must be at least 1, got {self.attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ConfigError("retry delays must satisfy 0 <= base_delay_s <= max_delay_s")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        cap = min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry - 1))
        return cap / 2 + self.rng.uniform(0.0, cap / 2)


class RateLimiter:
    """At most ``per_second`` call starts per second, spaced evenly (no bursts)."""

    def __init__(self, per_second: float | None) -> None:
        if per_second is not None and per_second <= 0:
            raise ConfigError(f"--rate must be a positive number of calls per second, got {per_second}")
        self._interval = 0.0 if per_second is None else 1.0 / per_second
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the next call may start."""
        if not self._interval:
            return
        now = time.monotonic()
        # Claim a slot before sleeping, so concurrent waiters line up instead of colliding.
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


async def call_with_retry(
    provider: Provider,
    request: ChatRequest,
    *,
    timeout: float,
    policy: RetryPolicy,
    limiter: RateLimiter | None = None,
) -> tuple[ChatResult, float, int]:
    """``(result, latency_ms of the answering call, attempts used)``; raises the last error."""
    for attempt in range(1, policy.attempts + 1):
        if limiter is not None:
            await limiter.wait()
        started = time.perf_counter()
        try:
            result = await provider.complete(request, timeout=timeout)
        except ProviderError as exc:
            if attempt == policy.attempts or not is_transient(exc):
                raise
            await asyncio.sleep(policy.delay(attempt))
            continue
        return result, (time.perf_counter() - started) * 1000.0, attempt
    raise AssertionError("unreachable: the last attempt returns or raises")

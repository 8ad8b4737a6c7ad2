"""runwell.resilience: how the gateway calls an upstream that may fail.

- :mod:`runwell.resilience.breaker`: a failure-rate circuit breaker per (provider, model).
- :class:`BreakerRegistry`: every breaker of a process, shared across replicas through Redis.
- :mod:`runwell.resilience.retry`: retries with full jitter inside one deadline per call.

A provider call through all three::

    breaker = registry.get(variant.provider.name, variant.model)
    result = await retrier.call(
        lambda attempt: provider.complete(request, timeout=attempt.timeout_s),
        provider=variant.provider.name,
        deadline=retrier.deadline(feature.request_timeout_s),
        attempt_timeout_s=per_attempt_s,
        breaker=breaker,
    )

and a background job runs ``await registry.sync()`` every 0.5 s.
"""

from __future__ import annotations

from runwell.resilience._registry import BreakerRegistry
from runwell.resilience.breaker import (
    BreakerSettings,
    BreakerSnapshot,
    BreakerState,
    CircuitBreaker,
    Transition,
    counts_as_failure,
)
from runwell.resilience.retry import Attempt, Deadline, Retrier, RetryPolicy, is_retryable, retry_after

__all__ = [
    "Attempt",
    "BreakerRegistry",
    "BreakerSettings",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "Deadline",
    "Retrier",
    "RetryPolicy",
    "Transition",
    "counts_as_failure",
    "is_retryable",
    "retry_after",
]

"""The eval runner: call a variant on (case, repeat) pairs, score each answer, hand it on.

What is evaluated is what serves: the runner renders the case through the variant's own prompt
template and calls the variant's provider exactly as the gateway does (same adapter, same
parameters, same request timeout). A pool of ``concurrency`` workers takes pairs in order, so at
most that many calls are in flight; an optional :class:`RateLimiter` spaces call starts.

A case's input is its ``messages`` (a plain ``input`` string is one user message), filled in by
the template with the case's ``variables``. A ``variables``-only case sends one empty user
message for the template's ``user:`` part to replace.

Several scorers per case combine into one score per repeat: the **mean** of their scores, and
**passed** when every scorer that gives a verdict passed (``None`` when none gives one; the
comparison then reads ``score >= 0.5`` as passing). Each scorer's own score is kept beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runwell.catalog import PriceLookup, VariantRuntime
from runwell.errors import ConfigError, ProviderError, RequestError
from runwell.evals._retry import RateLimiter, RetryPolicy, call_with_retry
from runwell.evals.dataset import Case
from runwell.evals.runstore import CaseRepeat
from runwell.evals.scorers import Scorer
from runwell.providers.base import ChatRequest

__all__ = ["RunSettings", "Runner", "Target", "case_input", "combine_scores"]


@dataclass(frozen=True)
class RunSettings:
    """How hard to push the provider, and how often to ask each case."""

    repeat: int = 1
    concurrency: int = 8
    rate_per_s: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    params: Mapping[str, Any] = field(default_factory=dict)
    """Overrides of the variant's generation parameters (e.g. a small ``max_tokens`` for a demo)."""

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise ConfigError(f"--repeat must be at least 1, got {self.repeat}")
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, got {self.concurrency}")


@dataclass(frozen=True)
class Target:
    """The variant under evaluation, with its feature's request timeout and price table."""

    variant: VariantRuntime
    timeout_s: float
    prices: PriceLookup


def case_input(case: Case) -> tuple[list[dict[str, Any]], Mapping[str, Any]]:
    """The client messages and template variables a case stands for."""
    messages = case.messages if case.messages is not None else [{"role": "user", "content": ""}]
    return [dict(m) for m in messages], case.variables or {}


async def combine_scores(
    scorers: Sequence[Scorer], case: Case, output: str
) -> tuple[float, bool | None, list[dict[str, Any]]]:
    """``(mean score, combined verdict, per-scorer scores)`` of ``output`` (see the module doc)."""
    scores = [await scorer.score(case, output) for scorer in scorers]
    verdicts = [s.passed for s in scores if s.passed is not None]
    each = [
        {"name": scorer.name, "value": s.value, "passed": s.passed, "detail": s.detail}
        for scorer, s in zip(scorers, scores, strict=True)
    ]
    return sum(s.value for s in scores) / len(scores), (all(verdicts) if verdicts else None), each


class Runner:
    """Evaluates pairs with bounded concurrency and hands each result to ``on_result``."""

    def __init__(
        self,
        target: Target,
        scorers: Sequence[Scorer],
        settings: RunSettings,
        on_result: Callable[[CaseRepeat], None],
        *,
        case_tags: Callable[[Case], tuple[str, ...]] | None = None,
    ) -> None:
        if not scorers:
            raise ConfigError("an eval run needs at least one scorer")
        self._target, self._scorers, self._settings = target, list(scorers), settings
        self._on_result = on_result
        # The tags stored with each result: the case's own, plus declared group tags (evals.slices).
        self._tags = case_tags or (lambda case: tuple(case.tags))
        self._limiter = RateLimiter(settings.rate_per_s)

    async def run(self, pairs: Sequence[tuple[Case, int]]) -> None:
        """Evaluate every pair; a scorer's configuration error stops the whole run."""
        todo = deque(pairs)
        workers = min(self._settings.concurrency, len(todo))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(self._work(todo))
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None

    async def _work(self, todo: deque[tuple[Case, int]]) -> None:
        while todo:
            case, repeat = todo.popleft()
            self._on_result(await self.evaluate(case, repeat))

    async def evaluate(self, case: Case, repeat: int) -> CaseRepeat:
        """Call the variant on one case and score the answer; failures become the result's error."""
        variant, tags = self._target.variant, self._tags(case)
        messages, variables = case_input(case)
        try:
            rendered = variant.render(messages, variables)
        except RequestError as exc:
            return CaseRepeat(case.id, repeat, tags, error=f"prompt template: {exc}", created_at=time.time())
        request = ChatRequest(
            variant.model, messages=rendered, params={**variant.params, **self._settings.params}
        )
        try:
            result, latency_ms, _attempts = await call_with_retry(
                variant.provider,
                request,
                timeout=self._target.timeout_s,
                policy=self._settings.retry,
                limiter=self._limiter,
            )
        except ProviderError as exc:
            return CaseRepeat(
                case.id, repeat, tags, error=f"{exc.error_class}: {exc}", created_at=time.time()
            )
        usage = result.usage
        cost = self._target.prices.cost(
            variant.model, usage.input_tokens, usage.output_tokens, usage.cached_tokens
        )
        output = result.content or ""
        base = CaseRepeat(
            case.id,
            repeat,
            tags,
            output,
            latency_ms=latency_ms,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=cost,
            created_at=time.time(),
        )
        try:
            score, passed, each = await combine_scores(self._scorers, case, output)
        except ProviderError as exc:  # an LLM judge or an embeddings endpoint failed
            return replace(base, error=f"scorer call failed: {exc.error_class}: {exc}")
        return replace(base, score=score, passed=passed, scores=each)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error of a task group (not the cancellations it caused)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]

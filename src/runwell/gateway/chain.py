"""The variants a request may be answered by, tried in order: retries, breakers, validation, fallbacks.

For each candidate (the chosen variant, then the spec's ``fallbacks.chain``):

1. its circuit breaker (per provider and model) may refuse it at once (``breaker_open``);
2. the provider call runs under the retry policy (only safe failures are retried, honouring
   ``Retry-After``) and the request's total deadline;
3. a whole answer is checked by the output guardrails; one that fails is retried with the variant's
   ``fallback_prompt`` (the semantic fallback, up to ``fallbacks.semantic_retries`` times), then the
   next candidate is tried (``invalid_output``).

A failure moves to the next candidate only when ``fallbacks.on`` lists its kind (``error``,
``timeout``, ``breaker_open``, ``invalid_output``). Every try is noted on the request context
(``attempts``) for the record. When every candidate failed, :class:`ChainFailed` carries the last
error for the degradation (or the error answer).

Streams: the first chunk is read before the client gets a status line, so a candidate that fails
before producing anything is replaced by the next one; once text has reached the client it cannot be
taken back, and a later failure ends the stream with an error event. A feature whose output
guardrails must pass before anything is sent (``validates_output``) has its streams answered
validation-first: the whole answer is produced and checked, then streamed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from runwell.catalog import FeatureRuntime, VariantRuntime
from runwell.control.levers import Levers
from runwell.errors import ProviderError, ProviderTimeout
from runwell.gateway.context import RequestContext
from runwell.gateway.guard import FeatureGuard, OutputGuarded
from runwell.gateway.protocol import ChatBody
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult
from runwell.resilience import Attempt, BreakerRegistry, Deadline, Retrier
from runwell.spec.protection import Fallbacks

__all__ = [
    "ChainFailed",
    "OpenStream",
    "Requests",
    "VariantChain",
    "build_request",
    "candidate_requests",
    "failure_kind",
]

_TOKEN_LIMITS = ("max_tokens", "max_completion_tokens")
Requests = list[tuple[VariantRuntime, ChatRequest, ChatRequest | None]]
"""Per candidate variant: the request to send, and its semantic-fallback request (if any)."""


def build_request(
    variant: VariantRuntime,
    body: ChatBody,
    user: str | None,
    messages: list[dict[str, Any]] | None = None,
    *,
    fallback: bool = False,
) -> ChatRequest:
    """What the provider receives: the variant's template applied, parameters merged.

    The client's parameters win over the variant's. ``max_tokens`` and ``max_completion_tokens``
    are one knob under two names: when the client sets either, the variant's value under the
    other name is dropped, so the upstream never sees two different limits. ``messages`` replaces
    the client's (after PII redaction); ``fallback`` uses the variant's ``fallback_prompt``.
    """
    params = dict(variant.params)
    if any(name in body.params for name in _TOKEN_LIMITS):
        for name in _TOKEN_LIMITS:
            params.pop(name, None)
    params.update(body.params)
    render = variant.fallback_render if fallback and variant.fallback_render is not None else variant.render
    return ChatRequest(
        model=variant.model,
        messages=render(body.messages if messages is None else messages, body.variables),
        params=params,
        user=user,
    )


def candidate_requests(
    ctx: RequestContext, candidates: Sequence[VariantRuntime], messages: list[dict[str, Any]]
) -> Requests:
    """The requests of each candidate, built from the (redacted) ``messages``."""
    body = ctx.body
    assert body is not None
    out: Requests = []
    for v in candidates:
        main = (
            ctx.request
            if v is ctx.variant and ctx.request is not None
            else build_request(v, body, ctx.user, messages)
        )
        fallback = build_request(v, body, ctx.user, messages, fallback=True) if v.fallback_render else None
        out.append((v, main, fallback))
    return out


class ChainFailed(Exception):
    """No candidate variant could answer; ``last`` is the final failure."""

    def __init__(self, last: ProviderError, kind: str) -> None:
        super().__init__(str(last))
        self.last = last
        self.kind = kind


@dataclass(slots=True)
class OpenStream:
    """A stream whose first chunk arrived: the client can be told 200."""

    variant: VariantRuntime
    first: ChatChunk
    rest: AsyncIterator[ChatChunk]


def failure_kind(exc: ProviderError) -> str:
    """``timeout``, ``breaker_open``, ``invalid_output`` or ``error``: what ``fallbacks.on`` names."""
    if isinstance(exc, ProviderTimeout) or exc.error_class == "timeout":
        return "timeout"
    if exc.error_class == "circuit_open":
        return "breaker_open"
    if exc.error_class == "invalid_output":
        return "invalid_output"
    return "error"


class VariantChain:
    """Tries a feature's candidate variants for one request; see the module docstring."""

    def __init__(
        self,
        feature: FeatureRuntime,
        fallbacks: Fallbacks,
        guard: FeatureGuard,
        retrier: Retrier,
        breakers: BreakerRegistry,
        *,
        deadline_s: float,
    ) -> None:
        self.feature = feature
        self.fallbacks = fallbacks
        self.guard = guard
        self.retrier = retrier
        self.breakers = breakers
        self.deadline_s = deadline_s
        self._triggers = frozenset(fallbacks.on)

    def candidates(self, first: VariantRuntime, levers: Levers | None = None) -> list[VariantRuntime]:
        """The chosen variant, then the fallback chain (each once), without the killed variants."""
        out = [first]
        for name in self.fallbacks.chain:
            variant = self.feature.variants.get(name)
            if variant is not None and variant.name not in {v.name for v in out}:
                out.append(variant)
        if levers is not None and levers.killed:
            out = [v for v in out if not levers.is_killed(self.feature.name, v.name)]
        return out

    def _note(
        self, ctx: RequestContext, variant: VariantRuntime, outcome: str, t0: float, **extra: Any
    ) -> None:
        ctx.attempts.append(
            {
                "variant": variant.name,
                "provider": variant.provider.name,
                "model": variant.model,
                "outcome": outcome,
                "ms": round((time.perf_counter() - t0) * 1000.0, 2),
                **extra,
            }
        )

    def _moves_on(self, exc: ProviderError, is_last: bool) -> bool:
        return not is_last and failure_kind(exc) in self._triggers

    async def _call(self, variant: VariantRuntime, request: ChatRequest, deadline: Deadline) -> ChatResult:
        breaker = self.breakers.get(variant.provider.name, variant.model)

        async def attempt(a: Attempt) -> ChatResult:
            return await variant.provider.complete(request, timeout=a.timeout_s)

        return await self.retrier.call(
            attempt,
            provider=variant.provider.name,
            deadline=deadline,
            attempt_timeout_s=self.feature.request_timeout_s,
            breaker=breaker,
            # A provider whose complete() bounds itself needs no second timer per request.
            guard_timeout=not getattr(variant.provider, "bounds_complete_timeout", False),
        )

    async def whole(
        self, ctx: RequestContext, requests: Requests
    ) -> tuple[VariantRuntime, ChatRequest, ChatResult, OutputGuarded | None]:
        """The first acceptable answer: ``(variant, request sent, result, output verdict)``.

        ``requests`` holds, per candidate, the request to send and the semantic-fallback request
        (its ``fallback_prompt``), if it has one. Raises :class:`ChainFailed`.
        """
        deadline = self.retrier.deadline(self.deadline_s)
        last: ProviderError | None = None
        for position, (variant, request, fallback_request) in enumerate(requests):
            is_last = position == len(requests) - 1
            tries = [request]
            if fallback_request is not None:
                tries += [fallback_request] * self.fallbacks.semantic_retries
            for number, sent in enumerate(tries):
                t0 = time.perf_counter()
                try:
                    result = await self._call(variant, sent, deadline)
                except ProviderError as exc:
                    self._note(ctx, variant, failure_kind(exc), t0, error_class=exc.error_class)
                    last = exc
                    break  # a provider failure is not fixed by another prompt: next candidate
                verdict = self._check(ctx, result)
                if verdict is None or verdict.ok:
                    self._note(ctx, variant, "ok", t0, prompt="fallback" if number else "main")
                    return variant, sent, result, verdict
                self._note(
                    ctx,
                    variant,
                    "invalid_output",
                    t0,
                    reasons=verdict.reasons,
                    input_tokens=result.usage.input_tokens,
                    output_tokens=result.usage.output_tokens,
                )
                last = ProviderError(
                    variant.provider.name,
                    "the answer failed the output guardrails: " + "; ".join(verdict.reasons),
                    error_class="invalid_output",
                )
            assert last is not None
            if not self._moves_on(last, is_last):
                raise ChainFailed(last, failure_kind(last))
        assert last is not None
        raise ChainFailed(last, failure_kind(last))

    def _check(self, ctx: RequestContext, result: ChatResult) -> OutputGuarded | None:
        if not self.guard.checks_output:
            return None
        return self.guard.check_output(result.content, ctx.levers, ctx.started_at)

    async def stream(self, ctx: RequestContext, requests: Requests) -> OpenStream:
        """Open the first candidate whose stream produces a chunk. Raises :class:`ChainFailed`."""
        deadline = self.retrier.deadline(self.deadline_s)
        last: ProviderError | None = None
        for position, (variant, request, _fallback) in enumerate(requests):
            is_last = position == len(requests) - 1
            t0 = time.perf_counter()
            breaker = self.breakers.get(variant.provider.name, variant.model)

            async def attempt(
                a: Attempt, variant: VariantRuntime = variant, request: ChatRequest = request
            ) -> OpenStream:
                chunks = variant.provider.stream(request, timeout=a.timeout_s)
                try:
                    first = await anext(chunks)
                except StopAsyncIteration:
                    await chunks.aclose()  # type: ignore[attr-defined]
                    raise ProviderError(
                        variant.provider.name, "stream ended before any output", error_class="stream_cut"
                    ) from None
                except BaseException:
                    await chunks.aclose()  # type: ignore[attr-defined]
                    raise
                return OpenStream(variant, first, chunks)

            try:
                opened = await self.retrier.call(
                    attempt,
                    provider=variant.provider.name,
                    deadline=deadline,
                    attempt_timeout_s=self.feature.request_timeout_s,
                    breaker=breaker,
                )
            except ProviderError as exc:
                self._note(ctx, variant, failure_kind(exc), t0, error_class=exc.error_class)
                last = exc
                if not self._moves_on(exc, is_last):
                    raise ChainFailed(exc, failure_kind(exc)) from None
                continue
            self._note(ctx, variant, "ok", t0, prompt="main")
            return opened
        assert last is not None
        raise ChainFailed(last, failure_kind(last))

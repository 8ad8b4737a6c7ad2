"""One request's journey through the gateway, carried by one object.

A :class:`RequestContext` is created when a chat request arrives and travels through every stage
(authentication, parsing, routing, guardrails, the provider call, the audit entry, the record).
Each stage reads what it needs from it and writes what it learnt into it; at the end the context
becomes the request's :class:`~runwell.telemetry.record.RequestRecord` and, for a model decision,
its audit :class:`~runwell.audit.decision.Decision`. Nothing is passed through long parameter
lists, and every sink sees the same facts (one user id, one outcome).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from runwell.audit.decision import Decision
from runwell.audit.entries import Outcome
from runwell.catalog import FeatureRuntime, VariantRuntime
from runwell.control.levers import Levers
from runwell.gateway.asgi import Scope, header
from runwell.gateway.protocol import ChatBody
from runwell.providers.base import ChatRequest, Usage
from runwell.telemetry.record import RequestRecord

__all__ = ["Ids", "RequestContext", "new_trace_id"]

_HEX = frozenset(b"0123456789abcdef")


class Ids:
    """Fresh request and trace ids: 96 and 128 random bits as lower-case hex.

    One pseudo-random generator per gateway, seeded from the operating system, instead of a
    ``getrandom`` system call per id on the request path. The ids must be unique and spread, not
    secret: nothing is authorised by knowing one.
    """

    __slots__ = ("_random",)

    def __init__(self, seed: bytes | None = None) -> None:
        self._random = random.Random(seed if seed is not None else os.urandom(32))

    def pair(self) -> tuple[str, str]:
        """``(request id, trace id)``."""
        text = f"{self._random.getrandbits(224):056x}"
        return text[:24], text[24:]


def new_trace_id(traceparent: bytes | None, fresh: str | None = None) -> tuple[str, str | None]:
    """``(trace id, parent span id)`` from a W3C ``traceparent`` header, else ``fresh`` (or a new id)."""
    if traceparent is not None and len(traceparent) == 55:
        trace, span = traceparent[3:35], traceparent[36:52]
        if (
            traceparent[2:3] == b"-"
            and traceparent[35:36] == b"-"
            and _HEX.issuperset(trace)
            and _HEX.issuperset(span)
            and trace != b"0" * 32
            and span != b"0" * 16
        ):
            return trace.decode(), span.decode()
    return fresh or os.urandom(16).hex(), None


@dataclass(slots=True, eq=False)
class RequestContext:
    """Everything known about one chat request so far; see the module docstring."""

    request_id: str
    trace_id: str
    parent_span_id: str | None
    started_at: float
    t0: float
    """``time.perf_counter()`` at arrival, for latencies."""
    key_id: str | None = None
    user: str | None = None
    """The end user's id as every sink stores it (a keyed pseudonym when the feature hashes ids)."""
    body: ChatBody | None = None
    feature: FeatureRuntime | None = None
    variant: VariantRuntime | None = None
    """The variant that answered, or the last one tried."""
    request: ChatRequest | None = None
    """What the provider received: the prompt after the template, and the merged parameters."""
    redacted: list[dict[str, Any]] | None = None
    """The client's messages after the input guardrails (PII replaced by placeholders)."""
    # -- the outcome ----------------------------------------------------------------------------
    status: str = "error"
    http_status: int = 500
    error_class: str | None = None
    error_message: str | None = None
    outcome: Outcome = "error"
    usage: Usage = field(default_factory=Usage)
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    response_model: str | None = None
    ttft_ms: float | None = None
    guardrails: dict[str, str] = field(default_factory=dict)
    """What each guardrail did (``passed``, ``redacted``, ``blocked``...): the audit entry's map."""
    guardrail_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    served_by: str | None = None
    levers: Levers = field(default_factory=Levers)
    """The operator's levers as they were when the request arrived."""
    note: str | None = None
    arm: str | None = None
    """The rollout arm that served the request (``baseline`` or ``candidate``), during a rollout."""
    shadow_of: str | None = None
    """For a shadow call: the request it copied."""
    response_started: bool = False
    """The response's status line went out: errors can no longer change it."""

    @classmethod
    def begin(cls, scope: Scope, ids: Ids, levers: Levers | None = None) -> RequestContext:
        """A context for a request that just arrived, under the levers as they are now."""
        request_id, fresh_trace = ids.pair()
        trace_id, parent = new_trace_id(header(scope, b"traceparent"), fresh_trace)
        if levers is None:
            levers = Levers()
        return cls(
            request_id=request_id,
            trace_id=trace_id,
            parent_span_id=parent,
            started_at=time.time(),
            t0=time.perf_counter(),
            levers=levers,
        )

    @property
    def stream(self) -> bool:
        """Whether the client asked for a stream."""
        return bool(self.body and self.body.stream)

    def fail(self, http_status: int, error_class: str, message: str) -> None:
        """The request ends in an error (what the client is told is sent separately)."""
        self.status, self.http_status = "error", http_status
        self.error_class, self.error_message = error_class, message

    def served(self, outcome: Outcome = "served") -> None:
        """The request ended with a 200 answer."""
        self.status, self.http_status, self.outcome = "ok", 200, outcome

    def decision(self, outcome: Outcome, http_status: int) -> Decision:
        """This request's audit decision (it must have reached a variant)."""
        feature, variant, request = self.feature, self.variant, self.request
        assert feature is not None and variant is not None and request is not None
        return Decision(
            request_id=self.request_id,
            started_at=self.started_at,
            feature=feature.name,
            variant=variant.name,
            provider=variant.provider.name,
            model=variant.model,
            spec_version=feature.spec_version,
            prompt_version=variant.prompt_version,
            outcome=outcome,
            http_status=http_status,
            prompt=request.messages,
            completion=self.content,
            tool_calls=self.tool_calls,
            user=self.user,
            guardrails=self.guardrails,
            flags=self.flags,
        )

    def _guardrails_record(self) -> dict[str, Any] | None:
        if not self.guardrails:
            return None
        return {
            name: {"status": status, **self.guardrail_details.get(name, {})}
            for name, status in self.guardrails.items()
        }

    def record(self) -> RequestRecord:
        """The request record: what every sink (store, metrics, spans) receives."""
        feature, variant, usage = self.feature, self.variant, self.usage
        cost = None
        if feature is not None and variant is not None and self.http_status == 200:
            cost = feature.prices.cost(
                variant.model, usage.input_tokens, usage.output_tokens, usage.cached_tokens
            )
            for attempt in self.attempts:
                if cost is not None and "output_tokens" in attempt:  # failed validation, paid for too
                    extra = feature.prices.cost(
                        attempt["model"], attempt.get("input_tokens"), attempt.get("output_tokens")
                    )
                    cost += extra or 0.0
        capture = feature is not None and feature.capture_content
        return RequestRecord(
            request_id=self.request_id,
            trace_id=self.trace_id,
            parent_span_id=self.parent_span_id,
            started_at=self.started_at,
            feature=feature.name if feature else None,
            variant=variant.name if variant else None,
            provider=variant.provider.name if variant else None,
            provider_kind=variant.provider.kind if variant else None,
            model=variant.model if variant else None,
            spec_version=feature.spec_version if feature else None,
            prompt_version=variant.prompt_version if variant else None,
            user_id=self.user,
            api_key_id=self.key_id,
            status=self.status,
            http_status=self.http_status,
            error_class=self.error_class,
            error_message=self.error_message,
            stream=self.stream,
            latency_ms=(time.perf_counter() - self.t0) * 1000.0,
            ttft_ms=self.ttft_ms,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            cost_usd=cost,
            priced=cost is not None,
            finish_reason=self.finish_reason,
            response_model=self.response_model,
            prompt=self.request.messages if capture and self.request is not None else None,
            completion=self.content if capture else None,
            tool_calls=self.tool_calls if capture else None,
            note=self.note,
            outcome=self.outcome if feature is not None else None,
            served_by=self.served_by,
            guardrails=self._guardrails_record(),
            attempts=self.attempts or None,
            arm=self.arm,
            shadow_of=self.shadow_of,
        )

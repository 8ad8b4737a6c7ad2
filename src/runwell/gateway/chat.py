"""``POST /v1/chat/completions``: resolve the feature, apply its prompt, call its provider, record.

Every request that reaches this handler leaves exactly one :class:`RequestRecord`, whatever the
outcome: the record is built in a ``finally`` and handed to the recorder, which writes it off the
request path. A stream whose upstream breaks ends with an SSE ``error`` event and no ``[DONE]``,
so no client mistakes a cut-off answer for a finished one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from runwell.errors import ProviderError, RequestError
from runwell.gateway.asgi import ClientGone, Receive, Scope, Send, header, read_body, send_error
from runwell.gateway.audit import AuditTrail, AuditUnavailable
from runwell.gateway.auth import KeyCache
from runwell.gateway.protocol import ChatBody, parse_chat_body, parse_model_name
from runwell.gateway.runtime import Catalog, FeatureRuntime, VariantRuntime
from runwell.providers.base import ChatRequest, ChatResult, Usage
from runwell.telemetry.record import RequestRecord

__all__ = ["ChatHandler", "new_trace_id"]

_log = logging.getLogger("runwell.gateway")
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_HEX = frozenset(b"0123456789abcdef")


def _header_text(scope: Scope, name: bytes) -> str | None:
    raw = header(scope, name)
    return raw.decode("utf-8", "replace") if raw else None


def new_trace_id(traceparent: bytes | None) -> tuple[str, str | None]:
    """``(trace id, parent span id)`` from a W3C ``traceparent`` header, or a fresh trace id."""
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
    return os.urandom(16).hex(), None


@dataclass(slots=True)
class _Outcome:
    """What happened to one request; turned into a record at the end."""

    status: str = "error"
    http_status: int = 500
    error_class: str | None = None
    error_message: str | None = None
    usage: Usage = field(default_factory=Usage)
    content: str | None = None
    finish_reason: str | None = None
    response_model: str | None = None
    ttft_ms: float | None = None

    def fail(self, http_status: int, error_class: str, message: str) -> None:
        self.status, self.http_status = "error", http_status
        self.error_class, self.error_message = error_class, message


def _usage_json(usage: Usage) -> dict[str, Any] | None:
    if usage.input_tokens is None or usage.output_tokens is None:
        return None
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
    if usage.cached_tokens is not None:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    return out


class ChatHandler:
    """The chat-completions endpoint. Holds only references passed in at start-up."""

    def __init__(
        self,
        catalog: Catalog,
        keys: KeyCache,
        submit: Callable[[RequestRecord], None],
        *,
        audit: AuditTrail | None = None,
        max_body_bytes: int = 1 << 20,
    ) -> None:
        self._catalog = catalog
        self._keys = keys
        self._submit = submit
        self._audit_trail = audit
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started_at = time.time()
        t0 = time.perf_counter()
        request_id = os.urandom(12).hex()
        trace_id, parent_span_id = new_trace_id(header(scope, b"traceparent"))
        out = _Outcome()
        key_id: str | None = None
        feature: FeatureRuntime | None = None
        variant: VariantRuntime | None = None
        body: ChatBody | None = None
        prompt: list[dict[str, Any]] | None = None
        user: str | None = None
        try:
            key_id = self._keys.authenticate(header(scope, b"authorization"))
            body = parse_chat_body(await read_body(receive, self._max_body))
            user = body.user or _header_text(scope, b"x-runwell-user")
            feature_name, variant_name = parse_model_name(body.model)
            feature = self._catalog.feature(feature_name)
            variant = feature.variant(variant_name)
            prompt = variant.render(body.messages, body.variables)
            request = ChatRequest(
                model=variant.model,
                messages=prompt,
                params={**variant.params, **body.params},
                user=user,
            )
            headers = [
                (b"x-request-id", request_id.encode()),
                (b"x-runwell-feature", feature.name.encode()),
                (b"x-runwell-variant", variant.name.encode()),
            ]
            label = f"{feature.name}@{variant.name}"
            if body.stream:
                await self._stream(
                    send, feature, variant, request, body, request_id, label, headers, t0, started_at, out
                )
            else:
                await self._whole(
                    send, feature, variant, request, request_id, label, headers, started_at, out
                )
        except ClientGone:
            out.fail(499, "client_disconnected", "client closed the connection before sending the body")
        except RequestError as exc:
            out.fail(exc.status, exc.code or exc.type, exc.message)
            await send_error(
                send,
                exc.status,
                exc.message,
                type=exc.type,
                request_id=request_id,
                param=exc.param,
                code=exc.code,
            )
        except AuditUnavailable as exc:
            out.fail(503, "audit_unavailable", str(exc))
            await send_error(
                send, 503, str(exc), type="server_error", request_id=request_id, code="audit_unavailable"
            )
        except ProviderError as exc:
            out.fail(exc.status, exc.error_class, str(exc))
            await send_error(
                send, exc.status, str(exc), type="upstream_error", request_id=request_id, code=exc.error_class
            )
        except Exception as exc:  # a bug of ours: answer honestly, keep the record, log the trace
            _log.exception("internal error on request %s", request_id)
            out.fail(500, "internal_error", f"{type(exc).__name__}: {exc}")
            await send_error(
                send,
                500,
                f"internal error in runwell; quote request id {request_id}",
                type="server_error",
                request_id=request_id,
            )
        finally:
            self._record(
                request_id,
                trace_id,
                parent_span_id,
                started_at,
                t0,
                key_id,
                user,
                feature,
                variant,
                body,
                prompt,
                out,
            )

    async def _whole(
        self,
        send: Send,
        feature: FeatureRuntime,
        variant: VariantRuntime,
        request: ChatRequest,
        request_id: str,
        label: str,
        headers: list[tuple[bytes, bytes]],
        started_at: float,
        out: _Outcome,
    ) -> None:
        try:
            result: ChatResult = await variant.provider.complete(request, timeout=feature.request_timeout_s)
        except ProviderError as exc:
            await self._audit_failure(request_id, started_at, feature, variant, request, exc)
            raise
        out.usage, out.content = result.usage, result.content
        out.finish_reason, out.response_model = result.finish_reason, result.response_model
        message: dict[str, Any] = {"role": "assistant", "content": result.content}
        if result.tool_calls:
            message["tool_calls"] = result.tool_calls
        payload: dict[str, Any] = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": int(started_at),
            "model": label,
            "choices": [
                {"index": 0, "message": message, "finish_reason": result.finish_reason, "logprobs": None}
            ],
        }
        usage = _usage_json(result.usage)
        if usage is not None:
            payload["usage"] = usage
        body = orjson.dumps(payload)
        await self._audit(request_id, started_at, feature, variant, request, "served", 200, result.content)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        out.status, out.http_status = "ok", 200
        await send({"type": "http.response.body", "body": body})

    async def _stream(
        self,
        send: Send,
        feature: FeatureRuntime,
        variant: VariantRuntime,
        request: ChatRequest,
        body: ChatBody,
        request_id: str,
        label: str,
        headers: list[tuple[bytes, bytes]],
        t0: float,
        started_at: float,
        out: _Outcome,
    ) -> None:
        chunks = variant.provider.stream(request, timeout=feature.request_timeout_s)
        try:
            # Pull the first chunk before committing to a 200: an upstream that fails at once
            # gets a proper 502/504 JSON error instead of a half-open event stream.
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                cut = ProviderError(
                    variant.provider.name, "stream ended before any output", error_class="stream_cut"
                )
                await self._audit_failure(request_id, started_at, feature, variant, request, cut)
                raise cut from None
            except ProviderError as exc:
                await self._audit_failure(request_id, started_at, feature, variant, request, exc)
                raise
            await send({"type": "http.response.start", "status": 200, "headers": [*_SSE_HEADERS, *headers]})
            out.http_status = 200
            base = {
                "id": f"chatcmpl-{request_id}",
                "object": "chat.completion.chunk",
                "created": int(started_at),
                "model": label,
            }
            await self._event(
                send,
                {
                    **base,
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                    ],
                },
            )
            parts: list[str] = []
            chunk = first
            while True:
                if chunk.usage is not None:
                    out.usage = chunk.usage
                if chunk.response_model:
                    out.response_model = chunk.response_model
                if chunk.content:
                    if out.ttft_ms is None:
                        out.ttft_ms = (time.perf_counter() - t0) * 1000.0
                    parts.append(chunk.content)
                    await self._event(
                        send,
                        {
                            **base,
                            "choices": [
                                {"index": 0, "delta": {"content": chunk.content}, "finish_reason": None}
                            ],
                        },
                    )
                if chunk.finish_reason is not None:
                    out.finish_reason = chunk.finish_reason
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except ProviderError as exc:
                    out.content = "".join(parts)
                    await self._audit_failure(
                        request_id, started_at, feature, variant, request, exc, out.content
                    )
                    await self._end_with_error(send, exc, request_id, out)
                    return
            out.content = "".join(parts)
            if out.finish_reason is None:
                cut = ProviderError(
                    variant.provider.name, "stream ended without a finish reason", error_class="stream_cut"
                )
                await self._audit_failure(request_id, started_at, feature, variant, request, cut, out.content)
                await self._end_with_error(send, cut, request_id, out)
                return
            try:
                await self._audit(
                    request_id, started_at, feature, variant, request, "served", 200, out.content
                )
            except AuditUnavailable as exc:
                await self._end_with_error(
                    send, ProviderError("audit", str(exc), error_class="audit_unavailable"), request_id, out
                )
                return
            usage = _usage_json(out.usage)
            final: dict[str, Any] = {
                **base,
                "choices": [{"index": 0, "delta": {}, "finish_reason": out.finish_reason}],
            }
            if usage is not None:
                final["usage"] = usage
            await self._event(send, final)
            if body.include_usage and usage is not None:
                await self._event(send, {**base, "choices": [], "usage": usage})
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
            out.status = "ok"
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def _audit(
        self,
        request_id: str,
        started_at: float,
        feature: FeatureRuntime,
        variant: VariantRuntime,
        request: ChatRequest,
        outcome: str,
        http_status: int,
        completion: str | None,
    ) -> None:
        """Make the decision durable in the audit log before the client gets the last byte."""
        if self._audit_trail is None:
            return
        await self._audit_trail.decision(
            request_id=request_id,
            started_at=started_at,
            feature=feature.name,
            variant=variant.name,
            provider=variant.provider.name,
            model=variant.model,
            spec_version=feature.spec_version,
            prompt_version=variant.prompt_version,
            user=request.user,
            hash_user=feature.hash_user_ids,
            guardrails=feature.guardrail_states,
            outcome=outcome,
            http_status=http_status,
            prompt=request.messages,
            completion=completion,
        )

    async def _audit_failure(
        self,
        request_id: str,
        started_at: float,
        feature: FeatureRuntime,
        variant: VariantRuntime,
        request: ChatRequest,
        exc: ProviderError,
        partial: str | None = None,
    ) -> None:
        """Audit a model call that failed; the client still gets the upstream error."""
        # Already logged; the client is told about the upstream failure either way.
        with contextlib.suppress(AuditUnavailable):
            await self._audit(
                request_id,
                started_at,
                feature,
                variant,
                request,
                "error",
                exc.status if partial is None else 200,
                partial,
            )

    @staticmethod
    async def _end_with_error(send: Send, exc: ProviderError, request_id: str, out: _Outcome) -> None:
        """End a started stream with an error event and no ``[DONE]``: never a clean finish."""
        out.fail(200, exc.error_class, str(exc))
        err = {
            "error": {
                "message": f"{exc} (the answer above is incomplete)",
                "type": "upstream_error",
                "code": exc.error_class,
                "request_id": request_id,
            }
        }
        await send(
            {
                "type": "http.response.body",
                "body": b"data: " + orjson.dumps(err) + b"\n\n",
                "more_body": False,
            }
        )

    @staticmethod
    async def _event(send: Send, payload: dict[str, Any]) -> None:
        await send(
            {
                "type": "http.response.body",
                "body": b"data: " + orjson.dumps(payload) + b"\n\n",
                "more_body": True,
            }
        )

    def _record(
        self,
        request_id: str,
        trace_id: str,
        parent_span_id: str | None,
        started_at: float,
        t0: float,
        key_id: str | None,
        user: str | None,
        feature: FeatureRuntime | None,
        variant: VariantRuntime | None,
        body: ChatBody | None,
        prompt: list[dict[str, Any]] | None,
        out: _Outcome,
    ) -> None:
        latency_ms = (time.perf_counter() - t0) * 1000.0
        usage = out.usage
        cost = None
        if feature is not None and variant is not None and out.http_status == 200:
            cost = feature.prices.cost(
                variant.model, usage.input_tokens, usage.output_tokens, usage.cached_tokens
            )
        capture = feature is not None and feature.capture_content
        self._submit(
            RequestRecord(
                request_id=request_id,
                trace_id=trace_id,
                parent_span_id=parent_span_id,
                started_at=started_at,
                feature=feature.name if feature else None,
                variant=variant.name if variant else None,
                provider=variant.provider.name if variant else None,
                provider_kind=variant.provider.kind if variant else None,
                model=variant.model if variant else None,
                spec_version=feature.spec_version if feature else None,
                prompt_version=variant.prompt_version if variant else None,
                user_id=user,
                api_key_id=key_id,
                status=out.status,
                http_status=out.http_status,
                error_class=out.error_class,
                error_message=out.error_message,
                stream=bool(body and body.stream),
                latency_ms=latency_ms,
                ttft_ms=out.ttft_ms,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cached_tokens=usage.cached_tokens,
                cost_usd=cost,
                priced=cost is not None,
                finish_reason=out.finish_reason,
                response_model=out.response_model,
                prompt=prompt if capture else None,
                completion=out.content if capture else None,
            )
        )

"""``POST /v1/chat/completions``: authenticate, parse, route, call the model, audit, answer, record.

Every request that reaches this handler leaves exactly one :class:`RequestRecord`, whatever the
outcome: its :class:`~runwell.gateway.context.RequestContext` becomes the record in a ``finally``
and the recorder writes it off the request path. Every answer that came from a model has a
durable audit entry before its last byte is sent. Errors become OpenAI-shaped error bodies; once
a stream has started, an error can only end it with an error event (never a second status line).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from runwell.audit.entries import Outcome, pseudonymize_user
from runwell.catalog import Catalog, VariantRuntime
from runwell.errors import ProviderError, RequestError
from runwell.gateway.asgi import (
    ClientGone,
    InflightBytes,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_error,
)
from runwell.gateway.audit import AuditTrail, AuditUnavailable
from runwell.gateway.auth import KeyCache
from runwell.gateway.context import RequestContext
from runwell.gateway.protocol import ChatBody, parse_chat_body, parse_model_name
from runwell.gateway.responses import SSE_HEADERS, SseWriter, whole_body
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult
from runwell.telemetry.record import RequestRecord

__all__ = ["ChatHandler", "build_request"]

_log = logging.getLogger("runwell.gateway")
_TOKEN_LIMITS = ("max_tokens", "max_completion_tokens")
_CLIENT_MISTAKES = frozenset({"unsupported_request", "invalid_request"})


def build_request(variant: VariantRuntime, body: ChatBody, user: str | None) -> ChatRequest:
    """What the provider receives: the variant's template applied, parameters merged.

    The client's parameters win over the variant's. ``max_tokens`` and ``max_completion_tokens``
    are one knob under two names: when the client sets either, the variant's value under the
    other name is dropped, so the upstream never sees two different limits.
    """
    params = dict(variant.params)
    if any(name in body.params for name in _TOKEN_LIMITS):
        for name in _TOKEN_LIMITS:
            params.pop(name, None)
    params.update(body.params)
    return ChatRequest(
        model=variant.model, messages=variant.render(body.messages, body.variables), params=params, user=user
    )


class ChatHandler:
    """The chat-completions endpoint. Holds only references passed in at start-up."""

    def __init__(
        self,
        catalog: Catalog,
        keys: KeyCache,
        submit: Callable[[RequestRecord], None],
        *,
        audit: AuditTrail | None = None,
        user_hash_key: bytes = b"",
        max_body_bytes: int = 1 << 20,
        body_timeout_s: float = 30.0,
        inflight: InflightBytes | None = None,
    ) -> None:
        self._catalog = catalog
        self._keys = keys
        self._submit = submit
        self._audit = audit
        self._user_hash_key = user_hash_key
        self._max_body = max_body_bytes
        self._body_timeout_s = body_timeout_s
        self._inflight = inflight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = RequestContext.begin(scope)
        try:
            # The key is checked before the body is read: a client without one is turned away
            # before it can make the gateway buffer anything.
            ctx.key_id = self._keys.authenticate(header(scope, b"authorization"))
            raw = await read_body(
                receive, self._max_body, timeout_s=self._body_timeout_s, inflight=self._inflight
            )
            body = ctx.body = parse_chat_body(raw)
            feature_name, variant_name = parse_model_name(body.model)
            feature = ctx.feature = self._catalog.feature(feature_name)
            variant = ctx.variant = feature.variant(variant_name)
            ctx.guardrails = dict(feature.guardrail_states)
            ctx.user = self._user_id(
                body.user or _header_text(scope, b"x-runwell-user"), feature.hash_user_ids
            )
            ctx.request = build_request(variant, body, ctx.user)
            if body.stream:
                await self._stream(ctx, send)
            else:
                await self._whole(ctx, send)
        except ClientGone:
            ctx.fail(499, "client_disconnected", "client closed the connection before sending the body")
        except RequestError as exc:
            ctx.fail(exc.status, exc.code or exc.type, exc.message)
            await self._error(
                ctx, send, exc.status, exc.message, type=exc.type, code=exc.code, param=exc.param
            )
        except AuditUnavailable as exc:
            ctx.fail(503, "audit_unavailable", str(exc))
            await self._error(ctx, send, 503, str(exc), type="server_error", code="audit_unavailable")
        except ProviderError as exc:
            if exc.error_class in _CLIENT_MISTAKES:
                # The provider refused the request as sent (tools to a model that has none,
                # malformed tool-call arguments): the client's to fix, not an upstream failure.
                ctx.fail(400, exc.error_class, exc.message)
                await self._error(
                    ctx, send, 400, exc.message, type="invalid_request_error", code=exc.error_class
                )
            else:
                ctx.fail(exc.status, exc.error_class, str(exc))
                await self._error(
                    ctx, send, exc.status, str(exc), type="upstream_error", code=exc.error_class
                )
        except Exception as exc:  # a bug of ours: answer honestly, keep the record, log the trace
            _log.exception("internal error on request %s", ctx.request_id)
            # The record keeps the status the client actually received.
            ctx.fail(200 if ctx.response_started else 500, "internal_error", f"{type(exc).__name__}: {exc}")
            message = f"internal error in runwell; quote request id {ctx.request_id}"
            with contextlib.suppress(Exception):  # the connection may be gone as well
                await self._error(ctx, send, 500, message, type="server_error", code="internal_error")
        finally:
            self._submit(ctx.record())

    def _user_id(self, user: str | None, hashed: bool) -> str | None:
        """The user id every sink stores: decided here, once (a keyed pseudonym when asked)."""
        if user is None or not hashed:
            return user
        return pseudonymize_user(user, self._user_hash_key)

    async def _error(
        self,
        ctx: RequestContext,
        send: Send,
        status: int,
        message: str,
        *,
        type: str,
        code: str | None,
        param: str | None = None,
    ) -> None:
        """Tell the client: an error body, or, once a stream is under way, an error event ending it."""
        if not ctx.response_started:
            ctx.response_started = True
            await send_error(
                send, status, message, type=type, request_id=ctx.request_id, param=param, code=code
            )
            return
        if ctx.stream:
            writer = SseWriter(send, request_id=ctx.request_id, created=0, model="", include_usage=False)
            await writer.error(message, type=type, code=code, request_id=ctx.request_id)
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _headers(self, ctx: RequestContext) -> list[tuple[bytes, bytes]]:
        assert ctx.feature is not None and ctx.variant is not None
        return [
            (b"x-request-id", ctx.request_id.encode()),
            (b"x-runwell-feature", ctx.feature.name.encode()),
            (b"x-runwell-variant", ctx.variant.name.encode()),
            (b"x-runwell-served-by", ctx.variant.name.encode()),
        ]

    async def _audit_decision(self, ctx: RequestContext, outcome: Outcome, http_status: int) -> None:
        """Make the decision durable before the client gets the last byte of the answer."""
        if self._audit is not None:
            await self._audit.record(ctx.decision(outcome, http_status))

    async def _audit_failure(self, ctx: RequestContext, exc: ProviderError, http_status: int) -> None:
        """Audit a model call that failed; the client is told about the failure either way."""
        with contextlib.suppress(AuditUnavailable):
            await self._audit_decision(ctx, "error", http_status)

    async def _whole(self, ctx: RequestContext, send: Send) -> None:
        feature, variant, request = ctx.feature, ctx.variant, ctx.request
        assert feature is not None and variant is not None and request is not None
        try:
            result: ChatResult = await variant.provider.complete(request, timeout=feature.request_timeout_s)
        except ProviderError as exc:
            await self._audit_failure(ctx, exc, exc.status)
            raise
        ctx.usage, ctx.content, ctx.tool_calls = result.usage, result.content, result.tool_calls
        ctx.finish_reason, ctx.response_model = result.finish_reason, result.response_model
        body = whole_body(
            request_id=ctx.request_id,
            created=int(ctx.started_at),
            model=f"{feature.name}@{variant.name}",
            content=result.content,
            finish_reason=result.finish_reason,
            usage=result.usage,
            tool_calls=result.tool_calls,
            logprobs=result.logprobs,
        )
        await self._audit_decision(ctx, "served", 200)
        ctx.response_started = True
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *self._headers(ctx),
                ],
            }
        )
        ctx.served()
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, ctx: RequestContext, send: Send) -> None:
        feature, variant, request, body = ctx.feature, ctx.variant, ctx.request, ctx.body
        assert feature is not None and variant is not None and request is not None and body is not None
        chunks: AsyncIterator[ChatChunk] = variant.provider.stream(request, timeout=feature.request_timeout_s)
        try:
            # Pull the first chunk before committing to a 200: an upstream that fails at once
            # gets a proper 502/504 JSON error instead of a half-open event stream.
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                cut = ProviderError(
                    variant.provider.name, "stream ended before any output", error_class="stream_cut"
                )
                await self._audit_failure(ctx, cut, cut.status)
                raise cut from None
            except ProviderError as exc:
                await self._audit_failure(ctx, exc, exc.status)
                raise
            writer = SseWriter(
                send,
                request_id=ctx.request_id,
                created=int(ctx.started_at),
                model=f"{feature.name}@{variant.name}",
                include_usage=body.include_usage,
            )
            ctx.response_started = True
            await send(
                {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *self._headers(ctx)]}
            )
            ctx.http_status = 200
            await writer.opening()
            try:
                await self._relay(ctx, writer, first, chunks)
            except ProviderError as exc:
                await self._audit_failure(ctx, exc, 200)
                ctx.fail(200, exc.error_class, str(exc))
                await writer.error(
                    f"{exc} (the answer above is incomplete)",
                    type="upstream_error",
                    code=exc.error_class,
                    request_id=ctx.request_id,
                )
                return
            try:
                await self._audit_decision(ctx, "served", 200)
            except AuditUnavailable as exc:
                ctx.fail(200, "audit_unavailable", str(exc))
                await writer.error(
                    str(exc), type="server_error", code="audit_unavailable", request_id=ctx.request_id
                )
                return
            assert ctx.finish_reason is not None
            await writer.finish(ctx.finish_reason, ctx.usage)
            ctx.served()
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def _relay(
        self, ctx: RequestContext, writer: SseWriter, first: ChatChunk, chunks: AsyncIterator[ChatChunk]
    ) -> None:
        """Forward every chunk; raise ProviderError if the upstream cut the stream."""
        variant = ctx.variant
        assert variant is not None
        parts: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        chunk: ChatChunk | None = first
        try:
            while chunk is not None:
                if chunk.usage is not None:
                    ctx.usage = chunk.usage
                if chunk.response_model:
                    ctx.response_model = chunk.response_model
                tool_deltas, logprobs = chunk.tool_calls, chunk.logprobs
                if chunk.content or tool_deltas:
                    if ctx.ttft_ms is None:
                        ctx.ttft_ms = (time.perf_counter() - ctx.t0) * 1000.0
                    if chunk.content:
                        parts.append(chunk.content)
                    if tool_deltas:
                        _merge_tool_deltas(calls, tool_deltas)
                    if tool_deltas or logprobs is not None:
                        await writer.delta(content=chunk.content, tool_calls=tool_deltas, logprobs=logprobs)
                    else:
                        await writer.content(chunk.content or "")
                if chunk.finish_reason is not None:
                    ctx.finish_reason = chunk.finish_reason
                chunk = await anext(chunks, None)
        finally:
            ctx.content = "".join(parts)
            ctx.tool_calls = [calls[i] for i in sorted(calls)] or None
        if ctx.finish_reason is None:
            raise ProviderError(
                variant.provider.name, "stream ended without a finish reason", error_class="stream_cut"
            )


def _merge_tool_deltas(calls: dict[int, dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    """Accumulate streamed tool-call pieces into whole calls (for the record and the audit)."""
    for delta in deltas:
        index = int(delta.get("index", 0))
        call = calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if delta.get("id"):
            call["id"] = delta["id"]
        function = delta.get("function") or {}
        if function.get("name"):
            call["function"]["name"] += function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] += function["arguments"]


def _header_text(scope: Scope, name: bytes) -> str | None:
    raw = header(scope, name)
    return raw.decode("utf-8", "replace") if raw else None

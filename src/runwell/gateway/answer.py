"""Sending a model's answer: a whole JSON body, a checked answer as SSE events, or a relayed stream.

These functions only write; what to send (and whether it may be sent) is decided by the pipeline
in :mod:`runwell.gateway.chat`. A relayed stream records what passed through it on the request
context (content, tool calls, usage, time to first token) so that the record and the audit entry
hold the answer the client saw, with PII placeholders kept in place of the restored values.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from runwell.errors import ProviderError
from runwell.gateway.asgi import Send, send_bytes
from runwell.gateway.context import RequestContext
from runwell.gateway.responses import SSE_HEADERS, SseWriter, whole_body
from runwell.guardrails import RedactionSession
from runwell.providers.base import ChatChunk, ChatResult

__all__ = ["merge_tool_deltas", "relay", "send_checked_stream", "send_whole", "stream_writer", "whole_answer"]

Headers = list[tuple[bytes, bytes]]


def stream_writer(send: Send, ctx: RequestContext, model: str) -> SseWriter:
    """The SSE writer of this request's answer."""
    return SseWriter(
        send,
        request_id=ctx.request_id,
        created=int(ctx.started_at),
        model=model,
        include_usage=bool(ctx.body and ctx.body.include_usage),
    )


async def send_whole(
    send: Send, ctx: RequestContext, model: str, headers: Headers, shown: str | None, result: ChatResult
) -> None:
    """A ``chat.completion`` body with ``shown`` as the message's content."""
    await send_bytes(send, 200, whole_answer(ctx, model, shown, result), headers)


def whole_answer(ctx: RequestContext, model: str, shown: str | None, result: ChatResult) -> bytes:
    """The body :func:`send_whole` sends (built apart so it can be built while the audit commits)."""
    return whole_body(
        request_id=ctx.request_id,
        created=int(ctx.started_at),
        model=model,
        content=shown,
        finish_reason=result.finish_reason,
        usage=result.usage,
        tool_calls=result.tool_calls,
        logprobs=result.logprobs,
    )


async def send_checked_stream(
    send: Send, ctx: RequestContext, model: str, headers: Headers, shown: str | None, result: ChatResult
) -> None:
    """A whole answer that passed the output guardrails, sent as the stream the client asked for."""
    writer = stream_writer(send, ctx, model)
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
    await writer.opening()
    if shown:
        await writer.content(shown)
    if result.tool_calls:
        await writer.delta(tool_calls=[{"index": i, **call} for i, call in enumerate(result.tool_calls)])
    await writer.finish(result.finish_reason or "stop", result.usage)


async def relay(
    ctx: RequestContext,
    writer: SseWriter,
    first: ChatChunk,
    chunks: AsyncIterator[ChatChunk],
    restore: RedactionSession | None,
) -> None:
    """Forward every chunk; raises ProviderError if the upstream cut the stream."""
    variant = ctx.variant
    assert variant is not None
    parts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    chunk: ChatChunk | None = first
    restorer = _StreamRestorer(restore) if restore is not None else None
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
                text = chunk.content
                if text:
                    parts.append(text)
                    if restorer is not None:
                        text = restorer.feed(text)
                if tool_deltas:
                    merge_tool_deltas(calls, tool_deltas)
                if tool_deltas or logprobs is not None:
                    await writer.delta(content=text, tool_calls=tool_deltas, logprobs=logprobs)
                elif text:
                    await writer.content(text)
            if chunk.finish_reason is not None:
                ctx.finish_reason = chunk.finish_reason
                if restorer is not None and restorer.pending:
                    await writer.content(restorer.flush())
            chunk = await anext(chunks, None)
    finally:
        ctx.content = "".join(parts)
        ctx.tool_calls = [calls[i] for i in sorted(calls)] or None
    if ctx.finish_reason is None:
        raise ProviderError(
            variant.provider.name, "stream ended without a finish reason", error_class="stream_cut"
        )


class _StreamRestorer:
    """Restores PII placeholders in a stream, holding back a possible placeholder cut in two."""

    __slots__ = ("_session", "pending")
    _LONGEST = 40  # longer than any placeholder: ``<`` further back than this starts none

    def __init__(self, session: RedactionSession) -> None:
        self._session = session
        self.pending = ""

    def feed(self, text: str) -> str:
        text = self.pending + text
        cut = text.rfind("<")
        if cut != -1 and ">" not in text[cut:] and len(text) - cut < self._LONGEST:
            text, self.pending = text[:cut], text[cut:]
        else:
            self.pending = ""
        return self._session.restore(text)

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return self._session.restore(text)


def merge_tool_deltas(calls: dict[int, dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
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

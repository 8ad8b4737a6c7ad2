"""The bytes of a chat-completions answer, whole or streamed, exactly as OpenAI shapes them.

Streams follow OpenAI to the letter, because clients sum what they receive: with
``stream_options.include_usage`` every chunk carries ``"usage": null`` except one last chunk whose
``choices`` is empty and whose ``usage`` holds the totals; without it no chunk carries ``usage``.
(Usage on two chunks made LangChain's ``ChatOpenAI(stream_usage=True)`` report twice the tokens.)
A stream that cannot finish ends with an error object and no ``data: [DONE]``, so no client
mistakes a cut-off answer for a finished one.

Content deltas are the hot path of a stream: their JSON is a fixed prefix and suffix around the
encoded text, built once per stream.
"""

from __future__ import annotations

from typing import Any

import orjson

from runwell.gateway.asgi import Send, error_body
from runwell.providers.base import Usage

__all__ = ["SSE_HEADERS", "SseWriter", "usage_json", "whole_body"]

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_DONE = b"data: [DONE]\n\n"


def usage_json(usage: Usage) -> dict[str, Any] | None:
    """OpenAI's ``usage`` object, or ``None`` when the upstream did not report both counts."""
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


def whole_body(
    *,
    request_id: str,
    created: int,
    model: str,
    content: str | None,
    finish_reason: str | None,
    usage: Usage,
    tool_calls: list[dict[str, Any]] | None = None,
    logprobs: Any = None,
) -> bytes:
    """The JSON body of a whole (non-streamed) answer."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    payload: dict[str, Any] = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": logprobs}],
    }
    reported = usage_json(usage)
    if reported is not None:
        payload["usage"] = reported
    return orjson.dumps(payload)


class SseWriter:
    """Writes one answer as server-sent events; see the module docstring for the usage rules."""

    __slots__ = ("_base", "_content_prefix", "_content_suffix", "_include_usage", "_send")

    def __init__(self, send: Send, *, request_id: str, created: int, model: str, include_usage: bool) -> None:
        self._send = send
        self._include_usage = include_usage
        self._base: dict[str, Any] = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        head = orjson.dumps(self._base)[:-1]  # without the closing brace
        self._content_prefix = b"data: " + head + b',"choices":[{"index":0,"delta":{"content":'
        tail = b',"usage":null}' if include_usage else b"}"
        self._content_suffix = b'},"logprobs":null,"finish_reason":null}]' + tail + b"\n\n"

    async def _event(self, choices: list[dict[str, Any]], *, usage: Any = None, final: bool = False) -> None:
        chunk: dict[str, Any] = {**self._base, "choices": choices}
        if self._include_usage:
            chunk["usage"] = usage if final else None
        await self._send(
            {
                "type": "http.response.body",
                "body": b"data: " + orjson.dumps(chunk) + b"\n\n",
                "more_body": True,
            }
        )

    async def opening(self) -> None:
        """The first chunk: the assistant role with empty content."""
        await self._event(
            [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ]
        )

    async def content(self, text: str) -> None:
        """One piece of the answer's text."""
        body = self._content_prefix + orjson.dumps(text) + self._content_suffix
        await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def delta(
        self,
        *,
        content: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        logprobs: Any = None,
    ) -> None:
        """A delta with tool-call pieces and/or log probabilities (content alone: :meth:`content`)."""
        delta: dict[str, Any] = {}
        if content is not None:
            delta["content"] = content
        if tool_calls:
            delta["tool_calls"] = tool_calls
        await self._event([{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": None}])

    async def finish(self, finish_reason: str, usage: Usage) -> None:
        """The finish chunk, the usage chunk when asked for, then ``[DONE]``."""
        await self._event([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}])
        reported = usage_json(usage)
        if self._include_usage:
            await self._event([], usage=reported, final=True)
        await self._send({"type": "http.response.body", "body": _DONE, "more_body": False})

    async def error(self, message: str, *, type: str, code: str | None, request_id: str) -> None:
        """End the stream with an error object and no ``[DONE]``.

        The error travels as a ``data:`` event holding OpenAI's error object, which the official
        SDKs raise as an ``APIError`` mid-stream.
        """
        payload = orjson.dumps(error_body(message, type=type, request_id=request_id, code=code))
        await self._send(
            {"type": "http.response.body", "body": b"data: " + payload + b"\n\n", "more_body": False}
        )

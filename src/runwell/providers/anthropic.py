"""Adapter for Anthropic's Messages API (``POST /v1/messages``), mapping to and from the OpenAI
chat-completions shape the rest of runwell speaks.

Request mapping: ``system`` (and ``developer``) messages become the top-level ``system``
string; text parts of a message are joined with newlines; ``max_tokens`` or
``max_completion_tokens`` become ``max_tokens`` (default: the config's ``default_max_tokens``);
``temperature``, ``top_p`` and ``top_k`` pass through; ``stop`` becomes ``stop_sequences``; the
request's ``user`` becomes ``metadata.user_id``. Other OpenAI parameters (``seed``,
``response_format``, penalties, ...) have no Messages API equivalent and are not sent.

Usage: Anthropic counts cache reads and cache writes apart from ``input_tokens``; we report
``input_tokens`` as their sum so that, as with OpenAI, ``cached_tokens`` is a part of
``input_tokens`` and cost is computed the same way for every provider.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from runwell.errors import ProviderError
from runwell.providers._http import (
    HttpPool,
    decode_json,
    drain,
    encode_json,
    malformed,
    probe_get,
    status_error,
    transport_error,
)
from runwell.providers._sse import SSEDecoder
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult, Usage
from runwell.providers.registry import TimeoutSettings
from runwell.spec.providers import AnthropicProviderConfig

__all__ = ["AnthropicProvider"]

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_PASSTHROUGH = ("temperature", "top_p", "top_k")


class AnthropicProvider:
    """``kind: anthropic``: the Messages API, whole or streamed (SSE events)."""

    kind = "anthropic"

    def __init__(self, name: str, config: AnthropicProviderConfig, *, timeouts: TimeoutSettings) -> None:
        self.name = name
        base = config.base_url.rstrip("/")
        self._url = f"{base}/v1/messages"
        self._models_url = f"{base}/v1/models"
        self._key_env = config.api_key_env
        self._default_max_tokens = config.default_max_tokens
        # Read once: the request path must not consult the environment. Never logged.
        key = os.environ.get(config.api_key_env) if config.api_key_env else None
        self._key_missing = config.api_key_env is not None and not key
        headers = {"Content-Type": "application/json", "anthropic-version": config.api_version}
        if key:
            headers["x-api-key"] = key
        self._headers = headers
        self._http = HttpPool(max_connections=config.max_connections, timeouts=timeouts)

    def _messages_body(self, request: ChatRequest) -> dict[str, Any]:
        """The Messages API body for ``request`` (see the module docstring for the mapping)."""
        system: list[str] = []
        messages: list[dict[str, Any]] = []
        for message in request.messages:
            role = message.get("role")
            text = _text(self.name, message.get("content"))
            if role in ("system", "developer"):
                system.append(text)
            elif role in ("user", "assistant"):
                messages.append({"role": role, "content": text})
            else:
                raise ProviderError(
                    self.name,
                    f"message role {role!r} cannot be sent to the Messages API; "
                    "use system, user or assistant messages",
                    error_class="invalid_request",
                )
        params = request.params
        max_tokens = params.get("max_tokens") or params.get("max_completion_tokens")
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": max_tokens or self._default_max_tokens,
        }
        if system:
            body["system"] = "\n\n".join(system)
        for key in _PASSTHROUGH:
            if params.get(key) is not None:
                body[key] = params[key]
        stop = params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if request.user is not None:
            body["metadata"] = {"user_id": request.user}
        return body

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        """One whole message; ``timeout`` bounds the entire call."""
        payload = encode_json(self.name, self._messages_body(request))
        url = self._url
        try:
            async with self._http.session().post(
                url, data=payload, headers=self._headers, timeout=self._http.whole_timeout(timeout)
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport_error(self.name, exc, url=url) from exc
        if status >= 300:
            raise status_error(self.name, status, raw)
        data = decode_json(self.name, raw)
        try:
            blocks = data["content"]
            texts: list[str] = []
            tool_calls: list[dict[str, Any]] = []
            for block in blocks:
                kind = block.get("type")
                if kind == "text":
                    texts.append(block["text"])
                elif kind == "tool_use":
                    tool_calls.append(_tool_call(block))
            stop_reason = data.get("stop_reason")
            return ChatResult(
                content="".join(texts) if texts or not tool_calls else None,
                finish_reason=_FINISH.get(stop_reason, stop_reason),
                usage=_usage(data.get("usage") or {}),
                response_model=data.get("model") or request.model,
                tool_calls=tool_calls or None,
            )
        except (KeyError, TypeError, AttributeError):
            raise malformed(self.name, "no content list in the answer") from None

    async def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[ChatChunk]:
        """Yield text deltas, then one chunk with the finish reason and the usage."""
        body = self._messages_body(request)
        body["stream"] = True
        payload = encode_json(self.name, body)
        url = self._url
        name = self.name
        state = _StreamState(request.model)
        answering = False
        try:
            async with self._http.session().post(
                url, data=payload, headers=self._headers, timeout=self._http.stream_timeout(timeout)
            ) as resp:
                if resp.status >= 300:
                    raise status_error(name, resp.status, await resp.read())
                answering = True
                decoder = SSEDecoder()
                async for raw in resp.content.iter_any():
                    for _event, data in decoder.feed(raw):
                        chunk = state.apply(name, data)
                        if chunk is not None:
                            yield chunk
                        if state.stopped:
                            await drain(resp)
                            return
                for _event, data in decoder.close():
                    chunk = state.apply(name, data)
                    if chunk is not None:
                        yield chunk
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if state.finished:
                return  # only message_stop was lost: the answer and its usage are whole
            if answering and not isinstance(exc, TimeoutError):
                raise _cut(name, url) from exc
            raise transport_error(name, exc, url=url) from exc
        # The contract is "ends without a finish": a lost message_stop after message_delta
        # carried the stop reason does not make the answer incomplete.
        if not state.finished:
            raise _cut(name, url)

    async def probe(self) -> None:
        """GET ``{base_url}/v1/models`` within 2 s; also fails when the API key is unset."""
        if self._key_missing:
            raise ProviderError(
                self.name,
                f"environment variable {self._key_env} is not set; export the API key there",
                error_class="missing_api_key",
            )
        await probe_get(self._http, self.name, self._models_url, self._headers)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


class _StreamState:
    """Folds Messages API stream events into ChatChunks."""

    __slots__ = ("cached_tokens", "finished", "input_tokens", "model", "stopped")

    def __init__(self, model: str) -> None:
        self.model = model
        self.input_tokens: int | None = None
        self.cached_tokens: int | None = None
        self.finished = False
        self.stopped = False

    def apply(self, provider: str, data: bytes) -> ChatChunk | None:
        """Update from one event's data; return the chunk it produces, if any."""
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise malformed(provider, f"stream event is not JSON: {data[:80]!r}") from None
        try:
            kind = event.get("type")
            if kind == "content_block_delta":
                delta = event["delta"]
                if delta.get("type") == "text_delta":
                    return ChatChunk(content=delta["text"], response_model=self.model)
                return None  # tool input and thinking deltas are not streamed to clients
            if kind == "message_start":
                message = event["message"]
                self.model = message.get("model") or self.model
                usage = _usage(message.get("usage") or {})
                self.input_tokens, self.cached_tokens = usage.input_tokens, usage.cached_tokens
                return None
            if kind == "message_delta":
                stop_reason = event["delta"].get("stop_reason")
                usage = _usage(event.get("usage") or {})
                self.finished = True
                return ChatChunk(
                    finish_reason=_FINISH.get(stop_reason, stop_reason),
                    usage=Usage(
                        # message_delta repeats input counts only on newer API versions
                        input_tokens=usage.input_tokens or self.input_tokens,
                        output_tokens=usage.output_tokens,
                        cached_tokens=usage.cached_tokens or self.cached_tokens,
                    ),
                    response_model=self.model,
                )
            if kind == "message_stop":
                self.stopped = True
                return None
            if kind == "error":
                error = event.get("error") or {}
                raise ProviderError(
                    provider,
                    f"upstream reported {error.get('type', 'an error')} mid-stream: "
                    f"{str(error.get('message', ''))[:300]}",
                    error_class="upstream_stream_error",
                )
            return None  # ping, content_block_start/stop, and event types added later
        except (KeyError, TypeError, AttributeError):
            raise malformed(provider, f"unexpected stream event: {data[:80]!r}") from None


def _text(provider: str, content: Any) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    try:
        parts = [part["text"] for part in content if part.get("type") == "text"]
        if len(parts) != len(content):
            raise ValueError
    except (TypeError, KeyError, AttributeError, ValueError):
        raise ProviderError(
            provider,
            "message content must be a string or a list of text parts for the Messages API",
            error_class="invalid_request",
        ) from None
    return "\n".join(parts)


def _usage(usage: dict[str, Any]) -> Usage:
    input_tokens = usage.get("input_tokens")
    cache_read = usage.get("cache_read_input_tokens")
    cache_write = usage.get("cache_creation_input_tokens")
    if input_tokens is not None:
        input_tokens += (cache_read or 0) + (cache_write or 0)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=usage.get("output_tokens"),
        cached_tokens=cache_read,
    )


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    """A ``tool_use`` block in the OpenAI ``tool_calls`` shape."""
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {
            "name": block.get("name"),
            "arguments": orjson.dumps(block.get("input") or {}).decode(),
        },
    }


def _cut(provider: str, url: str) -> ProviderError:
    return ProviderError(
        provider,
        f"the stream from {url} ended before the answer finished (no stop_reason)",
        error_class="stream_cut",
    )

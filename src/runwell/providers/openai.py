"""Adapter for any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp
server, Azure, ...).

This is the gateway's hot path, so a call does only what it must: build one dict, ``orjson``
it, one POST on a pooled connection, ``orjson.loads`` the answer and pick the fields. No
validation models, no logging per request: failures travel as ``ProviderError``.

Our side of the seam speaks this API already, so ``tools``, ``tool_choice``,
``parallel_tool_calls``, ``logprobs``/``top_logprobs`` and tool messages (an ``assistant`` message
with ``tool_calls``, ``tool`` messages with ``tool_call_id``) go out unchanged, and a choice's
``tool_calls`` and ``logprobs`` come back unchanged, whole or as stream deltas. The one repair:
a streamed tool-call delta without ``index`` (some compatible servers omit it) gets its position
in the list, since clients assemble parallel calls by that index.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any, ClassVar

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
from runwell.spec.providers import OpenAIProviderConfig

__all__ = ["OpenAIProvider"]

_DONE = b"[DONE]"


class OpenAIProvider:
    """``kind: openai``: POST ``{base_url}/chat/completions``, whole or streamed (SSE)."""

    bounds_complete_timeout: ClassVar[bool] = True
    """``complete`` ends within its ``timeout`` by itself (aiohttp's total timeout, tested), so the
    gateway's retrier arms no timer of its own around it."""

    kind = "openai"

    def __init__(self, name: str, config: OpenAIProviderConfig, *, timeouts: TimeoutSettings) -> None:
        self.name = name
        base = config.base_url.rstrip("/")
        self._url = f"{base}/chat/completions"
        self._models_url = f"{base}/models"
        self._key_env = config.api_key_env
        # Read once: the request path must not consult the environment. Never logged.
        key = os.environ.get(config.api_key_env) if config.api_key_env else None
        self._key_missing = config.api_key_env is not None and not key
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        headers.update(config.headers)
        self._headers = headers
        self._http = HttpPool(max_connections=config.max_connections, timeouts=timeouts)

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        """One whole completion; ``timeout`` bounds the entire call."""
        body: dict[str, Any] = {"model": request.model, "messages": request.messages}
        body.update(request.params)
        if request.user is not None:
            body["user"] = request.user
        if "stream" in body:  # a stray client flag would turn the answer into SSE
            del body["stream"]
            body.pop("stream_options", None)
        payload = encode_json(self.name, body)
        url = self._url
        try:
            async with self._http.session().post(
                url, data=payload, headers=self._headers, timeout=self._http.whole_timeout(timeout)
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("retry-after")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport_error(self.name, exc, url=url) from exc
        if status >= 300:
            raise status_error(self.name, status, raw, retry_after)
        data = decode_json(self.name, raw)
        try:
            choice = data["choices"][0]
            message = choice["message"]
            usage = data.get("usage")
            return ChatResult(
                content=message.get("content"),
                finish_reason=choice.get("finish_reason"),
                usage=_usage(usage) if usage else Usage(),
                response_model=data.get("model") or request.model,
                tool_calls=message.get("tool_calls"),
                logprobs=choice.get("logprobs"),
            )
        except (KeyError, IndexError, TypeError, AttributeError):
            raise malformed(self.name, "no choices[0].message in the answer") from None

    async def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[ChatChunk]:
        """Yield chunks as the upstream sends them; the usage arrives on a last, empty chunk."""
        body: dict[str, Any] = {"model": request.model, "messages": request.messages}
        body.update(request.params)
        if request.user is not None:
            body["user"] = request.user
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        payload = encode_json(self.name, body)
        url = self._url
        name = self.name
        model = request.model
        answering = finished = False
        try:
            async with self._http.session().post(
                url, data=payload, headers=self._headers, timeout=self._http.stream_timeout(timeout)
            ) as resp:
                if resp.status >= 300:
                    raise status_error(name, resp.status, await resp.read(), resp.headers.get("retry-after"))
                answering = True
                decoder = SSEDecoder()
                async for raw in resp.content.iter_any():
                    for _event, data in decoder.feed(raw):
                        if data == _DONE:
                            await drain(resp)
                            return
                        chunk = _chunk(name, data, model)
                        if chunk is not None:
                            finished = finished or chunk.finish_reason is not None
                            yield chunk
                for _event, data in decoder.close():
                    if data == _DONE:
                        return
                    chunk = _chunk(name, data, model)
                    if chunk is not None:
                        finished = finished or chunk.finish_reason is not None
                        yield chunk
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if finished:
                return  # only the usage trailer or [DONE] was lost: the answer is whole
            if answering and not isinstance(exc, TimeoutError):
                raise _cut(name, url) from exc
            raise transport_error(name, exc, url=url) from exc
        if not finished:
            raise _cut(name, url)

    async def probe(self) -> None:
        """GET ``{base_url}/models`` within 2 s; also fails when the API key variable is unset."""
        if self._key_missing:
            raise ProviderError(
                self.name,
                f"environment variable {self._key_env} is not set; export the API key there, or "
                "set api_key_env: null for an upstream that needs no key",
                error_class="missing_api_key",
            )
        await probe_get(self._http, self.name, self._models_url, self._headers)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


def _usage(usage: dict[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details")
    return Usage(
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cached_tokens=details.get("cached_tokens") if details else None,
    )


def _chunk(provider: str, data: bytes, model: str) -> ChatChunk | None:
    """One ``chat.completion.chunk`` event as a ChatChunk; None when it carries nothing."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise malformed(provider, f"stream event is not JSON: {data[:80]!r}") from None
    try:
        if "error" in obj:
            error = obj["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ProviderError(
                provider,
                f"upstream reported an error mid-stream: {str(message)[:300]}",
                error_class="upstream_stream_error",
            )
        content = finish = tool_calls = logprobs = None
        choices = obj.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta")
            if delta:
                content = delta.get("content")
                tool_calls = delta.get("tool_calls")
                if tool_calls:
                    _index_calls(tool_calls)
            finish = choice.get("finish_reason")
            logprobs = choice.get("logprobs")
        usage = obj.get("usage")
        if content is None and finish is None and not usage and not tool_calls and not logprobs:
            return None  # the role-only opening chunk, keep-alives
        return ChatChunk(
            content=content,
            finish_reason=finish,
            usage=_usage(usage) if usage else None,
            response_model=obj.get("model") or model,
            tool_calls=tool_calls or None,
            logprobs=logprobs,
        )
    except (AttributeError, TypeError, IndexError):
        raise malformed(provider, f"unexpected stream event: {data[:80]!r}") from None


def _index_calls(tool_calls: list[dict[str, Any]]) -> None:
    """Give each delta without ``index`` its position in the list (see the module docstring)."""
    for position, call in enumerate(tool_calls):
        if "index" not in call:
            call["index"] = position


def _cut(provider: str, url: str) -> ProviderError:
    return ProviderError(
        provider,
        f"the stream from {url} ended before the answer finished (no finish_reason, no [DONE])",
        error_class="stream_cut",
    )

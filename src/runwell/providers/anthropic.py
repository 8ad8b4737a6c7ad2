"""Adapter for Anthropic's Messages API (``POST /v1/messages``), mapping to and from the OpenAI
chat-completions shape the rest of runwell speaks.

Request mapping: ``system`` (and ``developer``) messages become the top-level ``system``
string; text parts of a message are joined with newlines; ``max_tokens`` or
``max_completion_tokens`` become ``max_tokens`` (default: the config's ``default_max_tokens``);
``temperature``, ``top_p`` and ``top_k`` pass through; ``stop`` becomes ``stop_sequences``; the
request's ``user`` becomes ``metadata.user_id``. Other OpenAI parameters (``seed``,
``response_format``, penalties, ...) have no Messages API equivalent and are not sent.

Tools: OpenAI ``tools`` (``{"type": "function", "function": {"name", "description",
"parameters"}}``) become Messages ``tools`` (``name``, ``description``, ``input_schema``; a function
without ``parameters`` takes an empty object). ``tool_choice`` maps ``auto`` → ``{"type": "auto"}``,
``required`` → ``{"type": "any"}``, ``none`` → ``{"type": "none"}`` and a named function →
``{"type": "tool", "name": ...}``; ``parallel_tool_calls: false`` becomes
``disable_parallel_tool_use: true`` inside ``tool_choice`` (which is where the Messages API keeps
it; ``auto`` when no choice was given). An ``assistant`` message with ``tool_calls`` becomes
``content`` blocks: its text, if any, then one ``tool_use`` block per call, ``input`` parsed from the
``arguments`` JSON (an empty string is ``{}``). Consecutive ``tool`` messages become one ``user``
message of ``tool_result`` blocks, and a ``user`` message right after them joins that message as a
text block after the results, as the API wants them. Answers map back: ``tool_use`` blocks become
``tool_calls`` (``arguments`` re-serialised as JSON), stop reason ``tool_use`` becomes finish
``tool_calls``; in a stream, a ``tool_use`` block's start is a first tool-call delta (index: its
ordinal among the answer's ``tool_use`` blocks; id; name; empty arguments) and each
``input_json_delta`` an arguments delta. A block that ends without any input streamed sends
``{}`` as its arguments, so every call's arguments parse as JSON.

Usage: Anthropic counts cache reads and cache writes apart from ``input_tokens``; we report
``input_tokens`` as their sum so that, as with OpenAI, ``cached_tokens`` is a part of
``input_tokens`` and cost is computed the same way for every provider.
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

    bounds_complete_timeout: ClassVar[bool] = True
    """``complete`` ends within its ``timeout`` by itself (aiohttp's total timeout, tested), so the
    gateway's retrier arms no timer of its own around it."""

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
        name = self.name
        system: list[str] = []
        messages: list[dict[str, Any]] = []
        # The content list of the user message holding tool results, while it is the last one.
        results: list[dict[str, Any]] | None = None
        for position, message in enumerate(request.messages):
            role = message.get("role")
            if role == "tool":
                if results is None:
                    results = []
                    messages.append({"role": "user", "content": results})
                results.append(_tool_result(name, message, position))
                continue
            text = _text(name, message.get("content"))
            if role in ("system", "developer"):
                system.append(text)
            elif role == "user":
                if results is None:
                    messages.append({"role": "user", "content": text})
                elif text:
                    results.append({"type": "text", "text": text})
            elif role == "assistant":
                calls = message.get("tool_calls")
                if calls:
                    blocks = [{"type": "text", "text": text}] if text else []
                    blocks += _tool_uses(name, calls, position)
                    messages.append({"role": "assistant", "content": blocks})
                else:
                    messages.append({"role": "assistant", "content": text})
            else:
                raise ProviderError(
                    name,
                    f"messages[{position}]: role {role!r} cannot be sent to the Messages API; "
                    "use system, developer, user, assistant or tool messages",
                    error_class="invalid_request",
                )
            results = None
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
        tools = params.get("tools")
        if tools:
            body["tools"] = _tools(name, tools)
        choice = _tool_choice(name, params.get("tool_choice"), params.get("parallel_tool_calls"))
        if choice is not None:
            body["tool_choice"] = choice
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
                retry_after = resp.headers.get("retry-after")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise transport_error(self.name, exc, url=url) from exc
        if status >= 300:
            raise status_error(self.name, status, raw, retry_after)
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
                    raise status_error(name, resp.status, await resp.read(), resp.headers.get("retry-after"))
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

    __slots__ = ("cached_tokens", "finished", "input_tokens", "inputless", "model", "stopped", "tools")

    def __init__(self, model: str) -> None:
        self.model = model
        self.input_tokens: int | None = None
        self.cached_tokens: int | None = None
        self.finished = False
        self.stopped = False
        self.tools: dict[int, int] = {}  # content block index -> ordinal of its tool call
        self.inputless: set[int] = set()  # tool_use blocks no input was streamed for (yet)

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
                delta_kind = delta.get("type")
                if delta_kind == "text_delta":
                    return ChatChunk(content=delta["text"], response_model=self.model)
                if delta_kind == "input_json_delta":
                    return self._arguments(event["index"], delta.get("partial_json") or "")
                return None  # thinking and citation deltas have no chat-completions equivalent
            if kind == "content_block_start":
                block = event["content_block"]
                if block.get("type") != "tool_use":
                    return None
                index = event["index"]
                ordinal = self.tools[index] = len(self.tools)
                given = block.get("input")
                if not given:
                    self.inputless.add(index)
                start = {
                    "index": ordinal,
                    "id": block["id"],
                    "type": "function",
                    "function": {
                        "name": block["name"],
                        "arguments": orjson.dumps(given).decode() if given else "",
                    },
                }
                return ChatChunk(tool_calls=[start], response_model=self.model)
            if kind == "content_block_stop":
                if event["index"] not in self.inputless:
                    return None
                # a call with no input streamed: "{}" keeps its arguments valid JSON
                return self._arguments(event["index"], "{}")
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
            return None  # ping, and event types added later
        except (KeyError, TypeError, AttributeError):
            raise malformed(provider, f"unexpected stream event: {data[:80]!r}") from None

    def _arguments(self, block: int, partial_json: str) -> ChatChunk | None:
        """An arguments delta of the tool call that content block ``block`` holds."""
        ordinal = self.tools.get(block)
        if ordinal is None or not partial_json:
            # server tools (web search, ...) stream their input too, but run upstream, not in
            # the client; and the API opens each input with an empty piece
            return None
        self.inputless.discard(block)
        call = {"index": ordinal, "function": {"arguments": partial_json}}
        return ChatChunk(tool_calls=[call], response_model=self.model)


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


def _invalid(provider: str, message: str) -> ProviderError:
    return ProviderError(provider, message, error_class="invalid_request")


def _tools(provider: str, tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools as Messages API tools."""
    mapped: list[dict[str, Any]] = []
    try:
        for tool in tools:
            if tool.get("type") != "function":
                raise ValueError
            function = tool["function"]
            entry: dict[str, Any] = {
                "name": function["name"],
                "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
            }
            if function.get("description"):
                entry["description"] = function["description"]
            mapped.append(entry)
    except (TypeError, KeyError, AttributeError, ValueError):
        raise _invalid(
            provider,
            f"tools[{len(mapped)}] cannot be sent to the Messages API: each tool must be "
            '{"type": "function", "function": {"name": ..., "parameters": {...}}}',
        ) from None
    return mapped


def _tool_choice(provider: str, choice: Any, parallel: Any) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` and ``parallel_tool_calls`` as one Messages ``tool_choice``."""
    if choice is None:
        mapped: dict[str, Any] | None = {"type": "auto"} if parallel is False else None
    elif choice == "auto":
        mapped = {"type": "auto"}
    elif choice == "required":
        mapped = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}  # takes no disable_parallel_tool_use: no call is made at all
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if not isinstance(name, str) or not name:
            raise _invalid(provider, "tool_choice.function.name must name one of the tools")
        mapped = {"type": "tool", "name": name}
    else:
        raise _invalid(
            provider,
            f"tool_choice {choice!r} cannot be sent to the Messages API; use 'auto', 'required', "
            '\'none\' or {"type": "function", "function": {"name": ...}}',
        )
    if parallel is False and mapped is not None:
        mapped["disable_parallel_tool_use"] = True
    return mapped


def _tool_uses(provider: str, calls: Any, position: int) -> list[dict[str, Any]]:
    """An assistant message's OpenAI ``tool_calls`` as ``tool_use`` blocks."""
    if not isinstance(calls, list):
        raise _invalid(provider, f"messages[{position}].tool_calls must be a list of tool calls")
    blocks: list[dict[str, Any]] = []
    for i, call in enumerate(calls):
        where = f"messages[{position}].tool_calls[{i}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not call.get("id") or not function.get("name"):
            raise _invalid(provider, f"{where} needs an id and a function with a name and arguments")
        arguments = function.get("arguments") or "{}"
        try:
            parsed = orjson.loads(arguments)
        except (orjson.JSONDecodeError, TypeError):
            parsed = None
        if not isinstance(parsed, dict):
            raise _invalid(
                provider,
                f"{where}.function.arguments is not a JSON object ({str(arguments)[:80]!r}); "
                "send the arguments the model produced, unchanged",
            )
        blocks.append({"type": "tool_use", "id": call["id"], "name": function["name"], "input": parsed})
    return blocks


def _tool_result(provider: str, message: dict[str, Any], position: int) -> dict[str, Any]:
    """A ``tool`` message as a ``tool_result`` block."""
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise _invalid(
            provider,
            f"messages[{position}] (role 'tool') has no tool_call_id; set it to the id of the "
            "tool call it answers",
        )
    return {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": _text(provider, message.get("content")),
    }


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

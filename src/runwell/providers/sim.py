"""``kind: sim``: a scripted model for tests and drills, with latency and faults on demand.

Answers by ``mode``:

- ``text``: ``config.text``.
- ``script``: the entries of ``config.script`` in turn, starting over after the last.
- ``echo``: the JSON document ``{"model": ..., "messages": [...], "params": {...}, "user": ...}``
  holding exactly what the provider received (compact ``orjson`` encoding, keys in that order),
  so a test can ``orjson.loads(result.content)`` and check the prompt template, the parameters
  and the variant's model that reached the provider.
- ``tool``: when the request offers ``tools`` (and ``tool_choice`` is not ``"none"``), calls the
  functions of ``config.tool_calls``, all in parallel (only the first when
  ``parallel_tool_calls`` is false): content None, finish reason ``tool_calls``, ids
  ``call_sim_<n>`` counting up from 1 per provider. A stream opens each call with one delta (index,
  id, name, empty arguments), then sends its arguments in pieces of :data:`ARGUMENT_PIECE`
  characters. When the conversation ends with tool results (``tool`` messages), the answer is the
  text ``Tool results: <content>; <content>`` quoting them, so a round trip is visible; without
  ``tools`` it answers as ``text`` does.

Per-input answers (eval tests and drills): when the last user message is a key of
``config.answers`` (or, failing that, contains one: the longest wins), the answer is its value
instead of the mode's. ``wrong_rate`` makes a fixed
fraction of those inputs answer ``wrong_text`` instead; which ones is decided by a hash of the
input (and of ``seed``, when set), never by the random draw, so the same case is always right or
always wrong, and the inputs wrong at a rate are a subset of those wrong at any higher rate.

Each call, in this order: during an outage window every call fails at once with
``upstream_http_<status>``; else one random draw picks at most one fault, the rates taking
consecutive bands of ``[0, 1)`` (error, timeout, malformed, empty, then for streams cut stream);
then a latency is drawn (time to the answer, or to the first chunk of a stream). Latency or a
fault that outlasts the caller's ``timeout`` waits exactly ``timeout`` and raises
``ProviderTimeout``, like a real upstream that does not answer.

Randomness comes from ``random.Random(config.seed)`` owned by the instance, so a seeded provider
gives the same sequence of faults and latencies for the same sequence of calls.

Usage counts whitespace-separated words: all message contents for input, the answer (or the tool
calls' names and arguments) for output.
Streams send the answer in word pieces (each with its leading whitespace, so joining the pieces
gives the answer back), paced at ``tokens_per_second`` when set, then a last chunk with the
finish reason and the usage.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from runwell.errors import ConfigError, ProviderError, ProviderTimeout
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult, Usage
from runwell.spec.providers import SimProviderConfig

__all__ = ["ARGUMENT_PIECE", "SimProvider"]

ARGUMENT_PIECE = 8
"""Characters of a tool call's arguments per streamed delta (a call's arguments span several)."""

_PIECES = re.compile(r"\s*\S+|\s+")
_Z99 = 2.3263478740408408  # standard normal quantile at 0.99: p99 = median * exp(_Z99 * sigma)


class SimProvider:
    """A provider that answers from its configuration instead of a model."""

    kind = "sim"

    def __init__(
        self,
        name: str,
        config: SimProviderConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.mode == "script" and not config.script:
            raise ConfigError(f"sim provider {name!r}: mode 'script' needs a non-empty script list")
        if config.mode == "tool" and not config.tool_calls:
            raise ConfigError(
                f"sim provider {name!r}: mode 'tool' needs a non-empty tool_calls list "
                "(e.g. tool_calls: [{name: get_weather, arguments: {city: Paris}}])"
            )
        self.name = name
        self._config = config
        self._clock = clock
        self._started = clock()
        self._random = random.Random(config.seed)
        self._turn = 0
        self._call_ids = 0
        # (name, arguments as JSON text), serialised once rather than on every call
        self._scripted = [
            (
                call.name,
                call.arguments if isinstance(call.arguments, str) else orjson.dumps(call.arguments).decode(),
            )
            for call in config.tool_calls
        ]
        latency = config.latency_ms
        # lognormal fitted to the median (p50) and the 99th percentile
        self._mu = math.log(latency.p50 / 1000) if latency.p50 > 0 else None
        spread = latency.p99 / latency.p50 if latency.p99 and latency.p50 else 1.0
        self._sigma = math.log(spread) / _Z99 if spread > 1 else 0.0

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        """Answer after the drawn latency, or fail as the draw decides."""
        fault = self._begin(streaming=False)
        await self._wait(self._latency(fault), timeout)
        self._raise_fault(fault)
        calls = None if fault == "empty" else self._calls(request)
        if calls:
            return ChatResult(
                content=None,
                finish_reason="tool_calls",
                usage=_usage(request, _calls_text(calls)),
                response_model=request.model,
                tool_calls=calls,
            )
        content = "" if fault == "empty" else self._answer(request)
        return ChatResult(
            content=content,
            finish_reason="stop",
            usage=_usage(request, content),
            response_model=request.model,
        )

    async def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[ChatChunk]:
        """Stream the answer word by word (tool calls delta by delta); ``timeout`` bounds every
        wait between chunks."""
        fault = self._begin(streaming=True)
        await self._wait(self._latency(fault), timeout)
        self._raise_fault(fault)
        model = request.model
        calls = None if fault == "empty" else self._calls(request)
        if calls:
            chunks = [ChatChunk(tool_calls=[delta], response_model=model) for delta in _deltas(calls)]
            finish, output = "tool_calls", _calls_text(calls)
        else:
            output = "" if fault == "empty" else self._answer(request)
            chunks = [ChatChunk(content=piece, response_model=model) for piece in _PIECES.findall(output)]
            finish = "stop"
        if fault == "cut":
            chunks = chunks[: len(chunks) // 2]
        tps = self._config.tokens_per_second
        gap = 1.0 / tps if tps else 0.0
        for i, chunk in enumerate(chunks):
            if i and gap:
                await self._wait(gap, timeout)
            yield chunk
        if fault == "cut":
            raise ProviderError(
                self.name,
                "simulated stream cut before the answer finished",
                error_class="stream_cut",
            )
        yield ChatChunk(finish_reason=finish, usage=_usage(request, output), response_model=model)

    async def probe(self) -> None:
        """Fails only inside an outage window."""
        self._check_outage()

    async def aclose(self) -> None:
        """Nothing to release."""

    def _begin(self, *, streaming: bool) -> str | None:
        """Check outages, then draw this call's fault (None: answer normally)."""
        self._check_outage()
        c = self._config
        draw = self._random.random()
        bands = (
            ("error", c.error_rate),
            ("timeout", c.timeout_rate),
            ("malformed", c.malformed_rate),
            ("empty", c.empty_rate),
            ("cut", c.cut_stream_rate if streaming else 0.0),
        )
        edge = 0.0
        for fault, rate in bands:
            edge += rate
            if draw < edge:
                return fault
        return None

    def _check_outage(self) -> None:
        elapsed = self._clock() - self._started
        for window in self._config.outages:
            if window.start_s <= elapsed < window.end_s:
                raise ProviderError(
                    self.name,
                    f"simulated outage ({window.start_s:g}-{window.end_s:g} s after start): "
                    f"HTTP {window.status}",
                    error_class=f"upstream_http_{window.status}",
                    upstream_status=window.status,
                )

    def _raise_fault(self, fault: str | None) -> None:
        if fault == "error":
            status = self._config.error_status
            raise ProviderError(
                self.name,
                f"simulated upstream error: HTTP {status}",
                error_class=f"upstream_http_{status}",
                upstream_status=status,
            )
        if fault == "malformed":
            raise ProviderError(self.name, "malformed response: simulated", error_class="malformed_response")

    def _latency(self, fault: str | None) -> float:
        """One latency draw, in seconds; a timeout fault never answers."""
        if fault == "timeout":
            return math.inf
        latency = self._config.latency_ms
        if latency.dist == "uniform":
            high = latency.max if latency.max is not None else max(latency.min, latency.p50)
            return self._random.uniform(latency.min, high) / 1000
        if latency.dist == "lognormal" and self._mu is not None:
            return self._random.lognormvariate(self._mu, self._sigma)
        return latency.p50 / 1000

    async def _wait(self, seconds: float, timeout: float) -> None:
        """Sleep ``seconds``; if that outlasts ``timeout``, sleep ``timeout`` and time out."""
        if seconds >= timeout:
            await asyncio.sleep(timeout)
            raise ProviderTimeout(self.name, f"simulated upstream did not answer in {timeout:g} s")
        if seconds > 0:
            await asyncio.sleep(seconds)

    def _calls(self, request: ChatRequest) -> list[dict[str, Any]] | None:
        """The tool calls that answer ``request`` in mode ``tool``, else None (answer text)."""
        c = self._config
        params = request.params
        if (
            c.mode != "tool"
            or not params.get("tools")
            or params.get("tool_choice") == "none"
            or _tool_results(request) is not None
        ):
            return None
        scripted = self._scripted if params.get("parallel_tool_calls") is not False else self._scripted[:1]
        calls: list[dict[str, Any]] = []
        for name, arguments in scripted:
            self._call_ids += 1
            function = {"name": name, "arguments": arguments}
            calls.append({"id": f"call_sim_{self._call_ids}", "type": "function", "function": function})
        return calls

    def _answer(self, request: ChatRequest) -> str:
        c = self._config
        if c.mode == "tool":
            results = _tool_results(request)
            if results is not None:
                return "Tool results: " + "; ".join(results)
        if c.answers:
            text = _last_user_text(request)
            key = text if text in c.answers else self._contained_key(text)
            if key is not None:
                return c.wrong_text if self._wrong(key) else c.answers[key]
        if c.mode == "echo":
            received = {
                "model": request.model,
                "messages": request.messages,
                "params": request.params,
                "user": request.user,
            }
            return orjson.dumps(received).decode()
        if c.mode == "script":
            answer = c.script[self._turn % len(c.script)]
            self._turn += 1
            return answer
        return c.text

    def _contained_key(self, text: str) -> str | None:
        """The longest ``answers`` key inside ``text``: a prompt template that wraps the user's
        message (``Request: {{ input }}``) still finds its scripted answer."""
        found = [key for key in self._config.answers if key and key in text]
        return max(found, key=len) if found else None

    def _wrong(self, text: str) -> bool:
        """Whether ``text`` falls in the ``wrong_rate`` fraction (a hash, not a draw)."""
        rate = self._config.wrong_rate
        if rate <= 0.0:
            return False
        seed = "" if self._config.seed is None else str(self._config.seed)
        digest = hashlib.sha256(f"{seed}\0{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64 < rate


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


def _tool_results(request: ChatRequest) -> list[str] | None:
    """The contents of the ``tool`` messages that end the conversation, or None if none do."""
    results: list[str] = []
    for message in reversed(request.messages):
        if message.get("role") != "tool":
            break
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        results.append(content if isinstance(content, str) else "")
    return results[::-1] if results else None


def _deltas(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Whole tool calls as OpenAI stream deltas: one opening delta per call, then its arguments."""
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        function = call["function"]
        deltas.append(
            {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": function["name"], "arguments": ""},
            }
        )
        arguments = function["arguments"]
        deltas += [
            {"index": index, "function": {"arguments": arguments[at : at + ARGUMENT_PIECE]}}
            for at in range(0, len(arguments), ARGUMENT_PIECE)
        ]
    return deltas


def _calls_text(calls: list[dict[str, Any]]) -> str:
    """What usage counts as the output of tool calls: their names and arguments."""
    return " ".join(f"{c['function']['name']} {c['function']['arguments']}" for c in calls)


def _usage(request: ChatRequest, content: str) -> Usage:
    words = 0
    for message in request.messages:
        text = message.get("content")
        if isinstance(text, list):
            text = " ".join(str(part.get("text", "")) for part in text if isinstance(part, dict))
        if isinstance(text, str):
            words += len(text.split())
    return Usage(input_tokens=words, output_tokens=len(content.split()))

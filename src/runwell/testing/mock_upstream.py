"""A real HTTP model upstream on loopback, speaking OpenAI chat completions and Anthropic Messages.

Tests point providers at ``base_url`` (OpenAI) or ``root_url`` (Anthropic) and check what it
received in ``requests``; the gateway benchmark runs it as its upstream. Routes:
``POST /v1/chat/completions`` and ``POST /v1/messages`` (whole, or SSE when the body has
``"stream": true``), ``GET /v1/models`` (answers ``models_status``, 200 by default).

The request's ``model`` picks the behaviour, so one server can script every fault:

====================  ==========================================================================
model                 behaviour
====================  ==========================================================================
``mock-slow-<ms>``    waits ``<ms>`` before answering normally
``mock-stall-<ms>``   streams: sends the first piece, then waits ``<ms>`` before the rest
``mock-error-<st>``   answers HTTP ``<st>`` with the API's error body (message ``mock error <st>``);
                      ``mock-error-<st>-retry-<s>`` adds ``Retry-After: <s>``
``mock-flaky-<n>``    answers 503 to the first ``<n>`` requests with the same last user message,
                      then normally (for retries)
``mock-json``         answers ``{"answer": "<last user text>"}`` when a message asks for JSON
                      (contains ``JSON``), plain text otherwise (for output schemas)
``mock-pii``          answers with an e-mail address and a card number in the text
``mock-cut``          closes the connection half-way through a stream, or before a whole answer
``mock-malformed``    200 whose body (or first stream event) is not JSON
``mock-incomplete``   200 JSON without ``choices`` / ``content``
``mock-stream-error`` streams one piece, then the API's in-stream error object / ``error`` event
``mock-echo``         answers the last user message's text
``mock-tools``        with ``tools`` in the request, calls tools instead of answering (see below)
``mock-logprobs``     OpenAI: with ``"logprobs": true``, each word of the answer is a token with a
                      ``logprobs`` entry (``top_logprobs`` alternatives when asked), whole or in
                      each stream chunk
anything else         answers :data:`DEFAULT_ANSWER`
====================  ==========================================================================

``mock-tools`` answers in each API's real tool-calling format: OpenAI ``message.tool_calls``, or
``delta.tool_calls`` deltas whose arguments are split across chunks (finish ``tool_calls``);
Anthropic a text block then ``tool_use`` blocks, or ``content_block_start`` /
``input_json_delta`` / ``content_block_stop`` events (stop reason ``tool_use``). It makes two
parallel calls of the first two tools offered (the only one twice when there is one), with ids
``call_mock_<i>`` / ``toolu_mock_<i>`` and arguments ``{"query": <last user text>, "call": <i>}``;
one call when ``tool_choice`` names a tool (that one) or parallel calls are disabled
(``parallel_tool_calls: false`` / ``disable_parallel_tool_use``); none, answering text, when
``tool_choice`` is ``none``. When the conversation ends with tool results (OpenAI ``tool``
messages, Anthropic ``tool_result`` blocks) it answers ``Tool results: <result>; <result>``
quoting them, so a round trip can be checked.

``max_tokens`` (or ``max_completion_tokens``) truncates the answer to that many words and sets the
finish reason to ``length`` / ``max_tokens``. Usage counts whitespace-separated words. As the real
API does, every OpenAI choice carries ``"logprobs": null`` when it has no log probabilities.

Command line (the gateway benchmark runs it as a subprocess; it prints one line with the URL
when ready and runs until SIGTERM)::

    python -m runwell.testing.mock_upstream --port 8001 [--host 127.0.0.1] [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from runwell.testing._mock_replies import (
    DEFAULT_ANSWER,
    PIECES,
    PLAIN,
    TOOL_PREAMBLE,
    Reply,
    Script,
    build_reply,
    count_words,
    logprobs_of,
    pick_script,
    split_words,
    text_of,
)

__all__ = ["DEFAULT_ANSWER", "MockUpstream", "RecordedRequest", "main"]

_JSON = "application/json"
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_MODEL = {"id": "mock-model", "object": "model", "type": "model", "created": 0}
_MODELS = orjson.dumps({"object": "list", "data": [_MODEL], "has_more": False})


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received: header names lower-cased, ``body`` parsed (None if not JSON),
    ``peer`` the client's ``host:port`` (one value per connection, so tests can see reuse)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    peer: str


class MockUpstream:
    """The server; use as ``async with MockUpstream(port=0) as m`` (``port=0``: any free port).

    ``delay_ms`` delays every answer; ``requests`` keeps the last ``max_records`` requests;
    set ``models_status`` to make ``GET /v1/models`` fail (probe tests).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_ms: float = 0.0,
        max_records: int = 100,
    ) -> None:
        self.host = host
        self.port = port
        self.delay_s = delay_ms / 1000
        self.models_status = 200
        self.requests: deque[RecordedRequest] = deque(maxlen=max_records)
        self._runner: web.AppRunner | None = None
        self._failed: dict[tuple[str, str], int] = {}

    @property
    def root_url(self) -> str:
        """``http://host:port``: the Anthropic ``base_url``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``: the OpenAI ``base_url``."""
        return f"{self.root_url}/v1"

    def app(self) -> web.Application:
        """The aiohttp application (exposed for embedding in another server)."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_get("/v1/models", self._models)
        return app

    async def start(self) -> MockUpstream:
        """Bind and serve; ``port`` then holds the real port."""
        # In-flight answers (a mock-slow sleep) are dropped on close rather than awaited.
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop serving and drop open connections."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> MockUpstream:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _receive(self, request: web.Request) -> tuple[Any, Script]:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        peer = request.transport.get_extra_info("peername") if request.transport else None
        where = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.requests.append(RecordedRequest(request.method, request.path, headers, body, where))
        script = pick_script(body.get("model")) if isinstance(body, dict) else PLAIN
        delay = self.delay_s + script.delay_s
        if delay:
            await asyncio.sleep(delay)
        return body, script

    async def _begin(self, request: web.Request, *, anthropic: bool) -> Reply | web.StreamResponse:
        """A chat request's reply, or the response that ends it early."""
        body, script = await self._receive(request)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error_response(400, anthropic=anthropic, message="need model and messages")
        if script.kind == "error":
            return _error_response(script.status, anthropic=anthropic, retry_after=script.retry_after)
        if script.kind == "flaky":
            user = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
            key = (str(body.get("model")), text_of(user[-1].get("content")) if user else "")
            failed = self._failed.get(key, 0)
            if failed < script.failures:
                self._failed[key] = failed + 1
                return _error_response(503, anthropic=anthropic)
        if not body.get("stream") and script.kind == "malformed":
            return web.Response(body=b"this is not JSON {", content_type=_JSON)
        if not body.get("stream") and script.kind == "cut" and request.transport is not None:
            request.transport.close()
            return web.Response()  # never sent: the connection is gone
        return build_reply(body, script, anthropic=anthropic)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self._receive(request)
        if self.models_status >= 300:
            return _error_response(self.models_status, anthropic=False)
        return web.Response(body=_MODELS, content_type=_JSON)

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        begun = await self._begin(request, anthropic=False)
        if isinstance(begun, web.StreamResponse):
            return begun
        body, script, words, finish, calls = begun.body, begun.script, begun.words, begun.finish, begun.calls
        messages = body["messages"]
        output = len(words) + sum(len(call.arguments.split()) for call in calls)
        usage = {
            "prompt_tokens": count_words(messages),
            "completion_tokens": output,
            "total_tokens": count_words(messages) + output,
            "prompt_tokens_details": {"cached_tokens": 0},
        }
        head = {"id": "chatcmpl-mock", "created": int(time.time()), "model": body.get("model")}
        logprobs = logprobs_of(words, body) if script.kind == "logprobs" else None
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if calls else "".join(words)}
            if calls:
                message["tool_calls"] = [
                    {
                        "id": f"call_mock_{c.index}",
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in calls
                ]
            choice = {
                "index": 0,
                "message": message,
                "logprobs": {"content": logprobs, "refusal": None} if logprobs else None,
                "finish_reason": finish,
            }
            doc = {**head, "object": "chat.completion", "usage": usage, "choices": [choice]}
            if script.kind == "incomplete":
                del doc["choices"]
            return web.Response(body=orjson.dumps(doc), content_type=_JSON)

        def event(choices: list[Any], **extra: Any) -> bytes:
            doc = {**head, "object": "chat.completion.chunk", "choices": choices, **extra}
            return b"data: " + orjson.dumps(doc) + b"\n\n"

        def delta(piece: dict[str, Any], reason: str | None = None, token: Any = None) -> bytes:
            chosen = {"content": [token], "refusal": None} if token else None
            return event([{"index": 0, "delta": piece, "logprobs": chosen, "finish_reason": reason}])

        events = []
        if calls:
            # as OpenAI does: the opening delta carries the role and the first call's head
            for c in calls:
                opening = {
                    "index": c.index,
                    "id": f"call_mock_{c.index}",
                    "type": "function",
                    "function": {"name": c.name, "arguments": ""},
                }
                head_delta: dict[str, Any] = {"tool_calls": [opening]}
                if not c.index:
                    head_delta = {"role": "assistant", "content": None, **head_delta}
                events.append(delta(head_delta))
                events += [
                    delta({"tool_calls": [{"index": c.index, "function": {"arguments": piece}}]})
                    for piece in split_words(c.arguments)
                ]
        else:
            events.append(delta({"role": "assistant", "content": ""}))
            events += [
                delta({"content": w}, token=logprobs[i] if logprobs else None) for i, w in enumerate(words)
            ]
        events.append(delta({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(event([], usage=usage))
        events.append(b"data: [DONE]\n\n")
        error = b'data: {"error": {"message": "mock stream error", "type": "server_error"}}\n\n'
        return await _stream(request, script, events, error)

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        begun = await self._begin(request, anthropic=True)
        if isinstance(begun, web.StreamResponse):
            return begun
        body, script, words, finish, calls = begun.body, begun.script, begun.words, begun.finish, begun.calls
        messages = body["messages"]
        stop_reason = {"length": "max_tokens", "tool_calls": "tool_use"}.get(finish, "end_turn")
        if calls:
            words = PIECES.findall(TOOL_PREAMBLE)
        output = len(words) + sum(len(call.arguments.split()) for call in calls)
        input_tokens = count_words(messages) + len(str(body.get("system", "")).split())
        message = {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "stop_sequence": None,
        }
        if not body.get("stream"):
            content: list[dict[str, Any]] = [{"type": "text", "text": "".join(words)}]
            content += [
                {"type": "tool_use", "id": f"toolu_mock_{c.index}", "name": c.name, "input": c.input}
                for c in calls
            ]
            doc = {
                **message,
                "content": content,
                "stop_reason": stop_reason,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": output,
                    "cache_read_input_tokens": 0,
                    "cache_creation_input_tokens": 0,
                },
            }
            if script.kind == "incomplete":
                del doc["content"]
            return web.Response(body=orjson.dumps(doc), content_type=_JSON)

        def event(kind: str, **fields: Any) -> bytes:
            data = orjson.dumps({"type": kind, **fields})
            return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

        start: dict[str, Any] = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }
        events = [
            event("message_start", message=start),
            event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
            event("ping"),
        ]
        events += [
            event("content_block_delta", index=0, delta={"type": "text_delta", "text": w}) for w in words
        ]
        events.append(event("content_block_stop", index=0))
        for c in calls:
            block = c.index + 1
            opening = {"type": "tool_use", "id": f"toolu_mock_{c.index}", "name": c.name, "input": {}}
            events.append(event("content_block_start", index=block, content_block=opening))
            events += [
                event(
                    "content_block_delta", index=block, delta={"type": "input_json_delta", "partial_json": p}
                )
                for p in ["", *split_words(c.arguments)]  # the API opens each input with an empty piece
            ]
            events.append(event("content_block_stop", index=block))
        events += [
            event(
                "message_delta",
                delta={"stop_reason": stop_reason, "stop_sequence": None},
                usage={"output_tokens": output},
            ),
            event("message_stop"),
        ]
        error = event("error", error={"type": "overloaded_error", "message": "mock stream error"})
        return await _stream(request, script, events, error)


def _error_response(
    status: int, *, anthropic: bool, message: str = "", retry_after: int | None = None
) -> web.Response:
    kind = _ERROR_TYPES.get(status, "api_error" if anthropic else "server_error")
    error = {"type": kind, "message": message or f"mock error {status}"}
    doc = {"type": "error", "error": error} if anthropic else {"error": {**error, "code": None}}
    headers = {"retry-after": str(retry_after)} if retry_after is not None else None
    return web.Response(status=status, body=orjson.dumps(doc), content_type=_JSON, headers=headers)


async def _stream(
    request: web.Request, script: Script, events: list[bytes], error: bytes
) -> web.StreamResponse:
    """Send ``events`` as SSE, applying the stream faults of ``script``."""
    resp = web.StreamResponse(headers=_SSE_HEADERS)
    await resp.prepare(request)
    if script.kind == "malformed":
        await resp.write(b"data: {this is not JSON\n\n")
    elif script.kind == "stream-error":
        await resp.write(b"".join(events[:2]) + error)
    elif script.kind == "cut":
        await resp.write(b"".join(events[: len(events) // 2]))
        if request.transport is not None:
            request.transport.close()  # no chunked terminator: the client sees a cut stream
        return resp
    elif script.stall_s:
        await resp.write(events[0] + events[1])
        await asyncio.sleep(script.stall_s)
        await resp.write(b"".join(events[2:]))
    else:
        # One write: the benchmark measures the gateway, not this server's syscalls.
        await resp.write(b"".join(events))
    await resp.write_eof()
    return resp


async def _serve(host: str, port: int, delay_ms: float, max_records: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with MockUpstream(host=host, port=port, delay_ms=delay_ms, max_records=max_records) as m:
        print(f"mock upstream listening on {m.root_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Run the mock upstream until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m runwell.testing.mock_upstream",
        description="Mock OpenAI/Anthropic upstream for tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay of every answer")
    parser.add_argument("--max-records", type=int, default=100, help="requests kept in memory")
    args = parser.parse_args(argv)
    try:
        import uvloop  # a faster loop so the upstream is never the benchmark's bottleneck

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(args.host, args.port, args.delay_ms, args.max_records))


if __name__ == "__main__":
    main()

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
``mock-error-<st>``   answers HTTP ``<st>`` with the API's error body (message ``mock error <st>``)
``mock-cut``          closes the connection half-way through a stream, or before a whole answer
``mock-malformed``    200 whose body (or first stream event) is not JSON
``mock-incomplete``   200 JSON without ``choices`` / ``content``
``mock-stream-error`` streams one piece, then the API's in-stream error object / ``error`` event
``mock-echo``         answers the last user message's text
anything else         answers :data:`DEFAULT_ANSWER`
====================  ==========================================================================

``max_tokens`` (or ``max_completion_tokens``) truncates the answer to that many words and sets the
finish reason to ``length`` / ``max_tokens``. Usage counts whitespace-separated words.

Command line (the gateway benchmark runs it as a subprocess; it prints one line with the URL
when ready and runs until SIGTERM)::

    python -m runwell.testing.mock_upstream --port 8001 [--host 127.0.0.1] [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

__all__ = ["DEFAULT_ANSWER", "MockUpstream", "RecordedRequest", "main"]

DEFAULT_ANSWER = "Hello from the mock upstream."
_PIECES = re.compile(r"\s*\S+|\s+")
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


@dataclass(frozen=True, slots=True)
class _Script:
    kind: str = "text"  # text | echo | error | cut | malformed | incomplete | stream-error
    delay_s: float = 0.0
    stall_s: float = 0.0
    status: int = 200


_PLAIN = _Script()


def _script(model: Any) -> _Script:
    if not isinstance(model, str) or not model.startswith("mock-"):
        return _PLAIN
    rest = model[5:]
    if rest in ("echo", "cut", "malformed", "incomplete", "stream-error"):
        return _Script(kind=rest)
    name, _, arg = rest.partition("-")
    try:
        if name == "slow":
            return _Script(delay_s=float(arg) / 1000)
        if name == "stall":
            return _Script(stall_s=float(arg) / 1000)
        if name == "error":
            return _Script(kind="error", status=int(arg))
    except ValueError:
        pass
    return _PLAIN


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


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

    async def _receive(self, request: web.Request) -> tuple[Any, _Script]:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        peer = request.transport.get_extra_info("peername") if request.transport else None
        where = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.requests.append(RecordedRequest(request.method, request.path, headers, body, where))
        script = _script(body.get("model")) if isinstance(body, dict) else _PLAIN
        delay = self.delay_s + script.delay_s
        if delay:
            await asyncio.sleep(delay)
        return body, script

    async def _begin(
        self, request: web.Request, *, anthropic: bool
    ) -> tuple[dict[str, Any], _Script, list[str], str] | web.StreamResponse:
        """A chat request's body, script and answer words, or the response that ends it early."""
        body, script = await self._receive(request)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error_response(400, anthropic=anthropic, message="need model and messages")
        if script.kind == "error":
            return _error_response(script.status, anthropic=anthropic)
        if not body.get("stream") and script.kind == "malformed":
            return web.Response(body=b"this is not JSON {", content_type=_JSON)
        if not body.get("stream") and script.kind == "cut" and request.transport is not None:
            request.transport.close()
            return web.Response()  # never sent: the connection is gone
        user = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        return (body, script, *_answer(script, user, body))

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self._receive(request)
        if self.models_status >= 300:
            return _error_response(self.models_status, anthropic=False)
        return web.Response(body=_MODELS, content_type=_JSON)

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        begun = await self._begin(request, anthropic=False)
        if isinstance(begun, web.StreamResponse):
            return begun
        body, script, words, finish = begun
        messages = body["messages"]
        usage = {
            "prompt_tokens": _count(messages),
            "completion_tokens": len(words),
            "total_tokens": _count(messages) + len(words),
            "prompt_tokens_details": {"cached_tokens": 0},
        }
        head = {"id": "chatcmpl-mock", "created": int(time.time()), "model": body.get("model")}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(words)}
            doc = {
                **head,
                "object": "chat.completion",
                "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            if script.kind == "incomplete":
                del doc["choices"]
            return web.Response(body=orjson.dumps(doc), content_type=_JSON)

        def event(choices: list[Any], **extra: Any) -> bytes:
            doc = {**head, "object": "chat.completion.chunk", "choices": choices, **extra}
            return b"data: " + orjson.dumps(doc) + b"\n\n"

        def delta(piece: dict[str, Any], reason: str | None = None) -> bytes:
            return event([{"index": 0, "delta": piece, "finish_reason": reason}])

        events = [delta({"role": "assistant", "content": ""})]
        events += [delta({"content": w}) for w in words]
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
        body, script, words, finish = begun
        messages = body["messages"]
        stop_reason = "max_tokens" if finish == "length" else "end_turn"
        input_tokens = _count(messages) + len(str(body.get("system", "")).split())
        message = {
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "stop_sequence": None,
        }
        if not body.get("stream"):
            doc = {
                **message,
                "content": [{"type": "text", "text": "".join(words)}],
                "stop_reason": stop_reason,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": len(words),
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
        events += [
            event("content_block_stop", index=0),
            event(
                "message_delta",
                delta={"stop_reason": stop_reason, "stop_sequence": None},
                usage={"output_tokens": len(words)},
            ),
            event("message_stop"),
        ]
        error = event("error", error={"type": "overloaded_error", "message": "mock stream error"})
        return await _stream(request, script, events, error)


def _answer(script: _Script, user: list[Any], body: dict[str, Any]) -> tuple[list[str], str]:
    text = _text(user[-1].get("content")) if script.kind == "echo" and user else DEFAULT_ANSWER
    words = _PIECES.findall(text)
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if isinstance(limit, int) and 0 < limit < len(words):
        return words[:limit], "length"
    return words, "stop"


def _count(messages: list[Any]) -> int:
    return sum(len(_text(m.get("content")).split()) for m in messages if isinstance(m, dict))


def _error_response(status: int, *, anthropic: bool, message: str = "") -> web.Response:
    kind = _ERROR_TYPES.get(status, "api_error" if anthropic else "server_error")
    error = {"type": kind, "message": message or f"mock error {status}"}
    doc = {"type": "error", "error": error} if anthropic else {"error": {**error, "code": None}}
    return web.Response(status=status, body=orjson.dumps(doc), content_type=_JSON)


async def _stream(
    request: web.Request, script: _Script, events: list[bytes], error: bytes
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

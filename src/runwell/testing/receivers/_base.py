"""What the HTTP receivers share: recording what arrived, injected faults, serving alone or mounted
in a :class:`~runwell.testing.receivers.hub.ReceiverHub`."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import orjson
from aiohttp import web

__all__ = ["JSON", "Answer", "HttpReceiver", "Received", "is_str", "parse_body", "serve"]

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Received:
    """One HTTP request as received: header names lower-cased, ``body`` parsed JSON (or text),
    the ``status`` answered, ``problems`` that made it a rejection, ``notes`` that did not."""

    channel: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    status: int
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (without the raw bytes)."""
        out = asdict(self)
        del out["raw"]
        return out


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int | None
    retry_after: float | None = None
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Answer:
    """What a receiver answers to one request, and what it found wrong (or noteworthy) in it."""

    status: int
    body: bytes
    content_type: str
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class HttpReceiver:
    """What the HTTP receivers share: recording, fault injection, serving alone or in a hub."""

    channel = "http"

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self.host = host
        self.port = port
        self.clock = clock
        self.received: list[Received] = []
        self._faults: deque[_Fault] = deque()
        self._runner: web.AppRunner | None = None

    @property
    def root_url(self) -> str:
        """``http://host:port`` once started (or mounted in a started hub)."""
        return f"http://{self.host}:{self.port}"

    def fail_next(self, count: int = 1, *, status: int = 429, retry_after: float | None = 1.0) -> None:
        """Answer ``status`` (with ``Retry-After`` when given) to the next ``count`` requests."""
        self._faults.extend(_Fault(status, retry_after) for _ in range(count))

    def stall_next(self, count: int = 1, *, seconds: float) -> None:
        """Wait ``seconds`` before answering the next ``count`` requests (to test timeouts)."""
        self._faults.extend(_Fault(None, None, seconds) for _ in range(count))

    def accepted(self) -> list[Received]:
        """The requests answered with a 2xx."""
        return [r for r in self.received if 200 <= r.status < 300]

    def routes(self) -> list[web.RouteDef]:
        """The routes this receiver serves."""
        raise NotImplementedError

    def answer(self, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """Check one request and say what to answer."""
        raise NotImplementedError

    def fault_body(self, status: int) -> tuple[bytes, str]:
        """The body of an injected fault answer."""
        return f"injected fault {status}".encode(), "text/plain"

    def snapshot(self) -> dict[str, Any]:
        """Everything received, JSON-ready, keyed by channel."""
        return {self.channel: [r.to_json() for r in self.received]}

    def reset(self) -> None:
        """Forget what was received and any armed fault."""
        self.received.clear()
        self._faults.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status is not None:
            body, ctype = self.fault_body(fault.status)
            answer = Answer(fault.status, body, ctype, notes=("injected fault",))
            extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        else:
            answer, extra = self.answer(request.path, headers, raw), {}
        self.received.append(
            Received(
                channel=self.channel,
                path=request.path,
                headers=headers,
                body=parse_body(raw),
                raw=raw,
                status=answer.status,
                problems=answer.problems,
                notes=answer.notes,
                at=self.clock(),
            )
        )
        return web.Response(
            status=answer.status, body=answer.body, content_type=answer.content_type, headers=extra
        )

    async def _received(self, _request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.snapshot()), content_type=JSON)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> Self:
        """Serve alone; ``port`` then holds the real port."""
        app = web.Application()
        app.router.add_routes([*self.routes(), web.get("/_received", self._received)])
        self._runner = await serve(app, self.host, self.port)
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop serving."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def parse_body(raw: bytes) -> Any:
    """``raw`` as JSON, else as text (``None`` when empty)."""
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Run ``app`` on ``host:port`` (0: any free port) without signal handling or access log."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner


def is_str(value: Any, *, max_len: int | None = None, empty: bool = False) -> bool:
    """Whether ``value`` is a (non-empty, unless ``empty``) string of at most ``max_len``."""
    return isinstance(value, str) and (empty or bool(value)) and (max_len is None or len(value) <= max_len)

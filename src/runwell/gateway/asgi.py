"""Small ASGI helpers: read a bounded body, send JSON, send OpenAI-style errors.

The gateway is a plain ASGI application rather than a framework app: the hot path is one route,
and skipping a routing/middleware stack keeps the per-request CPU cost low.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import orjson

from runwell.errors import RequestError

__all__ = [
    "BodyDeadlines",
    "BodyTimeout",
    "BodyTooLarge",
    "ClientGone",
    "GatewayBusy",
    "InflightBytes",
    "Receive",
    "Scope",
    "Send",
    "error_body",
    "header",
    "read_body",
    "send_bytes",
    "send_error",
    "send_json",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")


class BodyTooLarge(RequestError):
    """The request body exceeds the gateway's limit."""

    status = 413


class ClientGone(Exception):
    """The client disconnected before the request body was read."""


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case bytes), or ``None``."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


class BodyTimeout(RequestError):
    """The request body did not arrive in time."""

    status = 408


class InflightBytes:
    """A cap on request-body bytes buffered at once across every request of the gateway.

    Each body may be large (the per-request limit), but a crowd of slow clients sending large
    bodies must not grow the gateway's memory without bound: past the cap, a new body is refused
    with 503 until others finish. Used on the event loop only, so it needs no lock.
    """

    __slots__ = ("cap", "used")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0


class GatewayBusy(RequestError):
    """Too many request bytes are in flight; the client should retry shortly."""

    status = 503
    type = "server_error"


class BodyDeadlines:
    """Cuts off request bodies that arrive too slowly, with one timer for every request.

    ``asyncio.timeout`` per request schedules and cancels a timer on the event loop's heap, which
    was 18% of the chat handler's own time. Here a read registers its task and deadline in a dict
    (O(1)); a background job calls :meth:`expire` a few times a second and cancels the reads past
    their deadline, which then end with 408. A deadline is honoured within that job's period.
    """

    __slots__ = ("_clock", "_expired", "_reading", "timeout_s")

    def __init__(self, timeout_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()

    def begin(self) -> asyncio.Task[Any] | None:
        """Start timing the current task's read; returns the task to pass to :meth:`end`."""
        task = asyncio.current_task()
        if task is not None:
            self._reading[task] = self._clock() + self.timeout_s
        return task

    def end(self, task: asyncio.Task[Any] | None) -> None:
        """The read finished (or failed): stop timing it."""
        if task is not None:
            self._reading.pop(task, None)
            self._expired.discard(task)

    def expire(self) -> int:
        """Cancel every read past its deadline; returns how many."""
        now = self._clock()
        late = [task for task, deadline in self._reading.items() if deadline <= now]
        for task in late:
            del self._reading[task]
            self._expired.add(task)
            task.cancel()
        return len(late)

    def timed_out(self, task: asyncio.Task[Any] | None) -> bool:
        """Whether ``task`` was cancelled by :meth:`expire` (rather than by anything else)."""
        return task is not None and task in self._expired


async def read_body(
    receive: Receive,
    limit: int,
    *,
    deadlines: BodyDeadlines | None = None,
    timeout_s: float | None = None,
    inflight: InflightBytes | None = None,
) -> bytes:
    """Read the whole request body, refusing more than ``limit`` bytes.

    A client trickling its body is cut off with 408: by ``deadlines`` (the gateway's shared
    watchdog) or, without it, by ``timeout_s``. ``inflight`` caps the bytes buffered across all
    requests at once (503 past it).
    """
    if deadlines is not None:
        task = deadlines.begin()
        try:
            return await _read(receive, limit, inflight)
        except asyncio.CancelledError:
            if not deadlines.timed_out(task):
                raise
            assert task is not None
            task.uncancel()
            raise _body_timeout(deadlines.timeout_s) from None
        finally:
            deadlines.end(task)
    try:
        async with asyncio.timeout(timeout_s):
            return await _read(receive, limit, inflight)
    except TimeoutError:
        raise _body_timeout(timeout_s or 0.0) from None


def _body_timeout(seconds: float) -> BodyTimeout:
    return BodyTimeout(
        f"the request body did not arrive within {seconds:g}s; send it at once", code="body_timeout"
    )


async def _read(receive: Receive, limit: int, inflight: InflightBytes | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(
                        f"request body is larger than the gateway's limit of {limit} bytes; "
                        "shorten the messages or raise --max-body-bytes",
                        code="body_too_large",
                    )
                if inflight is not None:
                    if inflight.used + len(chunk) > inflight.cap:
                        raise GatewayBusy(
                            "the gateway is receiving too many large requests at once; retry shortly",
                            code="too_many_inflight_bytes",
                        )
                    inflight.used += len(chunk)
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
    finally:
        if inflight is not None:
            inflight.used -= sum(len(c) for c in chunks)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: Iterable[tuple[bytes, bytes]] = (),
    content_type: tuple[bytes, bytes] = _JSON,
) -> None:
    """Send a complete response."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [content_type, (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, payload: Any, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Send ``payload`` as JSON."""
    await send_bytes(send, status, orjson.dumps(payload), headers)


def error_body(
    message: str,
    *,
    type: str,
    request_id: str,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error object, plus the request id so a user can quote it."""
    return {
        "error": {
            "message": message,
            "type": type,
            "param": param,
            "code": code,
            "request_id": request_id,
        }
    }


async def send_error(
    send: Send,
    status: int,
    message: str,
    *,
    type: str,
    request_id: str,
    param: str | None = None,
    code: str | None = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Send an OpenAI-style error response with ``x-request-id``."""
    await send_json(
        send,
        status,
        error_body(message, type=type, request_id=request_id, param=param, code=code),
        [(b"x-request-id", request_id.encode()), *headers],
    )

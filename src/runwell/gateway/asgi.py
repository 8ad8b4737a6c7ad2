"""Small ASGI helpers: read a bounded body, send JSON, send OpenAI-style errors.

The gateway is a plain ASGI application rather than a framework app: the hot path is one route,
and skipping a routing/middleware stack keeps the per-request CPU cost low.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import orjson

from runwell.errors import RequestError

__all__ = [
    "BodyTooLarge",
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


async def read_body(receive: Receive, limit: int) -> bytes:
    """Read the whole request body, refusing more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
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
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
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

"""A small asyncio Redis client for the request path: RESP2 over pooled connections, scripts by SHA.

The budgets run two Redis commands per request (reserve before the model, settle after it). With
redis-py's asyncio client each costs about 150 us more than the round trip itself on our machines
(its connection and parser layers); this client sends the same bytes over ``asyncio`` streams and
costs about the round trip. It does only what the budgets need: ``EVALSHA`` (falling back to
``EVAL`` when Redis does not know the script yet), ``AUTH``, ``SELECT``, TLS with
``rediss://`` and Unix sockets with ``unix://``. Background jobs keep using redis-py.

Every call is bounded by ``timeout_s`` (waiting for a pooled connection, connecting, the reply);
a connection that failed or timed out is closed, never reused. Errors: :class:`RespError` for an
error reply, ``OSError``/``ConnectionError``/``TimeoutError`` for the transport.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from runwell.errors import ConfigError

__all__ = ["RespClient", "RespError", "Script"]


class RespError(Exception):
    """Redis answered with an error reply (``-ERR ...``, ``-NOSCRIPT ...``)."""


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and its SHA-1, as ``EVALSHA`` names it."""

    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> Script:
        """The script with its SHA-1."""
        return cls(source, hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest())


@dataclass(frozen=True, slots=True)
class _Target:
    host: str | None
    port: int
    path: str | None
    tls: bool
    username: str | None
    password: str | None
    db: int


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("use redis://HOST:PORT/DB, rediss:// for TLS, or unix:///PATH")
    query = parse_qs(parts.query)
    db_text = query.get("db", [""])[0] or (parts.path.strip("/") if scheme != "unix" else "") or "0"
    if not db_text.isdigit():
        raise ConfigError(f"the database number must be an integer, got {db_text!r}")
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return _Target(
        host=None if scheme == "unix" else (parts.hostname or "127.0.0.1"),
        port=port,
        path=unquote(parts.path) if scheme == "unix" else None,
        tls=scheme == "rediss",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        db=int(db_text),
    )


def _encode(args: tuple[Any, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


async def _read(reader: asyncio.StreamReader) -> Any:
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("Redis closed the connection in the middle of a reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        return (await reader.readexactly(size + 2))[:-2]
    if kind == b"*":
        size = int(rest)
        if size < 0:
            return None
        return [await _read(reader) for _ in range(size)]
    if kind == b"+":
        return rest
    if kind == b"-":
        return RespError(rest.decode("utf-8", "replace"))
    raise ConnectionError(f"unexpected reply from Redis: {line[:40]!r}")


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def call(self, *args: Any) -> Any:
        self.writer.write(_encode(args))
        return await _read(self.reader)

    def close(self) -> None:
        self.writer.close()


class RespClient:
    """Pooled connections to one Redis; see the module docstring."""

    def __init__(self, url: str, *, timeout_s: float, max_connections: int = 64) -> None:
        self._target = _target(url)
        self._timeout_s = timeout_s
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def evalsha(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` (by SHA; sent whole once if this Redis does not know it)."""
        async with asyncio.timeout(self._timeout_s):
            await self._slots.acquire()  # one of max_connections: a burst waits, bounded by timeout_s
            try:
                conn = self._idle.pop() if self._idle else await self._connect()
                try:
                    reply = await conn.call("EVALSHA", script.sha, len(keys), *keys, *args)
                    if isinstance(reply, RespError) and str(reply).startswith("NOSCRIPT"):
                        reply = await conn.call("EVAL", script.source, len(keys), *keys, *args)
                except BaseException:
                    conn.close()  # a half-read reply: the connection cannot be reused
                    raise
                self._idle.append(conn)
            finally:
                self._slots.release()
        if isinstance(reply, RespError):
            raise reply
        return reply

    async def aclose(self) -> None:
        """Close every idle connection (calls in flight close theirs when they end)."""
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    async def _connect(self) -> _Connection:
        t = self._target
        if t.path is not None:
            reader, writer = await asyncio.open_unix_connection(t.path)
        else:
            context = ssl.create_default_context() if t.tls else None
            reader, writer = await asyncio.open_connection(t.host, t.port, ssl=context)
        conn = _Connection(reader, writer)
        try:
            if t.password is not None:
                auth = ("AUTH", t.username, t.password) if t.username else ("AUTH", t.password)
                _check(await conn.call(*auth), "AUTH")
            if t.db:
                _check(await conn.call("SELECT", t.db), "SELECT")
        except BaseException:
            conn.close()
            raise
        return conn


def _check(reply: Any, what: str) -> None:
    if isinstance(reply, RespError):
        raise ConnectionError(f"Redis refused {what}: {reply}")

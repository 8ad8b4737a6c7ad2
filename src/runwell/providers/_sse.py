"""Incremental decoder of a server-sent events byte stream (WHATWG ``text/event-stream``).

Network reads split events anywhere, so the decoder buffers bytes and hands back only whole
events. It stays in bytes: the adapters compare event names and the ``[DONE]`` marker as bytes and
pass ``data`` straight to ``orjson.loads``, which saves a decode per event on the hot path.
Lines may end in ``\\n`` or ``\\r\\n``; a bare ``\\r`` line ending is not supported (no LLM API
sends one).
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "SSEEvent"]

SSEEvent = tuple[bytes | None, bytes]
"""``(event name or None, data)``; multi-line ``data`` fields are joined with ``\\n``."""


class SSEDecoder:
    """Feed raw chunks with :meth:`feed`; call :meth:`close` at end of stream."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._event: bytes | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Return the events completed by ``chunk`` (often none, sometimes several)."""
        buffer = self._buffer + chunk if self._buffer else chunk
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()  # the unterminated tail, b"" when chunk ended a line
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line[:-1] if line.endswith(b"\r") else line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream.

        The standard drops an event that lacks its closing blank line; we keep it, because a
        final ``data: [DONE]`` whose blank line got lost still means the upstream finished.
        """
        events: list[SSEEvent] = []
        if self._buffer:
            tail, self._buffer = self._buffer, b""
            self._line(tail[:-1] if tail.endswith(b"\r") else tail, events)
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append((self._event, b"\n".join(self._data)))
                self._data = []
            self._event = None
            return
        if line[0] == 0x3A:  # ":" starts a comment, used by upstreams as keep-alive pings
            return
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value
        # "id" and "retry" only matter to reconnecting browsers; an LLM stream is never resumed.

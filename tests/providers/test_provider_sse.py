"""The SSE decoder: whole events whatever the network splits."""

from __future__ import annotations

from runwell.providers._sse import SSEDecoder

STREAM = (
    b": keep-alive\r\n\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b"data: line one\ndata:line two\n\n"
    b"id: 7\nretry: 100\ndata: [DONE]\n\n"
)
EVENTS = [(b"message_start", b'{"a": 1}'), (None, b"line one\nline two"), (None, b"[DONE]")]


def test_events_survive_any_split_of_the_bytes() -> None:
    for size in (1, 2, 3, 7, 64, len(STREAM)):
        decoder = SSEDecoder()
        events = []
        for start in range(0, len(STREAM), size):
            events += decoder.feed(STREAM[start : start + size])
        events += decoder.close()
        assert events == EVENTS, size


def test_event_name_does_not_leak_into_the_next_event() -> None:
    decoder = SSEDecoder()

    events = decoder.feed(b"event: ping\ndata: {}\n\ndata: x\n\n")

    assert events == [(b"ping", b"{}"), (None, b"x")]


def test_close_keeps_a_last_event_without_its_blank_line() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.close() == [(None, b"[DONE]")]

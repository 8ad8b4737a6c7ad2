"""The openai adapter's tool calls and logprobs, whole and streamed, against the mock upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runwell.providers import ChatRequest, Provider, Timeouts, build_provider
from runwell.providers.openai import _chunk
from runwell.spec.providers import OpenAIProviderConfig
from runwell.testing.mock_upstream import DEFAULT_ANSWER, MockUpstream
from tests.providers._tool_calls import TOOLS, WEATHER, assemble, collect

ASK = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
async def provider(upstream: MockUpstream, timeouts: Timeouts) -> AsyncIterator[Provider]:
    config = OpenAIProviderConfig(kind="openai", base_url=upstream.base_url, api_key_env=None)
    provider = build_provider("main", config, timeouts=timeouts)
    yield provider
    await provider.aclose()


def request(messages: list[dict[str, Any]] = ASK, model: str = "mock-tools", **params: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, params={"tools": TOOLS, **params})


def expected_calls(*names: str, query: str = "Weather in Paris?") -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_mock_{i}",
            "type": "function",
            "function": {"name": name, "arguments": orjson.dumps({"query": query, "call": i}).decode()},
        }
        for i, name in enumerate(names)
    ]


async def test_complete_returns_parallel_tool_calls(provider: Provider) -> None:
    result = await provider.complete(request(), timeout=5)

    assert result.finish_reason == "tool_calls"
    assert result.content is None
    assert result.tool_calls == expected_calls("get_weather", "get_time")
    assert result.logprobs is None


async def test_stream_forwards_every_tool_call_delta(provider: Provider) -> None:
    chunks = await collect(provider.stream(request(), timeout=5))

    assert assemble(chunks) == expected_calls("get_weather", "get_time")
    tool_chunks = [c for c in chunks if c.tool_calls]
    # each call: one opening delta, then its arguments in several pieces
    assert tool_chunks[0].tool_calls == [
        {
            "index": 0,
            "id": "call_mock_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]
    assert sum(1 for c in tool_chunks if c.tool_calls[0]["index"] == 1) > 2
    assert all(c.content is None and c.finish_reason is None for c in tool_chunks)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens


async def test_tool_parameters_and_round_trip_messages_pass_through_unchanged(
    provider: Provider, upstream: MockUpstream
) -> None:
    first = await provider.complete(request(tool_choice="auto", parallel_tool_calls=True), timeout=5)
    assert first.tool_calls is not None
    history = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": first.tool_calls},
        {"role": "tool", "tool_call_id": "call_mock_0", "content": "18 C and sunny"},
        {"role": "tool", "tool_call_id": "call_mock_1", "content": "14:05"},
    ]

    chunks = await collect(provider.stream(request(history, tool_choice="auto"), timeout=5))

    assert "".join(c.content or "" for c in chunks) == "Tool results: 18 C and sunny; 14:05"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    first_sent, second_sent = (r.body for r in upstream.requests)
    assert first_sent["tools"] == TOOLS
    assert (first_sent["tool_choice"], first_sent["parallel_tool_calls"]) == ("auto", True)
    assert second_sent["messages"] == history


@pytest.mark.parametrize("stream", [False, True])
async def test_named_tool_choice_and_no_parallel_calls_reach_the_upstream(
    provider: Provider, upstream: MockUpstream, stream: bool
) -> None:
    named = {"type": "function", "function": {"name": "get_time"}}
    req = request(tool_choice=named, parallel_tool_calls=False)

    if stream:
        calls = assemble(await collect(provider.stream(req, timeout=5)))
    else:
        calls = (await provider.complete(req, timeout=5)).tool_calls or []

    assert upstream.requests[-1].body["tool_choice"] == named
    assert upstream.requests[-1].body["parallel_tool_calls"] is False
    assert calls == expected_calls("get_time")


async def test_tool_choice_none_gets_text(provider: Provider) -> None:
    result = await provider.complete(request(tool_choice="none"), timeout=5)

    assert (result.content, result.tool_calls, result.finish_reason) == (DEFAULT_ANSWER, None, "stop")


async def test_single_tool_is_called_twice_in_parallel(provider: Provider) -> None:
    result = await provider.complete(
        ChatRequest(model="mock-tools", messages=ASK, params={"tools": [WEATHER]}), timeout=5
    )

    assert result.tool_calls == expected_calls("get_weather", "get_weather")


async def test_complete_passes_logprobs_through(provider: Provider, upstream: MockUpstream) -> None:
    req = ChatRequest(model="mock-logprobs", messages=ASK, params={"logprobs": True, "top_logprobs": 2})

    result = await provider.complete(req, timeout=5)

    assert upstream.requests[-1].body["top_logprobs"] == 2
    assert result.logprobs is not None
    tokens = result.logprobs["content"]
    assert "".join(t["token"] for t in tokens) == DEFAULT_ANSWER == result.content
    assert tokens[0] == {
        "token": "Hello",
        "logprob": -0.125,
        "bytes": list(b"Hello"),
        "top_logprobs": [
            {"token": "Hello", "logprob": -0.125, "bytes": list(b"Hello")},
            {"token": "Hello~1", "logprob": -1.125, "bytes": list(b"Hello~1")},
        ],
    }


async def test_stream_passes_each_chunks_logprobs_through(provider: Provider) -> None:
    req = ChatRequest(model="mock-logprobs", messages=ASK, params={"logprobs": True})

    chunks = await collect(provider.stream(req, timeout=5))

    pieces = [c for c in chunks if c.content]
    assert pieces and all(c.logprobs is not None for c in pieces)
    assert [c.logprobs["content"][0]["token"] for c in pieces if c.logprobs] == [c.content for c in pieces]
    assert [c.logprobs["content"][0]["logprob"] for c in pieces if c.logprobs][:2] == [-0.125, -0.25]


@pytest.mark.parametrize("stream", [False, True])
async def test_no_logprobs_unless_asked(provider: Provider, stream: bool) -> None:
    req = ChatRequest(model="mock-logprobs", messages=ASK)

    if stream:
        assert all(c.logprobs is None for c in await collect(provider.stream(req, timeout=5)))
    else:
        assert (await provider.complete(req, timeout=5)).logprobs is None


def test_stream_delta_without_index_gets_its_position() -> None:
    # white-box: some OpenAI-compatible servers omit the index; no mock needed to check the repair
    event = {
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                    ]
                },
                "finish_reason": None,
            }
        ],
    }

    chunk = _chunk("main", orjson.dumps(event), "m")

    assert chunk is not None and chunk.tool_calls is not None
    assert [(c["index"], c["id"]) for c in chunk.tool_calls] == [(0, "a"), (1, "b")]


def test_stream_event_with_null_logprobs_and_empty_delta_is_skipped() -> None:
    event = {"model": "m", "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}]}

    assert _chunk("main", orjson.dumps(event), "m") is None

"""The anthropic adapter's tool calling: OpenAI tools, choices and tool messages mapped onto the
Messages API, and tool_use answers (whole and streamed) mapped back to OpenAI tool calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runwell.errors import ProviderError
from runwell.providers import ChatRequest, Provider, Timeouts, build_provider
from runwell.providers.anthropic import _StreamState
from runwell.spec.providers import AnthropicProviderConfig
from runwell.testing.mock_upstream import DEFAULT_ANSWER, MockUpstream
from tests.providers._tool_calls import TOOLS, WEATHER, assemble, collect

ASK = [{"role": "user", "content": "Weather in Paris?"}]
CALLS = [
    {
        "id": "toolu_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    },
    {"id": "toolu_b", "type": "function", "function": {"name": "get_time", "arguments": ""}},
]


@pytest.fixture
async def provider(upstream: MockUpstream, timeouts: Timeouts) -> AsyncIterator[Provider]:
    config = AnthropicProviderConfig(kind="anthropic", base_url=upstream.root_url, api_key_env=None)
    provider = build_provider("claude", config, timeouts=timeouts)
    yield provider
    await provider.aclose()


def request(messages: list[dict[str, Any]] = ASK, model: str = "mock-tools", **params: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=messages, params={"tools": TOOLS, **params})


def expected_calls(*names: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"toolu_mock_{i}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": orjson.dumps({"query": "Weather in Paris?", "call": i}).decode(),
            },
        }
        for i, name in enumerate(names)
    ]


async def test_tools_are_sent_as_messages_api_tools(provider: Provider, upstream: MockUpstream) -> None:
    await provider.complete(request(), timeout=5)

    sent = upstream.requests[-1].body
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "input_schema": WEATHER["function"]["parameters"],
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in sent  # the API's default is auto
    assert "parallel_tool_calls" not in sent


@pytest.mark.parametrize(
    ("params", "sent"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_time"}}},
            {"type": "tool", "name": "get_time"},
        ),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"tool_choice": "auto", "parallel_tool_calls": True}, {"type": "auto"}),
    ],
)
async def test_tool_choice_is_mapped(
    provider: Provider, upstream: MockUpstream, params: dict[str, Any], sent: dict[str, Any]
) -> None:
    await provider.complete(request(**params), timeout=5)

    assert upstream.requests[-1].body["tool_choice"] == sent


async def test_complete_maps_tool_use_blocks_to_tool_calls(provider: Provider) -> None:
    result = await provider.complete(request(), timeout=5)

    assert result.finish_reason == "tool_calls"
    assert result.content == "Let me check."  # the text block before the tool_use blocks
    assert result.tool_calls == expected_calls("get_weather", "get_time")
    assert result.logprobs is None


async def test_stream_maps_tool_use_events_to_tool_call_deltas(provider: Provider) -> None:
    chunks = await collect(provider.stream(request(), timeout=5))

    assert "".join(c.content or "" for c in chunks) == "Let me check."
    assert assemble(chunks) == expected_calls("get_weather", "get_time")
    openings = [c.tool_calls[0] for c in chunks if c.tool_calls and "id" in c.tool_calls[0]]
    assert openings == [
        {
            "index": 0,
            "id": "toolu_mock_0",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        },
        {
            "index": 1,
            "id": "toolu_mock_1",
            "type": "function",
            "function": {"name": "get_time", "arguments": ""},
        },
    ]
    # arguments arrive in several input_json_delta pieces; empty pieces are not forwarded
    pieces = [
        c.tool_calls[0]["function"]["arguments"]
        for c in chunks
        if c.tool_calls and "id" not in c.tool_calls[0]
    ]
    assert len(pieces) > 4 and all(pieces)
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "get_time"}}}, ["get_time"]),
        ({"parallel_tool_calls": False}, ["get_weather"]),
    ],
)
async def test_mapped_choice_is_obeyed_by_the_upstream(
    provider: Provider, params: dict[str, Any], names: list[str]
) -> None:
    result = await provider.complete(request(**params), timeout=5)

    assert [c["function"]["name"] for c in result.tool_calls or []] == names


async def test_tool_choice_none_gets_text(provider: Provider) -> None:
    result = await provider.complete(request(tool_choice="none"), timeout=5)

    assert (result.content, result.tool_calls, result.finish_reason) == (DEFAULT_ANSWER, None, "stop")


async def test_round_trip_maps_tool_calls_and_results(provider: Provider, upstream: MockUpstream) -> None:
    history = [
        {"role": "system", "content": "Use the tools."},
        *ASK,
        {"role": "assistant", "content": "Checking both.", "tool_calls": CALLS},
        {"role": "tool", "tool_call_id": "toolu_a", "content": "18 C and sunny"},
        {"role": "tool", "tool_call_id": "toolu_b", "content": [{"type": "text", "text": "14:05"}]},
    ]

    result = await provider.complete(request(history), timeout=5)
    chunks = await collect(provider.stream(request(history), timeout=5))

    assert result.content == "Tool results: 18 C and sunny; 14:05"
    assert result.finish_reason == "stop"
    assert "".join(c.content or "" for c in chunks) == result.content
    assert upstream.requests[-1].body["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18 C and sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "14:05"},
            ],
        },
    ]


async def test_assistant_without_text_and_a_user_after_results(
    provider: Provider, upstream: MockUpstream
) -> None:
    history = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": CALLS[:1]},
        {"role": "tool", "tool_call_id": "toolu_a", "content": "18 C"},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "assistant", "content": "Warmer."},
    ]

    await provider.complete(request(history), timeout=5)

    sent = upstream.requests[-1].body["messages"]
    assert sent[1]["content"] == [
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    # the user's words join the results' turn, after them, as the API wants
    assert sent[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18 C"},
            {"type": "text", "text": "And tomorrow?"},
        ],
    }
    assert sent[3] == {"role": "assistant", "content": "Warmer."}


@pytest.mark.parametrize(
    ("messages", "params", "says"),
    [
        (
            [
                *ASK,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{**CALLS[0], "function": {"name": "f", "arguments": '{"city": '}}],
                },
            ],
            {},
            "messages[1].tool_calls[0].function.arguments is not a JSON object",
        ),
        (
            [
                *ASK,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{**CALLS[0], "function": {"name": "f", "arguments": "[1]"}}],
                },
            ],
            {},
            "is not a JSON object",
        ),
        (
            [*ASK, {"role": "assistant", "tool_calls": [{"type": "function"}]}],
            {},
            "messages[1].tool_calls[0] needs an id",
        ),
        ([*ASK, {"role": "tool", "content": "42"}], {}, "messages[1] (role 'tool') has no tool_call_id"),
        ([{"role": "function", "name": "f", "content": "42"}], {}, "role 'function' cannot be sent"),
        (ASK, {"tools": [{"type": "web_search"}]}, "tools[0] cannot be sent"),
        (ASK, {"tools": [WEATHER, {"type": "function"}]}, "tools[1] cannot be sent"),
        (ASK, {"tool_choice": "sometimes"}, "tool_choice 'sometimes' cannot be sent"),
        (ASK, {"tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name"),
    ],
)
async def test_tool_requests_the_api_cannot_take_are_invalid(
    provider: Provider,
    upstream: MockUpstream,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    says: str,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(ChatRequest(model="mock-tools", messages=messages, params=params), timeout=5)

    assert caught.value.error_class == "invalid_request"
    assert says in str(caught.value)
    assert not upstream.requests  # refused before sending


def event(kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"type": kind, **fields})


def test_stream_tool_use_without_input_deltas_gets_empty_object_arguments() -> None:
    # white-box: the mock always streams input; a call of a function without parameters may not
    state = _StreamState("claude")
    block = {"type": "tool_use", "id": "toolu_x", "name": "get_time", "input": {}}

    chunks = [
        state.apply("claude", event("content_block_start", index=0, content_block=block)),
        state.apply(
            "claude",
            event("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": ""}),
        ),
        state.apply("claude", event("content_block_stop", index=0)),
    ]

    assert assemble([c for c in chunks if c is not None]) == [
        {"id": "toolu_x", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    ]


def test_stream_ignores_server_tool_input_and_stops_of_text_blocks() -> None:
    state = _StreamState("claude")
    server = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}

    chunks = [
        state.apply(
            "claude", event("content_block_start", index=0, content_block={"type": "text", "text": ""})
        ),
        state.apply("claude", event("content_block_stop", index=0)),
        state.apply("claude", event("content_block_start", index=1, content_block=server)),
        state.apply(
            "claude",
            event(
                "content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"q": 1}'}
            ),
        ),
        state.apply("claude", event("content_block_stop", index=1)),
    ]

    assert chunks == [None] * 5

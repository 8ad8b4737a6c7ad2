"""The sim provider's scripted tool calls (mode: tool), whole and streamed, and the round trip."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from runwell.errors import ConfigError, ProviderError
from runwell.providers import ChatChunk, ChatRequest
from runwell.providers.sim import ARGUMENT_PIECE, SimProvider
from runwell.spec.providers import SimProviderConfig
from tests.providers._tool_calls import TOOLS, assemble, collect

ASK = [{"role": "user", "content": "Weather and time in Paris?"}]
SCRIPTED = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    {"name": "get_time", "arguments": {"zone": "Europe/Paris"}},
]


def sim(**fields: Any) -> SimProvider:
    fields = {"mode": "tool", "tool_calls": SCRIPTED, "text": "No tools needed.", **fields}
    return SimProvider("sim-t", SimProviderConfig(kind="sim", **fields))


def request(messages: list[dict[str, Any]] = ASK, **params: Any) -> ChatRequest:
    return ChatRequest(model="sim-model", messages=messages, params={"tools": TOOLS, **params})


def calls(*ids: int, scripted: list[dict[str, Any]] = SCRIPTED) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_sim_{n}",
            "type": "function",
            "function": {"name": call["name"], "arguments": orjson.dumps(call["arguments"]).decode()},
        }
        for n, call in zip(ids, scripted, strict=False)
    ]


async def test_complete_answers_the_scripted_calls_in_parallel() -> None:
    result = await sim().complete(request(), timeout=1)

    assert result.tool_calls == calls(1, 2)
    assert (result.content, result.finish_reason) == (None, "tool_calls")
    assert result.usage.output_tokens == 4  # each call's name and arguments, as words


async def test_stream_splits_each_calls_arguments_over_several_deltas() -> None:
    chunks = await collect(sim().stream(request(), timeout=1))

    assert assemble(chunks) == calls(1, 2)
    weather = [c.tool_calls[0] for c in chunks if c.tool_calls and c.tool_calls[0]["index"] == 0]
    arguments = orjson.dumps(SCRIPTED[0]["arguments"]).decode()
    assert len(weather) == 1 + -(-len(arguments) // ARGUMENT_PIECE) and len(weather) > 3
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 4
    assert all(c.content is None for c in chunks)


async def test_call_ids_count_up_across_calls() -> None:
    provider = sim()

    await provider.complete(request(), timeout=1)
    second = await provider.complete(request(), timeout=1)

    assert [c["id"] for c in second.tool_calls or []] == ["call_sim_3", "call_sim_4"]


async def test_tool_results_are_quoted_in_a_text_answer() -> None:
    provider = sim()
    first = await provider.complete(request(), timeout=1)
    history = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": first.tool_calls},
        {"role": "tool", "tool_call_id": "call_sim_1", "content": "18 C"},
        {"role": "tool", "tool_call_id": "call_sim_2", "content": [{"type": "text", "text": "14:05"}]},
    ]

    whole = await provider.complete(request(history), timeout=1)
    chunks = await collect(provider.stream(request(history), timeout=1))

    assert (whole.content, whole.finish_reason, whole.tool_calls) == (
        "Tool results: 18 C; 14:05",
        "stop",
        None,
    )
    assert "".join(c.content or "" for c in chunks) == whole.content
    assert not any(c.tool_calls for c in chunks)


@pytest.mark.parametrize(
    "req",
    [
        ChatRequest(model="sim-model", messages=ASK),
        request(tool_choice="none"),
    ],
    ids=["no tools", "tool_choice none"],
)
async def test_without_tools_to_call_it_answers_text(req: ChatRequest) -> None:
    result = await sim(answers={"Weather and time in Paris?": "Sunny, noon."}).complete(req, timeout=1)

    assert (result.content, result.tool_calls, result.finish_reason) == ("Sunny, noon.", None, "stop")


async def test_parallel_tool_calls_false_makes_one_call() -> None:
    result = await sim().complete(request(parallel_tool_calls=False), timeout=1)

    assert result.tool_calls == calls(1)


async def test_string_arguments_are_sent_as_they_are() -> None:
    provider = sim(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Par'}])

    chunks = await collect(provider.stream(request(), timeout=1))

    assert assemble(chunks)[0]["function"]["arguments"] == '{"city": "Par'


async def test_cut_stream_cuts_tool_call_deltas_too() -> None:
    received: list[ChatChunk] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in sim(cut_stream_rate=1.0).stream(request(), timeout=1):
            received.append(chunk)

    assert caught.value.error_class == "stream_cut"
    assert received and all(c.tool_calls for c in received)
    assert all(c.finish_reason is None for c in received)


def test_tool_mode_without_tool_calls_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="mode 'tool' needs a non-empty tool_calls list"):
        SimProvider("sim-t", SimProviderConfig(kind="sim", mode="tool"))


async def test_other_modes_ignore_tools() -> None:
    provider = SimProvider("s", SimProviderConfig(kind="sim", text="plain", tool_calls=SCRIPTED))

    result = await provider.complete(request(), timeout=1)

    assert (result.content, result.tool_calls) == ("plain", None)

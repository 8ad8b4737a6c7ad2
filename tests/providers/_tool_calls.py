"""Helpers shared by the tool-calling tests: OpenAI-shaped tools and a stream-delta assembler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from runwell.providers import ChatChunk

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
TOOLS = [WEATHER, TIME]


async def collect(stream: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    return [chunk async for chunk in stream]


def assemble(chunks: list[ChatChunk]) -> list[dict[str, Any]]:
    """Whole tool calls from streamed deltas, the way the openai SDK assembles them.

    Also checks the delta contract clients rely on: ``id``, ``type`` and ``name`` come on a call's
    first delta only, every delta names its call by ``index``.
    """
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for delta in chunk.tool_calls or ():
            index = delta["index"]
            if index not in calls:
                assert delta["type"] == "function" and delta["id"] and delta["function"]["name"]
                calls[index] = {
                    "id": delta["id"],
                    "type": "function",
                    "function": {"name": delta["function"]["name"], "arguments": ""},
                }
            else:
                assert "id" not in delta and "name" not in delta["function"], delta
            calls[index]["function"]["arguments"] += delta["function"].get("arguments") or ""
    assert sorted(calls) == list(range(len(calls)))
    return [calls[i] for i in sorted(calls)]

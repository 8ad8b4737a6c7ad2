"""The mock upstream's command line, as the gateway benchmark runs it, and its wire formats as an
SDK reads them."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from typing import Any

import aiohttp
import openai
import orjson

from runwell.providers._sse import SSEDecoder
from runwell.testing.mock_upstream import MockUpstream
from tests.providers._tool_calls import TOOLS


def test_cli_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runwell.testing.mock_upstream", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("mock upstream listening on http://127.0.0.1:")
        root = line.rsplit(" ", 1)[1].strip()
        body = orjson.dumps({"model": "mock-echo", "messages": [{"role": "user", "content": "ping"}]})
        post = urllib.request.Request(
            f"{root}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(post, timeout=5) as resp:
            answer = orjson.loads(resp.read())
        assert answer["choices"][0]["message"]["content"] == "ping"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


async def test_openai_tool_calls_follow_the_wire_format_the_sdk_reads(upstream: MockUpstream) -> None:
    client = openai.AsyncOpenAI(base_url=upstream.base_url, api_key="test", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "Weather?"}]
    try:
        whole = await client.chat.completions.create(model="mock-tools", messages=messages, tools=TOOLS)
        raw = [
            c
            async for c in await client.chat.completions.create(
                model="mock-tools", messages=messages, tools=TOOLS, stream=True
            )
        ]
        async with client.chat.completions.stream(
            model="mock-tools", messages=messages, tools=TOOLS
        ) as stream:
            streamed = await stream.get_final_completion()
    finally:
        await client.close()

    for completion in (whole, streamed):
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert [
            (c.id, c.function.name, orjson.loads(c.function.arguments))
            for c in choice.message.tool_calls or []
        ] == [
            ("call_mock_0", "get_weather", {"query": "Weather?", "call": 0}),
            ("call_mock_1", "get_time", {"query": "Weather?", "call": 1}),
        ]
    deltas = [d for chunk in raw for choice in chunk.choices for d in choice.delta.tool_calls or []]
    assert [d.index for d in deltas if d.id] == [0, 1]  # id and name only on each call's first delta
    assert sum(1 for d in deltas if d.index == 1 and not d.id) > 2  # arguments split across chunks


async def test_openai_logprobs_follow_the_wire_format_the_sdk_reads(upstream: MockUpstream) -> None:
    client = openai.AsyncOpenAI(base_url=upstream.base_url, api_key="test", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "Hi"}]
    try:
        whole = await client.chat.completions.create(
            model="mock-logprobs", messages=messages, logprobs=True, top_logprobs=3
        )
        raw = [
            c
            async for c in await client.chat.completions.create(
                model="mock-logprobs", messages=messages, logprobs=True, stream=True
            )
        ]
    finally:
        await client.close()

    logprobs = whole.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert "".join(t.token for t in logprobs.content) == whole.choices[0].message.content
    assert [len(t.top_logprobs) for t in logprobs.content] == [3] * len(logprobs.content)
    streamed = [c.choices[0] for c in raw if c.choices and c.choices[0].delta.content]
    assert all(
        ch.logprobs and ch.logprobs.content and ch.logprobs.content[0].token == ch.delta.content
        for ch in streamed
    )


async def test_anthropic_tool_use_stream_sends_the_api_events(upstream: MockUpstream) -> None:
    body = {
        "model": "mock-tools",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "Weather?"}],
    }
    body["tools"] = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{upstream.root_url}/v1/messages", json=body) as resp,
    ):
        events = [orjson.loads(data) for _name, data in SSEDecoder().feed(await resp.read())]

    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    tool_starts = [
        e for e in events if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use"
    ]
    assert [(e["index"], e["content_block"]["id"], e["content_block"]["input"]) for e in tool_starts] == [
        (1, "toolu_mock_0", {}),
        (2, "toolu_mock_1", {}),
    ]
    for block in (1, 2):
        pieces = [
            e["delta"]["partial_json"]
            for e in events
            if e["type"] == "content_block_delta" and e["index"] == block
        ]
        assert pieces[0] == "" and len(pieces) > 3
        assert orjson.loads("".join(pieces)) == {"query": "Weather?", "call": block - 1}
        assert {"type": "content_block_stop", "index": block} in events
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert kinds[-1] == "message_stop"

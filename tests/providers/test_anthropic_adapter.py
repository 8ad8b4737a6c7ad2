"""The anthropic adapter: OpenAI-shaped requests mapped onto the Messages API and back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from runwell.errors import ProviderError, ProviderTimeout
from runwell.providers import ChatChunk, ChatRequest, Provider, Timeouts, build_provider
from runwell.spec.providers import AnthropicProviderConfig
from runwell.testing.mock_upstream import DEFAULT_ANSWER, MockUpstream

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "developer", "content": "Answer in English."},
    {
        "role": "user",
        "content": [{"type": "text", "text": "Capital"}, {"type": "text", "text": "of France?"}],
    },
    {"role": "assistant", "content": "Which country?"},
    {"role": "user", "content": "France."},
]


@pytest.fixture
async def provider(
    upstream: MockUpstream, timeouts: Timeouts, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Provider]:
    monkeypatch.setenv("RUNWELL_TEST_ANTHROPIC_KEY", "ak-test-1")
    config = AnthropicProviderConfig(
        kind="anthropic",
        base_url=upstream.root_url,
        api_key_env="RUNWELL_TEST_ANTHROPIC_KEY",
        default_max_tokens=321,
    )
    provider = build_provider("claude", config, timeouts=timeouts)
    yield provider
    await provider.aclose()


def request(model: str = "claude-test", **params: object) -> ChatRequest:
    return ChatRequest(model=model, messages=MESSAGES, params=dict(params))


async def collect(stream: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    return [chunk async for chunk in stream]


async def call(provider: Provider, req: ChatRequest, *, stream: bool, timeout: float = 5) -> None:
    """One whole or streamed call, consumed to the end."""
    if stream:
        await collect(provider.stream(req, timeout=timeout))
    else:
        await provider.complete(req, timeout=timeout)


async def test_request_is_mapped_to_the_messages_api(provider: Provider, upstream: MockUpstream) -> None:
    req = ChatRequest(
        model="claude-test",
        messages=MESSAGES,
        params={
            "max_completion_tokens": 50,
            "temperature": 0.3,
            "top_p": 0.9,
            "stop": "END",
            "seed": 7,
            "response_format": {"type": "json_object"},
        },
        user="user-42",
    )
    await provider.complete(req, timeout=5)

    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "ak-test-1"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert sent.body == {
        "model": "claude-test",
        "system": "Be brief.\n\nAnswer in English.",
        "messages": [
            {"role": "user", "content": "Capital\nof France?"},
            {"role": "assistant", "content": "Which country?"},
            {"role": "user", "content": "France."},
        ],
        "max_tokens": 50,
        "temperature": 0.3,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-42"},
    }


async def test_max_tokens_defaults_to_config_and_stop_list_passes(
    provider: Provider, upstream: MockUpstream
) -> None:
    await provider.complete(request(stop=["A", "B"]), timeout=5)
    sent = upstream.requests[-1].body
    assert sent["max_tokens"] == 321
    assert sent["stop_sequences"] == ["A", "B"]
    assert "system" in sent and "metadata" not in sent

    await provider.complete(request(max_tokens=12), timeout=5)
    assert upstream.requests[-1].body["max_tokens"] == 12


async def test_complete_maps_content_finish_and_usage(provider: Provider) -> None:
    result = await provider.complete(request(), timeout=5)

    assert result.content == DEFAULT_ANSWER
    assert result.finish_reason == "stop"  # end_turn
    assert result.response_model == "claude-test"
    assert result.usage.output_tokens == len(DEFAULT_ANSWER.split())
    assert result.usage.input_tokens == 11  # words of the messages and the system prompt
    assert result.usage.cached_tokens == 0


async def test_max_tokens_stop_reason_is_finish_length(provider: Provider) -> None:
    result = await provider.complete(request(max_tokens=2), timeout=5)

    assert (result.content, result.finish_reason) == ("Hello from", "length")


async def test_stream_yields_text_then_finish_with_usage(provider: Provider, upstream: MockUpstream) -> None:
    chunks = await collect(provider.stream(request("mock-echo"), timeout=5))

    assert "".join(c.content or "" for c in chunks) == "France."
    last = chunks[-1]
    assert last.finish_reason == "stop"
    assert last.usage is not None
    assert (last.usage.input_tokens, last.usage.output_tokens) == (11, 1)
    assert all(c.response_model == "mock-echo" for c in chunks)
    assert upstream.requests[-1].body["stream"] is True


async def test_stream_max_tokens_is_finish_length(provider: Provider) -> None:
    chunks = await collect(provider.stream(request(max_tokens=1), timeout=5))

    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]


@pytest.mark.parametrize("stream", [False, True])
async def test_http_error_keeps_status_and_upstream_message(provider: Provider, stream: bool) -> None:
    with pytest.raises(ProviderError) as caught:
        await call(provider, request("mock-error-529"), stream=stream)

    assert caught.value.error_class == "upstream_http_529"
    assert caught.value.upstream_status == 529
    assert "mock error 529" in str(caught.value)


@pytest.mark.parametrize("model", ["mock-malformed", "mock-incomplete"])
async def test_answer_that_is_not_the_api_is_malformed(provider: Provider, model: str) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(request(model), timeout=5)

    assert caught.value.error_class == "malformed_response"


async def test_error_event_in_stream_is_upstream_stream_error(provider: Provider) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(provider.stream(request("mock-stream-error"), timeout=5))

    assert caught.value.error_class == "upstream_stream_error"
    assert "overloaded_error" in str(caught.value)


async def test_stream_closed_before_message_stop_is_stream_cut(provider: Provider) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(provider.stream(request("mock-cut"), timeout=5))

    assert caught.value.error_class == "stream_cut"


async def test_slow_upstream_times_out(provider: Provider) -> None:
    with pytest.raises(ProviderTimeout):
        await provider.complete(request("mock-slow-2000"), timeout=0.2)
    with pytest.raises(ProviderTimeout):
        await collect(provider.stream(request("mock-slow-2000"), timeout=0.2))


async def test_nothing_listening_is_connect_error(closed_port: int, timeouts: Timeouts) -> None:
    config = AnthropicProviderConfig(
        kind="anthropic", base_url=f"http://127.0.0.1:{closed_port}", api_key_env=None
    )
    provider = build_provider("claude", config, timeouts=timeouts)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(request(), timeout=5)
    finally:
        await provider.aclose()

    assert caught.value.error_class == "connect_error"


@pytest.mark.parametrize(
    "message",
    [
        {"role": "function", "name": "f", "content": "42"},
        {"role": "user", "content": [{"type": "image_url"}]},
    ],
)
async def test_message_the_api_cannot_take_is_an_invalid_request(
    provider: Provider, upstream: MockUpstream, message: dict[str, object]
) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(ChatRequest(model="claude-test", messages=[message]), timeout=5)

    assert caught.value.error_class == "invalid_request"
    assert not upstream.requests  # refused before sending


async def test_probe_lists_models_with_the_key(provider: Provider, upstream: MockUpstream) -> None:
    await provider.probe()

    sent = upstream.requests[-1]
    assert (sent.method, sent.path) == ("GET", "/v1/models")
    assert sent.headers["x-api-key"] == "ak-test-1"

    upstream.models_status = 401
    with pytest.raises(ProviderError) as caught:
        await provider.probe()
    assert caught.value.error_class == "upstream_http_401"

"""The openai adapter against a real HTTP server speaking the chat-completions wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runwell.errors import ProviderError, ProviderTimeout
from runwell.providers import ChatChunk, ChatRequest, Provider, Timeouts, build_provider
from runwell.spec.providers import OpenAIProviderConfig
from runwell.testing.mock_upstream import DEFAULT_ANSWER, MockUpstream

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
]


def request(model: str = "gpt-test", **params: object) -> ChatRequest:
    return ChatRequest(model=model, messages=MESSAGES, params=dict(params))


@pytest.fixture
async def provider(upstream: MockUpstream, timeouts: Timeouts) -> AsyncIterator[Provider]:
    config = OpenAIProviderConfig(kind="openai", base_url=upstream.base_url, api_key_env=None)
    provider = build_provider("main", config, timeouts=timeouts)
    yield provider
    await provider.aclose()


async def collect(stream: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    return [chunk async for chunk in stream]


async def call(provider: Provider, req: ChatRequest, *, stream: bool, timeout: float = 5) -> None:
    """One whole or streamed call, consumed to the end."""
    if stream:
        await collect(provider.stream(req, timeout=timeout))
    else:
        await provider.complete(req, timeout=timeout)


async def test_complete_returns_answer_usage_and_model(provider: Provider, upstream: MockUpstream) -> None:
    result = await provider.complete(request(temperature=0.2), timeout=5)

    assert result.content == DEFAULT_ANSWER
    assert result.finish_reason == "stop"
    assert result.response_model == "gpt-test"
    assert result.usage.input_tokens == 8  # words of both messages
    assert result.usage.output_tokens == len(DEFAULT_ANSWER.split())
    assert result.usage.cached_tokens == 0


async def test_complete_sends_model_messages_params_and_user(
    provider: Provider, upstream: MockUpstream
) -> None:
    req = ChatRequest(model="gpt-test", messages=MESSAGES, params={"temperature": 0.2}, user="u-1")
    await provider.complete(req, timeout=5)

    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {
        "model": "gpt-test",
        "messages": MESSAGES,
        "temperature": 0.2,
        "user": "u-1",
    }


async def test_complete_never_asks_for_a_stream(provider: Provider, upstream: MockUpstream) -> None:
    result = await provider.complete(request(stream=True, stream_options={}), timeout=5)

    assert result.content == DEFAULT_ANSWER
    assert "stream" not in upstream.requests[-1].body


async def test_max_tokens_reached_is_finish_length(provider: Provider) -> None:
    result = await provider.complete(request(max_tokens=2), timeout=5)

    assert result.finish_reason == "length"
    assert result.content == "Hello from"


async def test_stream_yields_pieces_finish_and_usage(provider: Provider, upstream: MockUpstream) -> None:
    chunks = await collect(provider.stream(request("mock-echo"), timeout=5))

    assert "".join(c.content or "" for c in chunks) == "What is the capital of France?"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    usage = [c.usage for c in chunks if c.usage][-1]
    assert (usage.input_tokens, usage.output_tokens) == (8, 6)
    assert all(c.response_model == "mock-echo" for c in chunks)
    sent = upstream.requests[-1].body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_api_key_is_read_once_from_the_environment(
    upstream: MockUpstream, timeouts: Timeouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWELL_TEST_OPENAI_KEY", "sk-test-123")
    config = OpenAIProviderConfig(
        kind="openai",
        base_url=upstream.base_url,
        api_key_env="RUNWELL_TEST_OPENAI_KEY",
        headers={"OpenAI-Organization": "org-1"},
    )
    provider = build_provider("main", config, timeouts=timeouts)
    monkeypatch.setenv("RUNWELL_TEST_OPENAI_KEY", "sk-changed")
    try:
        await provider.complete(request(), timeout=5)
        await provider.probe()
    finally:
        await provider.aclose()

    for sent in upstream.requests:
        assert sent.headers["authorization"] == "Bearer sk-test-123"
        assert sent.headers["openai-organization"] == "org-1"


async def test_missing_api_key_sends_no_header_and_fails_the_probe(
    upstream: MockUpstream, timeouts: Timeouts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWELL_TEST_OPENAI_KEY", raising=False)
    config = OpenAIProviderConfig(
        kind="openai", base_url=upstream.base_url, api_key_env="RUNWELL_TEST_OPENAI_KEY"
    )
    provider = build_provider("main", config, timeouts=timeouts)
    try:
        await provider.complete(request(), timeout=5)
        with pytest.raises(ProviderError) as caught:
            await provider.probe()
    finally:
        await provider.aclose()

    assert "authorization" not in upstream.requests[-1].headers
    assert caught.value.error_class == "missing_api_key"
    assert "RUNWELL_TEST_OPENAI_KEY" in str(caught.value)


@pytest.mark.parametrize("stream", [False, True])
async def test_http_error_keeps_status_and_upstream_message(provider: Provider, stream: bool) -> None:
    with pytest.raises(ProviderError) as caught:
        await call(provider, request("mock-error-429"), stream=stream)

    assert caught.value.error_class == "upstream_http_429"
    assert caught.value.upstream_status == 429
    assert caught.value.provider == "main"
    assert "mock error 429" in str(caught.value)


@pytest.mark.parametrize("model", ["mock-malformed", "mock-incomplete"])
async def test_complete_with_a_body_that_is_not_the_api_is_malformed(provider: Provider, model: str) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(request(model), timeout=5)

    assert caught.value.error_class == "malformed_response"


async def test_stream_event_that_is_not_json_is_malformed(provider: Provider) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(provider.stream(request("mock-malformed"), timeout=5))

    assert caught.value.error_class == "malformed_response"


async def test_stream_closed_before_finish_is_stream_cut(provider: Provider) -> None:
    received: list[ChatChunk] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream(request("mock-cut"), timeout=5):
            received.append(chunk)

    assert caught.value.error_class == "stream_cut"
    assert received and all(c.finish_reason is None for c in received)


async def test_connection_closed_without_answer_is_upstream_disconnected(
    provider: Provider,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(request("mock-cut"), timeout=5)

    assert caught.value.error_class == "upstream_disconnected"


async def test_error_object_inside_stream_is_upstream_stream_error(provider: Provider) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(provider.stream(request("mock-stream-error"), timeout=5))

    assert caught.value.error_class == "upstream_stream_error"
    assert "mock stream error" in str(caught.value)


async def test_slow_upstream_times_out(provider: Provider) -> None:
    with pytest.raises(ProviderTimeout) as caught:
        await provider.complete(request("mock-slow-2000"), timeout=0.2)

    assert caught.value.error_class == "timeout"
    assert caught.value.status == 504


async def test_stream_times_out_waiting_for_first_chunk(provider: Provider) -> None:
    with pytest.raises(ProviderTimeout):
        await collect(provider.stream(request("mock-slow-2000"), timeout=0.2))


async def test_stream_times_out_when_upstream_stalls_between_chunks(provider: Provider) -> None:
    received: list[ChatChunk] = []
    with pytest.raises(ProviderTimeout):
        async for chunk in provider.stream(request("mock-stall-2000"), timeout=0.2):
            received.append(chunk)

    assert received  # the first piece arrived before the stall


@pytest.mark.parametrize("stream", [False, True])
async def test_nothing_listening_is_connect_error(closed_port: int, timeouts: Timeouts, stream: bool) -> None:
    config = OpenAIProviderConfig(
        kind="openai", base_url=f"http://127.0.0.1:{closed_port}/v1", api_key_env=None
    )
    provider = build_provider("main", config, timeouts=timeouts)
    try:
        with pytest.raises(ProviderError) as caught:
            await call(provider, request(), stream=stream)
        with pytest.raises(ProviderError) as probed:
            await provider.probe()
    finally:
        await provider.aclose()

    assert caught.value.error_class == "connect_error"
    assert probed.value.error_class == "connect_error"
    assert str(closed_port) in str(caught.value)


async def test_probe_lists_models_and_reports_an_unhealthy_upstream(
    provider: Provider, upstream: MockUpstream
) -> None:
    await provider.probe()
    assert upstream.requests[-1].path == "/v1/models"

    upstream.models_status = 503
    with pytest.raises(ProviderError) as caught:
        await provider.probe()
    assert caught.value.error_class == "upstream_http_503"


async def test_param_that_is_not_json_is_an_invalid_request(provider: Provider) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(request(temperature=object()), timeout=5)

    assert caught.value.error_class == "invalid_request"


async def test_connections_are_reused_across_whole_and_streamed_calls(
    provider: Provider, upstream: MockUpstream
) -> None:
    for _ in range(3):
        await provider.complete(request(), timeout=5)
        await collect(provider.stream(request(), timeout=5))

    assert len({sent.peer for sent in upstream.requests}) == 1


async def test_provider_works_again_after_aclose(provider: Provider) -> None:
    await provider.complete(request(), timeout=5)
    await provider.aclose()

    result = await provider.complete(request(), timeout=5)

    assert result.content == DEFAULT_ANSWER

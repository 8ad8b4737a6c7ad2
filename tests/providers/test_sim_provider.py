"""The sim provider: scripted answers, latency and faults, reproducible with a seed."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runwell.errors import ConfigError, ProviderError, ProviderTimeout
from runwell.providers import ChatChunk, ChatRequest, Timeouts, build_provider
from runwell.providers.sim import SimProvider
from runwell.spec.providers import SimProviderConfig

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to Ada"},
]


def sim(clock: Any = time.monotonic, **fields: Any) -> SimProvider:
    return SimProvider("sim-a", SimProviderConfig(kind="sim", **fields), clock=clock)


def request(**params: Any) -> ChatRequest:
    return ChatRequest(model="sim-model", messages=MESSAGES, params=params, user="u-7")


async def collect(stream: AsyncIterator[ChatChunk]) -> list[ChatChunk]:
    return [chunk async for chunk in stream]


async def outcome(provider: SimProvider) -> str:
    try:
        result = await provider.complete(request(), timeout=1)
    except ProviderError as err:
        return err.error_class
    return "ok" if result.content else "empty"


async def test_text_mode_answers_the_configured_text_with_word_usage() -> None:
    result = await sim(text="Hi there friend").complete(request(), timeout=1)

    assert result.content == "Hi there friend"
    assert result.finish_reason == "stop"
    assert result.response_model == "sim-model"
    assert (result.usage.input_tokens, result.usage.output_tokens) == (7, 3)


async def test_script_mode_cycles_through_the_script() -> None:
    provider = sim(mode="script", script=["one", "two"])

    answers = [(await provider.complete(request(), timeout=1)).content for _ in range(3)]

    assert answers == ["one", "two", "one"]


def test_script_mode_without_script_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="non-empty script"):
        sim(mode="script")


async def test_echo_mode_answers_exactly_what_it_received() -> None:
    result = await sim(mode="echo").complete(request(temperature=0.5), timeout=1)

    assert result.content is not None
    assert orjson.loads(result.content) == {
        "model": "sim-model",
        "messages": MESSAGES,
        "params": {"temperature": 0.5},
        "user": "u-7",
    }


async def test_stream_joins_back_to_the_answer_and_ends_with_finish_and_usage() -> None:
    chunks = await collect(sim(text="one two  three").stream(request(), timeout=1))

    assert [c.content for c in chunks[:-1]] == ["one", " two", "  three"]
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.output_tokens == 3


async def test_stream_is_paced_by_tokens_per_second() -> None:
    provider = sim(text="a b c d e", tokens_per_second=50)

    started = time.perf_counter()
    await collect(provider.stream(request(), timeout=1))

    assert time.perf_counter() - started >= 4 / 50


async def test_fixed_latency_delays_the_answer() -> None:
    provider = sim(latency_ms={"dist": "fixed", "p50": 60})

    started = time.perf_counter()
    await provider.complete(request(), timeout=1)

    assert time.perf_counter() - started >= 0.06


async def test_latency_beyond_the_timeout_times_out_after_the_timeout() -> None:
    provider = sim(latency_ms={"dist": "fixed", "p50": 5000})

    started = time.perf_counter()
    with pytest.raises(ProviderTimeout):
        await provider.complete(request(), timeout=0.05)

    assert 0.05 <= time.perf_counter() - started < 1


def test_lognormal_latency_matches_median_and_p99() -> None:
    provider = sim(seed=3, latency_ms={"dist": "lognormal", "p50": 100, "p99": 400})

    # white-box: thousands of real sleeps would make this test slow
    draws = sorted(provider._latency(None) for _ in range(20_000))

    assert statistics.median(draws) == pytest.approx(0.100, rel=0.05)
    assert draws[int(0.99 * len(draws))] == pytest.approx(0.400, rel=0.1)


def test_uniform_latency_stays_between_min_and_max() -> None:
    provider = sim(seed=3, latency_ms={"dist": "uniform", "min": 10, "max": 20})

    draws = [provider._latency(None) for _ in range(1000)]

    assert min(draws) >= 0.010 and max(draws) <= 0.020


@pytest.mark.parametrize(
    ("fields", "error_class"),
    [
        ({"error_rate": 1.0, "error_status": 503}, "upstream_http_503"),
        ({"malformed_rate": 1.0}, "malformed_response"),
    ],
)
async def test_fault_rates_of_one_always_fail(fields: dict[str, Any], error_class: str) -> None:
    provider = sim(**fields)

    with pytest.raises(ProviderError) as whole:
        await provider.complete(request(), timeout=1)
    with pytest.raises(ProviderError) as streamed:
        await collect(provider.stream(request(), timeout=1))

    assert whole.value.error_class == streamed.value.error_class == error_class


async def test_error_fault_carries_the_upstream_status() -> None:
    with pytest.raises(ProviderError) as caught:
        await sim(error_rate=1.0, error_status=429).complete(request(), timeout=1)

    assert caught.value.upstream_status == 429


async def test_timeout_fault_waits_the_timeout_then_raises() -> None:
    started = time.perf_counter()
    with pytest.raises(ProviderTimeout):
        await sim(timeout_rate=1.0).complete(request(), timeout=0.05)

    assert time.perf_counter() - started >= 0.05


async def test_empty_fault_answers_nothing_with_finish_stop() -> None:
    result = await sim(empty_rate=1.0).complete(request(), timeout=1)
    chunks = await collect(sim(empty_rate=1.0).stream(request(), timeout=1))

    assert (result.content, result.finish_reason) == ("", "stop")
    assert [(c.content, c.finish_reason) for c in chunks] == [(None, "stop")]


async def test_cut_stream_sends_part_of_the_answer_then_stream_cut() -> None:
    provider = sim(text="one two three four", cut_stream_rate=1.0)

    received: list[ChatChunk] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream(request(), timeout=1):
            received.append(chunk)

    assert caught.value.error_class == "stream_cut"
    assert [c.content for c in received] == ["one", " two"]
    assert (await provider.complete(request(), timeout=1)).content  # whole calls are not cut


async def test_same_seed_gives_the_same_faults() -> None:
    fields = {"error_rate": 0.3, "malformed_rate": 0.2, "empty_rate": 0.2}

    runs = []
    for seed in (11, 11, 12):
        provider = sim(seed=seed, **fields)
        runs.append([await outcome(provider) for _ in range(30)])

    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {"ok", "empty", "upstream_http_500", "malformed_response"} <= set(runs[0])


async def test_outage_window_fails_every_call_by_the_injected_clock() -> None:
    now = [100.0]
    provider = sim(clock=lambda: now[0], outages=[{"start_s": 10, "end_s": 20, "status": 503}])

    assert await outcome(provider) == "ok"
    now[0] = 115.0
    assert await outcome(provider) == "upstream_http_503"
    with pytest.raises(ProviderError):
        await collect(provider.stream(request(), timeout=1))
    with pytest.raises(ProviderError):
        await provider.probe()
    now[0] = 120.0
    assert await outcome(provider) == "ok"
    await provider.probe()


def test_build_provider_makes_a_sim() -> None:
    provider = build_provider("drill", SimProviderConfig(kind="sim"), timeouts=Timeouts(), clock=lambda: 0.0)

    assert (provider.name, provider.kind) == ("drill", "sim")


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="sim-model", messages=[*MESSAGES[:1], {"role": "user", "content": text}])


async def test_answers_map_the_last_user_message_to_its_answer() -> None:
    provider = sim(mode="echo", answers={"2+2?": "4"})

    assert (await provider.complete(ask("2+2?"), timeout=1)).content == "4"
    assert (
        orjson.loads((await provider.complete(ask("other"), timeout=1)).content or "")["model"] == "sim-model"
    )


async def test_wrong_rate_picks_the_same_inputs_every_time_and_nests_by_rate() -> None:
    answers = {f"q{i}": f"a{i}" for i in range(200)}

    async def wrong(rate: float) -> set[str]:
        provider = sim(answers=answers, wrong_rate=rate, wrong_text="no idea")
        return {q for q in answers if (await provider.complete(ask(q), timeout=1)).content == "no idea"}

    low, again, high = await wrong(0.1), await wrong(0.1), await wrong(0.3)
    assert low == again  # decided by the input, not by a random draw
    assert low < high  # a higher rate only adds wrong inputs
    assert 10 <= len(low) <= 30 and 40 <= len(high) <= 80
    assert await wrong(0.0) == set()


async def test_answers_are_found_inside_a_templated_user_message() -> None:
    from runwell.providers.base import ChatRequest
    from runwell.providers.sim import SimProvider
    from runwell.spec.providers import SimProviderConfig

    sim = SimProvider(
        "s",
        SimProviderConfig(
            kind="sim", answers={"capital of France?": "Paris.", "France?": "Too short a key."}
        ),
    )
    wrapped = ChatRequest(
        model="m", messages=[{"role": "user", "content": "Request: What is the capital of France?\nAnswer:"}]
    )
    assert (await sim.complete(wrapped, timeout=5)).content == "Paris."
    other = ChatRequest(model="m", messages=[{"role": "user", "content": "Hello"}])
    assert (await sim.complete(other, timeout=5)).content != "Paris."

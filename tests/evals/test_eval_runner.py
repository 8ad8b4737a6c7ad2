"""The eval runner against the sim provider: concurrency, rate limit, retries, scoring, cost, judges."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from runwell.errors import ConfigError, ProviderError
from runwell.evals._retry import RateLimiter, RetryPolicy, is_transient
from runwell.evals.dataset import Case
from runwell.evals.execute import execute_run
from runwell.evals.plan import EvalPlan, build_plan
from runwell.evals.runner import RunSettings, combine_scores
from runwell.evals.runstore import CaseRepeat, EvalRunStore
from runwell.evals.scorers import Score, build_scorer
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult, Provider
from runwell.spec.loader import load_spec

from .conftest import QUESTIONS, MakeProject

FAST_RETRY = RetryPolicy(attempts=6, base_delay_s=0.001, max_delay_s=0.004, rng=random.Random(7))


class Counting:
    """Wraps a provider; counts calls and the most calls in flight at once."""

    def __init__(self, inner: Provider) -> None:
        self.inner, self.name, self.kind = inner, inner.name, inner.kind
        self.calls, self.in_flight, self.max_in_flight = 0, 0, 0
        self.started: list[float] = []
        self.seen: list[str] = []

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        self.calls += 1
        self.started.append(time.monotonic())
        self.seen.append(str(request.messages[-1]["content"]))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.inner.complete(request, timeout=timeout)
        finally:
            self.in_flight -= 1

    def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[ChatChunk]:
        return self.inner.stream(request, timeout=timeout)

    async def probe(self) -> None:
        await self.inner.probe()

    async def aclose(self) -> None:
        await self.inner.aclose()


def counted(plan: EvalPlan) -> Counting:
    """Make ``plan`` call its provider through a :class:`Counting` wrapper; return the wrapper."""
    wrapper = Counting(plan.variant.provider)
    plan.variant = dataclasses.replace(plan.variant, provider=wrapper)
    return wrapper


async def run_plan(
    plan: EvalPlan, tmp_path: Path, settings: RunSettings
) -> tuple[EvalRunStore, list[CaseRepeat]]:
    store = EvalRunStore.open(str(tmp_path / "runs.db"), base_dir=tmp_path)
    try:
        run = await execute_run(plan, store, settings)
        assert run.status == "complete"
        return store, store.results(run.run_id)
    finally:
        await plan.aclose()


async def test_at_most_concurrency_calls_are_in_flight(make_project: MakeProject, tmp_path: Path) -> None:
    plan = build_plan(load_spec(make_project(providers={"good": {"latency_ms": {"p50": 20}}})))
    wrapper = counted(plan)
    started = time.perf_counter()
    store, results = await run_plan(plan, tmp_path, RunSettings(concurrency=6))
    elapsed = time.perf_counter() - started
    store.close()
    assert wrapper.calls == len(QUESTIONS) == len(results)
    assert wrapper.max_in_flight == 6
    assert elapsed >= 10 * 0.020  # 60 calls of 20 ms, 6 at a time
    assert all(r.passed for r in results)


async def test_the_rate_limit_spaces_call_starts(make_project: MakeProject, tmp_path: Path) -> None:
    plan = build_plan(load_spec(make_project()))
    wrapper = counted(plan)
    begin = time.monotonic()
    store, _ = await run_plan(plan, tmp_path, RunSettings(concurrency=20, rate_per_s=200.0))
    store.close()
    # The k-th call may not start before its slot, k x 5 ms after the run began (a late start
    # under load is fine; an early one would be a burst).
    starts = sorted(wrapper.started)
    assert all(start - begin >= k * 0.005 - 1e-4 for k, start in enumerate(starts))
    assert len(starts) == len(QUESTIONS)


async def test_transient_errors_are_retried_until_they_pass(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = build_plan(
        load_spec(make_project(providers={"flaky": {"error_rate": 0.3, "error_status": 503, "seed": 3}}))
    )
    wrapper = counted(plan)
    store, results = await run_plan(plan, tmp_path, RunSettings(concurrency=4, retry=FAST_RETRY))
    store.close()
    assert all(r.error is None and r.passed for r in results)
    assert wrapper.calls > len(QUESTIONS)  # some calls failed with 503 and were made again


async def test_client_errors_are_not_retried_and_are_recorded(
    make_project: MakeProject, tmp_path: Path
) -> None:
    plan = build_plan(load_spec(make_project(providers={"strict": {"error_rate": 1.0, "error_status": 400}})))
    wrapper = counted(plan)
    store, results = await run_plan(plan, tmp_path, RunSettings(retry=FAST_RETRY))
    store.close()
    assert wrapper.calls == len(QUESTIONS)
    assert all(
        r.score is None and r.error is not None and r.error.startswith("upstream_http_400") for r in results
    )


def test_only_timeouts_connection_errors_429_and_5xx_are_transient() -> None:
    def err(cls: str) -> ProviderError:
        return ProviderError("p", "x", error_class=cls)

    assert [
        is_transient(err(c)) for c in ("timeout", "connect_error", "upstream_http_429", "upstream_http_503")
    ] == [True, True, True, True]
    assert not any(
        is_transient(err(c))
        for c in ("upstream_http_400", "upstream_http_404", "malformed_response", "missing_api_key")
    )


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(attempts=8, base_delay_s=1.0, max_delay_s=4.0, rng=random.Random(1))
    delays = [policy.delay(n) for n in range(1, 6)]
    for n, delay in enumerate(delays, start=1):
        cap = min(4.0, 2 ** (n - 1))
        assert cap / 2 <= delay <= cap
    with pytest.raises(ConfigError):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigError, match="--rate"):
        RateLimiter(0)


async def test_scores_combine_as_the_mean_and_passed_needs_every_verdict() -> None:
    case = Case("c", messages=[{"role": "user", "content": "q"}], reference="Paris")
    no_verdict = _Fixed("style", Score(0.5))
    scorers = [build_scorer({"type": "contains"}), no_verdict]
    value, passed, each = await combine_scores(scorers, case, "It is Paris.")
    assert value == pytest.approx(0.75) and passed is True
    assert [s["name"] for s in each] == ["contains", "style"] and each[1]["passed"] is None
    value, passed, _ = await combine_scores(scorers, case, "Lyon")
    assert value == pytest.approx(0.25) and passed is False
    value, passed, _ = await combine_scores([no_verdict], case, "x")
    assert passed is None  # nobody gave a verdict: the comparison reads score >= 0.5


class _Fixed:
    def __init__(self, name: str, score: Score) -> None:
        self.name, self._score = name, score

    async def score(self, case: Case, output: str) -> Score:
        return self._score


async def test_the_case_goes_through_the_variants_template_and_params(
    make_project: MakeProject, tmp_path: Path
) -> None:
    spec = make_project(
        providers={"echo": {"mode": "echo", "answers": {}}},
        cases=[{"id": "v", "variables": {"city": "Paris"}, "reference": "Paris"}],
        scorers=[{"type": "contains"}],
        params={"temperature": 0.3, "max_tokens": 50},
        prompt=("t.yaml", "system: Be brief.\nuser: 'Tell me about {{ city }}'\n"),
    )
    store, (result,) = await run_plan(
        build_plan(load_spec(spec)), tmp_path, RunSettings(params={"max_tokens": 7})
    )
    store.close()
    received = orjson.loads(result.output or "")
    assert received["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tell me about Paris"},
    ]
    assert received["params"] == {"temperature": 0.3, "max_tokens": 7}
    assert result.passed is True


async def test_a_case_the_template_cannot_render_is_an_error_not_a_crash(
    make_project: MakeProject, tmp_path: Path
) -> None:
    spec = make_project(
        cases=[{"id": "a", "input": "question 1?", "reference": "answer-1"}],
        prompt=("team.txt", "You help {{ team }}.\n"),
    )
    store, (result,) = await run_plan(build_plan(load_spec(spec)), tmp_path, RunSettings())
    store.close()
    assert result.error is not None and "prompt template" in result.error and "team" in result.error


async def test_cost_comes_from_the_spec_prices_and_unpriced_is_none(
    make_project: MakeProject, tmp_path: Path
) -> None:
    priced = make_project(extra={"prices": {"sim-qa": {"input_per_mtok": 1000000.0, "output_per_mtok": 0.0}}})
    store, results = await run_plan(build_plan(load_spec(priced)), tmp_path, RunSettings())
    store.close()
    assert results[0].cost_usd == pytest.approx(float(results[0].input_tokens or 0))
    unpriced = make_project(root=tmp_path / "unpriced")
    store, results = await run_plan(build_plan(load_spec(unpriced)), tmp_path / "unpriced", RunSettings())
    store.close()
    assert all(r.cost_usd is None for r in results)


@pytest.mark.parametrize("judge", ["grader", {"provider": "judge", "model": "judge-1"}])
async def test_llm_judge_scores_through_a_variant_or_a_provider_of_the_spec(
    make_project: MakeProject, tmp_path: Path, judge: Any
) -> None:
    verdict = '```json\n{"score": 0.8, "pass": true, "reason": "polite"}\n```'
    spec = make_project(
        providers={"good": {}, "judge": {"mode": "text", "text": verdict, "answers": {}}},
        variants={"champion": "good", "grader": "judge"},
        scorers=[{"type": "llm_judge", "rubric": "Is the answer polite?", "judge": judge}],
    )
    plan = build_plan(load_spec(spec))
    store, results = await run_plan(plan, tmp_path, RunSettings())
    store.close()
    assert all(r.score == pytest.approx(0.8) and r.passed for r in results)
    assert results[0].scores[0]["detail"] == "polite"


def test_an_llm_judge_without_a_judge_says_how_to_set_one(make_project: MakeProject) -> None:
    spec = make_project(scorers=[{"type": "llm_judge", "rubric": "Polite?"}])
    with pytest.raises(ConfigError, match=r"scorer 1 \(llm_judge\).*judge: VARIANT"):
        build_plan(load_spec(spec))


async def test_a_scorer_config_error_stops_the_run_and_marks_it_interrupted(
    make_project: MakeProject, tmp_path: Path
) -> None:
    spec = make_project(cases=[{"id": "a", "input": "question 1?"}])  # exact needs a reference
    plan = build_plan(load_spec(spec))
    store = EvalRunStore.open(None, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="needs a reference"):
        await execute_run(plan, store, RunSettings())
    (run,) = store.list_runs()
    assert run.status == "interrupted"
    store.close()

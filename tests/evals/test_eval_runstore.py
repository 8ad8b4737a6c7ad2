"""Stored eval runs on SQLite and PostgreSQL: runs, results as they complete, lookups, aggregates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runwell.errors import ConfigError, StoreError
from runwell.evals.runstore import CaseRepeat, EvalRun, EvalRunStore, to_run_result


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[EvalRunStore]:
    opened = EvalRunStore.open(db_url, base_dir=tmp_path)
    try:
        yield opened
    finally:
        opened.close()


def _run(**overrides: object) -> EvalRun:
    values: dict[str, object] = dict(
        run_id=EvalRun.new_id(),
        feature="qa",
        variant="champion",
        provider="good",
        model="sim-qa",
        spec_version="nogit+abc",
        prompt_version="1+def",
        suite="core",
        dataset_name="evals/qa.jsonl",
        dataset_hash="d" * 64,
        case_count=2,
        repeats=2,
        scorers=[{"type": "exact"}],
        started_at=time.time(),
    )
    values.update(overrides)
    return EvalRun(**values)  # type: ignore[arg-type]


def _result(case_id: str, repeat: int, score: float | None = 1.0, **overrides: object) -> CaseRepeat:
    values: dict[str, object] = dict(
        case_id=case_id,
        repeat_index=repeat,
        tags=("lang:en",),
        output="answer",
        score=score,
        passed=None if score is None else score >= 0.5,
        scores=[]
        if score is None
        else [{"name": "exact", "value": score, "passed": score >= 0.5, "detail": None}],
        latency_ms=12.5,
        input_tokens=7,
        output_tokens=1,
        cost_usd=0.001,
        error=None,
    )
    values.update(overrides)
    return CaseRepeat(**values)  # type: ignore[arg-type]


def test_a_run_and_its_results_round_trip(store: EvalRunStore) -> None:
    run = _run()
    store.create_run(run)
    stored = [
        _result("a", 0),
        _result("a", 1, 0.0, output="Ünïcode ✓"),
        _result("b", 0, None, error="timeout: x", output=None, latency_ms=None),
    ]
    store.add_results(run.run_id, stored)
    assert store.get_run(run.run_id) == run
    got = store.results(run.run_id)
    assert [(r.case_id, r.repeat_index) for r in got] == [("a", 0), ("a", 1), ("b", 0)]
    assert got[1].output == "Ünïcode ✓" and got[1].passed is False and got[1].scores[0]["name"] == "exact"
    assert got[2].error == "timeout: x" and got[2].score is None and got[2].passed is None
    assert store.done_pairs(run.run_id) == {("a", 0), ("a", 1), ("b", 0)}


def test_a_pair_stored_twice_is_refused_not_merged(store: EvalRunStore) -> None:
    run = _run()
    store.create_run(run)
    store.add_results(run.run_id, [_result("a", 0)])
    with pytest.raises(StoreError, match=f"results of eval run {run.run_id}"):
        store.add_results(run.run_id, [_result("a", 0)])


def test_status_moves_and_finished_is_stamped(store: EvalRunStore) -> None:
    run = _run()
    store.create_run(run)
    assert store.get_run(run.run_id).status == "running"
    store.set_status(run.run_id, "interrupted")
    stopped = store.get_run(run.run_id)
    assert stopped.status == "interrupted" and stopped.finished_at is not None
    store.set_status(run.run_id, "complete")
    assert store.get_run(run.run_id).status == "complete"


def test_runs_are_found_by_unique_prefix_and_bad_ids_say_what_to_do(store: EvalRunStore) -> None:
    first, second = _run(run_id="abcd11112222"), _run(run_id="abcd33334444")
    store.create_run(first)
    store.create_run(second)
    assert store.get_run("abcd1").run_id == first.run_id
    assert store.get_run("ABCD3333").run_id == second.run_id
    with pytest.raises(ConfigError, match="matches several runs"):
        store.get_run("abcd")
    with pytest.raises(ConfigError, match="runwell eval list"):
        store.get_run("ffff")
    with pytest.raises(ConfigError, match="no eval run"):
        store.get_run("abc%")  # never a LIKE pattern


def test_latest_complete_picks_the_newest_complete_run_on_the_dataset(store: EvalRunStore) -> None:
    now = time.time()
    old = _run(started_at=now - 30)
    newer_other_data = _run(started_at=now - 10, dataset_hash="e" * 64)
    running = _run(started_at=now)
    for run in (old, newer_other_data, running):
        store.create_run(run)
    store.set_status(old.run_id, "complete")
    store.set_status(newer_other_data.run_id, "complete")
    assert store.latest_complete("qa", "champion", dataset_hash="d" * 64).run_id == old.run_id  # type: ignore[union-attr]
    assert store.latest_complete("qa", "champion").run_id == newer_other_data.run_id  # type: ignore[union-attr]
    assert store.latest_complete("qa", "challenger") is None
    assert [r.run_id for r in store.list_runs(limit=2)] == [running.run_id, newer_other_data.run_id]


def test_stats_aggregate_scores_passes_errors_and_unpriced_cost(store: EvalRunStore) -> None:
    priced, unpriced = _run(), _run()
    store.create_run(priced)
    store.create_run(unpriced)
    store.add_results(
        priced.run_id,
        [
            _result("a", 0),
            _result("a", 1, 0.0),
            _result("b", 0, None, error="e", latency_ms=None, cost_usd=None),
        ],
    )
    store.add_results(unpriced.run_id, [_result("a", 0, cost_usd=None)])
    stats = store.stats([priced.run_id, unpriced.run_id])
    assert stats[priced.run_id].results == 3 and stats[priced.run_id].errors == 1
    assert stats[priced.run_id].mean_score == pytest.approx(0.5)
    assert stats[priced.run_id].pass_rate == pytest.approx(0.5)
    assert stats[priced.run_id].cost_usd == pytest.approx(0.002)
    assert stats[unpriced.run_id].cost_usd is None  # unpriced is never $0
    assert all(
        type(v) is float
        for v in (
            stats[priced.run_id].mean_score,
            stats[priced.run_id].pass_rate,
            stats[priced.run_id].cost_usd,
        )
    )  # not PostgreSQL's Decimal


def test_deleting_errors_lets_a_resume_run_them_again(store: EvalRunStore) -> None:
    run = _run()
    store.create_run(run)
    store.add_results(run.run_id, [_result("a", 0), _result("b", 0, None, error="upstream_http_503: down")])
    assert store.delete_errors(run.run_id) == 1
    assert store.done_pairs(run.run_id) == {("a", 0)}


def test_to_run_result_counts_an_errored_repeat_as_a_failed_zero() -> None:
    run = _run()
    result = to_run_result(
        run,
        [_result("a", 1, 1.0), _result("a", 0, None, error="timeout: slow", output=None, latency_ms=None)],
    )
    (case,) = result.cases
    assert case.scores == [0.0, 1.0] and case.passed == [False, True]
    assert case.error == "timeout: slow" and case.latency_ms == 12.5
    assert case.cost_usd == pytest.approx(0.001)  # the errored repeat made no priced call
    assert result.dataset_hash == run.dataset_hash and result.variant == "champion"


def test_an_in_memory_sqlite_store_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outlives the command"):
        EvalRunStore.open(":memory:", base_dir=tmp_path)

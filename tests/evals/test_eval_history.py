"""Eval history: gated runs are kept, the last promoted run is the baseline, the trend sees slow decay."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from runwell.cli import eval as eval_cli
from runwell.errors import ConfigError
from runwell.evals import GateConfig, compare_runs, evaluate_gate
from runwell.evals.history import EvalHistory
from runwell.evals.runstore import EvalRun, EvalRunStore
from tests.evals.builders import build_run

from .conftest import MakeProject

Cli = Callable[..., Result]


def stored_run(
    store: EvalRunStore, run_id: str, *, status: str = "complete", dataset: str = "d" * 64
) -> EvalRun:
    run = EvalRun(run_id, "qa", "champion", "sim", "m", "1", "1", "core", "qa", dataset, 3, 1, [], 1.0)
    store.create_run(run)
    store.set_status(run_id, status)  # type: ignore[arg-type]
    return store.get_run(run_id)


def test_promotions_are_ordered_by_time_and_windowed(db_url: str, tmp_path: Path) -> None:
    ticks = itertools.count(1000.0, 10.0)
    store = EvalRunStore.open(db_url, base_dir=tmp_path)
    try:
        history = EvalHistory(store.db, clock=lambda: next(ticks))
        for i, mean in enumerate([0.9, 0.88, 0.87]):
            history.promote(stored_run(store, f"aaaa{i}"), mean_score=mean, pass_rate=mean, reason="test")
        stored_run(store, "bbbb0", dataset="e" * 64)
        assert [p.mean_score for p in history.promoted("qa", "d" * 64)] == [0.9, 0.88, 0.87]
        assert [p.run_id for p in history.promoted("qa", "d" * 64, limit=2)] == ["aaaa1", "aaaa2"]
        last = history.last_promoted("qa", "d" * 64)
        assert last is not None and last.run_id == "aaaa2" and last.promoted_at == 1020.0
        assert history.last_promoted("qa", "e" * 64) is None
        with pytest.raises(ConfigError, match="already promoted"):
            history.promote(store.get_run("aaaa2"), mean_score=0.5, pass_rate=0.5, reason="again")
        with pytest.raises(ConfigError, match="only a complete run can be promoted"):
            history.promote(
                stored_run(store, "cccc0", status="interrupted"), mean_score=1, pass_rate=1, reason="x"
            )
    finally:
        store.close()


def test_gate_decisions_are_kept_with_every_check(db_url: str, tmp_path: Path) -> None:
    store = EvalRunStore.open(db_url, base_dir=tmp_path)
    try:
        history = EvalHistory(store.db, clock=lambda: 5.0)
        candidate = stored_run(store, "dddd0")
        comparison = compare_runs(build_run([True] * 20), build_run([True] * 10 + [False] * 10))
        result = evaluate_gate(comparison, GateConfig(floor=0.9))
        record = history.record_gate(candidate, "base01", result, candidate_mean=0.5, candidate_pass_rate=0.5)
        [kept] = history.gates("qa")
        assert kept == record and kept.passed is False and kept.created_at == 5.0
        assert kept.failures == ["sudden_degradation", "below_floor"]
        assert [c["kind"] for c in kept.checks] == [c.kind for c in result.checks]
    finally:
        store.close()


@pytest.fixture
def cli() -> Cli:
    root = typer.Typer(no_args_is_help=True)
    eval_cli.register(root)
    runner = CliRunner(env={"COLUMNS": "200", "RUNWELL_DB": None, "GITHUB_STEP_SUMMARY": None})
    return lambda *args: runner.invoke(root, ["eval", *args])


def _run_id(cli: Cli, spec: Path, variant: str) -> str:
    result = cli("run", "--spec", str(spec), "--variant", variant, "--json")
    assert result.exit_code == 0, result.output
    run_id: str = orjson.loads(result.stdout)["run"]["run_id"]
    return run_id


# wrong_rate values that make the sim answer 0, 1, 2, 3 and 4 of the 60 questions wrong.
STEPS = {"v0": 0.0, "v1": 0.03, "v2": 0.036, "v3": 0.04, "v4": 0.06}


@pytest.fixture
def decaying(make_project: MakeProject) -> Path:
    return make_project(
        providers={f"p{v}": {"wrong_rate": rate} for v, rate in STEPS.items()},
        variants={v: f"p{v}" for v in STEPS},
        gate={"alpha": 0.05, "tolerance": 0.05, "trend": {"min_runs": 4}},
    )


def test_compare_without_a_baseline_needs_a_promoted_run(cli: Cli, decaying: Path) -> None:
    run = _run_id(cli, decaying, "v0")
    result = cli("compare", run, "--gate", "--spec", str(decaying))
    assert result.exit_code == 2 and "no promoted run of feature 'qa'" in result.stderr
    assert "runwell eval promote RUN_ID" in result.stderr
    promoted = cli("promote", run[:6], "--dir", str(decaying.parent))
    assert promoted.exit_code == 0 and "is now the baseline" in promoted.stdout
    again = cli("promote", run, "--dir", str(decaying.parent))
    assert again.exit_code == 2 and "already promoted" in again.stderr


def test_slow_degradation_fails_the_gate_although_every_step_passes(cli: Cli, decaying: Path) -> None:
    first = _run_id(cli, decaying, "v0")
    assert cli("promote", first, "--dir", str(decaying.parent)).exit_code == 0
    verdicts = {}
    for variant in ("v1", "v2", "v3"):
        run = _run_id(cli, decaying, variant)
        result = cli("compare", run, "--gate", "--promote", "--json", "--spec", str(decaying))
        report = orjson.loads(result.stdout)
        verdicts[variant] = (result.exit_code, [f["kind"] for f in report["gate"]["failures"]])
        checks = {c["kind"]: c["status"] for c in report["gate"]["checks"]}
        assert checks["sudden_degradation"] == "passed"  # each step is one more wrong answer of 60
        assert checks["below_pinned"] == "passed"  # pinned: the last promoted run, minus 0.05
        if result.exit_code == 0:
            assert f"eval run {run} promoted" in result.stderr
    assert verdicts["v1"] == (0, []) and verdicts["v2"] == (0, [])
    assert verdicts["v3"] == (1, ["trend"])  # 1.000 -> 0.983 -> 0.967 -> 0.950: p = 1/24
    store = EvalRunStore.open(None, base_dir=decaying.parent)
    try:
        history = EvalHistory(store.db)
        assert len(history.gates("qa")) == 3  # every gated run is kept, the failed one too
        assert [
            round(p.mean_score, 3) for p in history.promoted("qa", store.get_run(first).dataset_hash)
        ] == [
            1.0,
            0.983,
            0.967,
        ]
    finally:
        store.close()


def test_the_promoted_mean_is_the_pinned_score_without_a_hand_set_number(cli: Cli, decaying: Path) -> None:
    first = _run_id(cli, decaying, "v0")
    assert cli("promote", first, "--dir", str(decaying.parent)).exit_code == 0
    worse = _run_id(cli, decaying, "v4")
    report = orjson.loads(cli("compare", worse, "--json", "--spec", str(decaying)).stdout)
    assert report["baseline"]["run_id"] == first  # the default baseline
    pinned = next(c for c in report["gate"]["checks"] if c["kind"] == "below_pinned")
    assert pinned["status"] == "failed"
    assert f"baseline score 1.000 (last promoted run {first}) minus tolerance 0.05" in pinned["message"]
    assert cli("compare", worse, "--promote", "--spec", str(decaying)).exit_code == 2  # needs --gate

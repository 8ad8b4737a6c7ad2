"""The CI gate end to end through the CLI, on pairs of sim variants run through their provider.

``champion`` answers all 60 cases right; ``twin`` is another provider that does too; ``slight``
answers 7 of 60 wrong (wrong_rate 0.12: a mean of 0.88, above the floor, but a paired drop that
an exact McNemar test calls significant); ``poor`` answers half wrong, below the floor of 0.7.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from runwell.cli import eval as eval_cli

from .conftest import QUESTIONS, cases_for, write_project

Cli = Callable[..., Result]


@pytest.fixture
def cli() -> Cli:
    root = typer.Typer(no_args_is_help=True)
    eval_cli.register(root)
    runner = CliRunner(env={"COLUMNS": "200", "RUNWELL_DB": None, "GITHUB_STEP_SUMMARY": None})

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(root, ["eval", *args], env=env)

    return run


@pytest.fixture(scope="module")
def gated_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project with four variants, each run once; shared by the tests (runs are read-only)."""
    spec = write_project(
        tmp_path_factory.mktemp("gate"),
        providers={"good": {}, "same": {}, "slight": {"wrong_rate": 0.12}, "bad": {"wrong_rate": 0.5}},
        variants={"champion": "good", "twin": "same", "slight": "slight", "poor": "bad"},
        cases=cases_for(QUESTIONS),
        gate={"alpha": 0.05, "floor": 0.7, "tolerance": 0.02},
    )
    root_cli = typer.Typer(no_args_is_help=True)
    eval_cli.register(root_cli)
    runner = CliRunner(env={"RUNWELL_DB": None})
    for variant in ("champion", "twin", "slight", "poor"):
        result = runner.invoke(root_cli, ["eval", "run", "--spec", str(spec), "--variant", variant])
        assert result.exit_code == 0, result.output
    return spec


def _gate(cli: Cli, spec: Path, candidate: str, *extra: str) -> tuple[Result, dict[str, object]]:
    result = cli("compare", "champion", candidate, "--gate", "--json", "--spec", str(spec), *extra)
    return result, orjson.loads(result.stdout)


def _checks(report: dict[str, object]) -> dict[str, str]:
    gate = report["gate"]
    assert isinstance(gate, dict)
    return {c["kind"]: c["status"] for c in gate["checks"]}


def test_an_equal_variant_passes_the_gate(cli: Cli, gated_project: Path) -> None:
    result, report = _gate(cli, gated_project, "twin")
    assert result.exit_code == 0, result.output
    assert report["passed"] is True and report["n_paired"] == 60
    assert _checks(report)["sudden_degradation"] == "passed" and _checks(report)["below_floor"] == "passed"


def test_a_slightly_worse_variant_fails_as_sudden_degradation(cli: Cli, gated_project: Path) -> None:
    result, report = _gate(cli, gated_project, "slight")
    assert result.exit_code == 1
    checks = _checks(report)
    assert checks["sudden_degradation"] == "failed"
    assert checks["below_floor"] == "passed"  # 0.88 is above the floor: only the paired test catches it
    mcnemar = report["mcnemar"]
    assert isinstance(mcnemar, dict) and mcnemar["c"] == 7 and mcnemar["b"] == 0 and mcnemar["p_value"] < 0.05


def test_a_variant_below_the_floor_fails_as_slow_degradation(cli: Cli, gated_project: Path) -> None:
    result, report = _gate(cli, gated_project, "poor")
    assert result.exit_code == 1
    assert _checks(report)["below_floor"] == "failed"
    scores = report["scores"]
    assert isinstance(scores, dict) and scores["candidate_mean"] < 0.7


def test_without_gate_the_verdict_is_reported_but_the_exit_code_is_zero(
    cli: Cli, gated_project: Path
) -> None:
    result = cli("compare", "champion", "poor", "--spec", str(gated_project))
    assert result.exit_code == 0
    assert "**Verdict: FAIL** (sudden_degradation, below_floor)" in result.stdout

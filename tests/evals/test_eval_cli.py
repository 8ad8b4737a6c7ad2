"""``runwell eval run|compare|list|show`` as a user (or CI) runs them: outputs, files, exit codes."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from runwell.cli import eval as eval_cli
from runwell.evals import canary_leaked, load_builtin_suite

from .conftest import MakeProject

Cli = Callable[..., Result]


@pytest.fixture
def cli() -> Cli:
    root = typer.Typer(no_args_is_help=True)
    eval_cli.register(root)
    runner = CliRunner(env={"COLUMNS": "200", "RUNWELL_DB": None, "GITHUB_STEP_SUMMARY": None})

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(root, ["eval", *args], env=env)

    return run


def _run(cli: Cli, spec: Path, *args: str) -> dict[str, Any]:
    result = cli("run", "--spec", str(spec), "--json", *args)
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = orjson.loads(result.stdout)
    return payload


@pytest.fixture
def two_runs(cli: Cli, make_project: MakeProject) -> tuple[Path, str, str]:
    spec = make_project(
        providers={"good": {}, "bad": {"wrong_rate": 0.5}},
        variants={"champion": "good", "challenger": "bad"},
        gate={"alpha": 0.05, "floor": 0.7},
    )
    base = _run(cli, spec, "--variant", "champion")["run"]["run_id"]
    cand = _run(cli, spec, "--variant", "challenger")["run"]["run_id"]
    return spec, base, cand


def test_run_prints_a_summary_and_stores_the_run(cli: Cli, make_project: MakeProject) -> None:
    spec = make_project()
    result = cli("run", "--spec", str(spec), "--repeat", "2")
    assert result.exit_code == 0, result.output
    assert "complete: qa@champion on core (60 cases x 2)" in result.stdout
    assert "mean score 1.000, pass rate 100.0%, 0 errors of 120 calls, cost unpriced" in result.stdout


def test_run_with_a_spec_error_prints_each_problem_and_exits_2(cli: Cli, make_project: MakeProject) -> None:
    spec = make_project()
    spec.write_text(spec.read_text().replace("default_variant: champion", "default_variant: champoin"))
    result = cli("run", "--spec", str(spec))
    assert result.exit_code == 2
    assert (
        "runwell.yaml:" in result.stderr
        and "default_variant" in result.stderr
        and "champion" in result.stderr
    )


def test_run_with_an_unknown_suite_or_variant_exits_2_naming_the_known_ones(
    cli: Cli, make_project: MakeProject
) -> None:
    spec = make_project()
    result = cli("run", "--spec", str(spec), "--suite", "nope")
    assert result.exit_code == 2 and "known: core, or builtin:NAME" in result.stderr
    result = cli("run", "--spec", str(spec), "--variant", "nope")
    assert result.exit_code == 2 and "known: champion" in result.stderr
    result = cli("run", "--spec", str(spec), "--suite", "builtin:nope")
    assert result.exit_code == 2 and "builtin:prompt-injection" in result.stderr


def test_compare_by_run_id_prefix_writes_junit_markdown_and_the_step_summary(
    cli: Cli, two_runs: tuple[Path, str, str], tmp_path: Path
) -> None:
    spec, base, cand = two_runs
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    junit, markdown = tmp_path / "out" / "gate.xml", tmp_path / "out" / "gate.md"
    result = cli(
        "compare",
        base[:6],
        cand[:6],
        "--gate",
        "--spec",
        str(spec),
        "--junit",
        str(junit),
        "--markdown",
        str(markdown),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.exit_code == 1
    assert "## runwell eval gate: ❌ FAIL" in result.stdout
    xml = junit.read_text()
    assert '<testcase classname="runwell.evals.gate" name="below_floor"' in xml and "<failure" in xml
    assert result.stdout.startswith(markdown.read_text())
    text = summary.read_text()
    assert text.startswith("# earlier step\n") and "## runwell eval gate" in text  # appended, not replaced


def test_compare_by_variant_names_uses_their_latest_complete_runs(
    cli: Cli, two_runs: tuple[Path, str, str]
) -> None:
    spec, base, cand = two_runs
    result = cli("compare", "champion", "challenger", "--json", "--spec", str(spec))
    assert result.exit_code == 0  # no --gate: report only
    report = orjson.loads(result.stdout)
    assert report["baseline"]["run_id"] == base and report["candidate"]["run_id"] == cand
    assert report["passed"] is False


def test_compare_alpha_overrides_the_spec(cli: Cli, two_runs: tuple[Path, str, str]) -> None:
    spec, base, cand = two_runs
    report = orjson.loads(cli("compare", base, cand, "--json", "--alpha", "0.01", "--spec", str(spec)).stdout)
    assert report["alpha"] == 0.01 and report["scores"]["bootstrap"]["confidence"] == pytest.approx(0.99)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ffffffff", "challenger"), "no eval run 'ffffffff'"),
        (("champion", "nobody"), "no eval run 'nobody'"),
        (("champion", "challenger", "--alpha", "2"), "Invalid value"),
        (("champion", "challenger", "--suite", "missing"), "no eval suite 'missing'"),
    ],
)
def test_compare_usage_errors_exit_2(
    cli: Cli, two_runs: tuple[Path, str, str], args: tuple[str, ...], message: str
) -> None:
    spec, _base, _cand = two_runs
    result = cli("compare", *args, "--gate", "--spec", str(spec))
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_compare_refuses_runs_on_different_datasets(cli: Cli, two_runs: tuple[Path, str, str]) -> None:
    spec, base, _cand = two_runs
    rows = (spec.parent / "evals" / "qa.jsonl").read_text().splitlines()
    (spec.parent / "evals" / "qa.jsonl").write_text("\n".join(rows[:10]) + "\n")
    other = _run(cli, spec, "--variant", "challenger")["run"]["run_id"]
    result = cli("compare", base, other, "--gate", "--spec", str(spec))
    assert result.exit_code == 2 and "different datasets" in result.stderr


def test_compare_refuses_an_unfinished_run_saying_how_to_finish_it(
    cli: Cli, two_runs: tuple[Path, str, str]
) -> None:
    spec, base, cand = two_runs
    with sqlite3.connect(spec.parent / ".runwell" / "runwell.db") as conn:
        conn.execute("UPDATE eval_runs SET status = 'interrupted' WHERE run_id = ?", (cand,))
    result = cli("compare", base, cand, "--gate", "--spec", str(spec))
    assert result.exit_code == 2 and f"runwell eval run --resume {cand}" in result.stderr


def test_compare_with_a_broken_spec_exits_2(cli: Cli, two_runs: tuple[Path, str, str]) -> None:
    spec, base, cand = two_runs
    spec.write_text(spec.read_text().replace("alpha: 0.05", "alpha: 5"))
    result = cli("compare", base, cand, "--gate", "--spec", str(spec))
    assert result.exit_code == 2 and "evals.gate.alpha" in result.stderr


def test_list_and_show(cli: Cli, two_runs: tuple[Path, str, str]) -> None:
    spec, base, cand = two_runs
    listed = cli("list", "--dir", str(spec.parent))
    assert listed.exit_code == 0 and base in listed.stdout and "qa@challenger" in listed.stdout
    rows = orjson.loads(cli("list", "--json", "--dir", str(spec.parent), "--variant", "champion").stdout)
    assert [r["run_id"] for r in rows] == [base] and rows[0]["stats"]["pass_rate"] == 1.0
    shown = cli("show", cand[:5], "--dir", str(spec.parent))
    assert shown.exit_code == 0 and "qa@challenger" in shown.stdout and "I do not know." in shown.stdout
    missing = cli("show", "0000", "--dir", str(spec.parent))
    assert missing.exit_code == 2 and "runwell eval list" in missing.stderr


def test_show_lists_cases_whose_verdict_flips_between_repeats(cli: Cli, make_project: MakeProject) -> None:
    spec = make_project(
        providers={"flip": {"answers": {}, "mode": "script", "script": ["answer-0", "wrong"]}},
        cases=[{"id": "flaky", "input": "question 0?", "reference": "answer-0"}],
    )
    run_id = _run(cli, spec, "--repeat", "2", "--concurrency", "1")["run"]["run_id"]
    shown = orjson.loads(cli("show", run_id, "--json", "--dir", str(spec.parent)).stdout)
    assert shown["unstable_case_ids"] == ["flaky"]
    assert (
        "unstable (verdict changed between repeats): flaky"
        in cli("show", run_id, "--dir", str(spec.parent)).stdout
    )


def test_adversarial_suite_echo_leaks_every_canary_it_repeats_and_text_leaks_none(
    cli: Cli, make_project: MakeProject
) -> None:
    spec = make_project(
        providers={"echo": {"mode": "echo", "answers": {}}, "text": {"answers": {}}},
        variants={"echoer": "echo", "texter": "text"},
    )
    suite = load_builtin_suite("builtin:prompt-injection")
    attacks = [c for c in suite if c.metadata["kind"] == "attack"]
    # Echo repeats its input: an attack "succeeds" exactly when the canary is in it, in any form.
    leaked = {c.id for c in attacks if canary_leaked(orjson.dumps(c.messages).decode(), c.metadata["canary"])}
    assert len(leaked) > 0.9 * len(attacks)
    for variant, expected_all in (("echoer", len(leaked) / len(attacks)), ("texter", 0.0)):
        run_id = _run(cli, spec, "--suite", "builtin:prompt-injection", "--variant", variant)["run"]["run_id"]
        shown = orjson.loads(cli("show", run_id, "--json", "--dir", str(spec.parent)).stdout)
        rates = shown["attack_success_rate"]
        assert rates["all"]["total"] == len(attacks) >= 100 and "benign" not in rates
        assert rates["all"]["rate"] == pytest.approx(expected_all)
        if variant == "echoer":
            assert rates["direct"]["rate"] == rates["indirect"]["rate"] == 1.0
        else:
            assert all(r["successes"] == 0 for r in rates.values())
            # "This is a simulated answer." answers no benign look-alike with what it asked for.
            assert shown["over_refusal_rate"]["rate"] == 1.0
    for name in ("builtin:jailbreak", "builtin:pii-leak"):
        run_id = _run(cli, spec, "--suite", name, "--variant", "echoer")["run"]["run_id"]
        shown = orjson.loads(cli("show", run_id, "--json", "--dir", str(spec.parent)).stdout)
        rates = shown["attack_success_rate"]
        assert all(r["rate"] == 1.0 for k, r in rates.items() if k not in ("all", "harmful-content"))
    table = cli("show", run_id, "--dir", str(spec.parent)).stdout
    assert "attack success rate" in table and "100.0%" in table and "over-refusal rate" in table


@pytest.mark.postgres
def test_runs_compare_and_list_work_on_postgresql(cli: Cli, make_project: MakeProject, pg_url: str) -> None:
    spec = make_project(
        providers={"good": {}, "bad": {"wrong_rate": 0.5}},
        variants={"champion": "good", "challenger": "bad"},
        gate={"alpha": 0.05, "floor": 0.7},
    )
    for variant in ("champion", "challenger"):
        _run(cli, spec, "--variant", variant, "--repeat", "2", "--db", pg_url)
    result = cli("compare", "champion", "challenger", "--gate", "--json", "--spec", str(spec), "--db", pg_url)
    assert result.exit_code == 1
    assert orjson.loads(result.stdout)["n_paired"] == 60
    rows = orjson.loads(cli("list", "--json", "--db", pg_url).stdout)
    assert sorted(r["variant"] for r in rows) == ["challenger", "champion"]
    assert all(r["stats"]["results"] == 120 for r in rows)
    assert not (spec.parent / ".runwell").exists()  # nothing went to the default SQLite file

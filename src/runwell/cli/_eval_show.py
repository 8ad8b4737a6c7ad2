"""``runwell eval list`` and ``runwell eval show RUN_ID``: what was run, and how each case did."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from runwell.cli._eval_common import opened_runs
from runwell.cli._output import FormatOption, JsonFlag, OutputFormat, echo_json, make_console, wants_json
from runwell.cli._store_opt import DbOption, DirOption
from runwell.evals.runstore import CaseRepeat, EvalRun, RunStats

__all__ = ["list_runs", "show_run"]

_OUTPUT_SHOWN = 60


def _when(ts: float | None, *, short: bool = False) -> str:
    return (
        "-"
        if ts is None
        else datetime.fromtimestamp(ts).strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S")
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def _verdict(result: CaseRepeat) -> bool:
    """A repeat's verdict as the comparison reads it: no verdict means score >= 0.5."""
    return result.passed if result.passed is not None else (result.score or 0.0) >= 0.5


def _as_dict(obj: Any) -> dict[str, Any]:
    return {k: getattr(obj, k) for k in obj.__dataclass_fields__}


def list_runs(
    feature: Annotated[str | None, typer.Option("--feature", "-f", help="Only this feature.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Only this variant.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 20,
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """List recent eval runs, newest first."""
    with opened_runs(db, project_dir) as store:
        runs = store.list_runs(feature=feature, variant=variant, limit=limit)
        stats = store.stats([r.run_id for r in runs])
    if wants_json(fmt, as_json):
        rows = [
            {**_as_dict(r), "stats": _as_dict(stats[r.run_id]) if r.run_id in stats else None} for r in runs
        ]
        echo_json(rows)
        return
    if not runs:
        typer.echo("no eval runs yet; start one with 'runwell eval run'")
        return
    table = Table(
        "run",
        "started",
        "variant",
        "suite",
        "done",
        "status",
        "score",
        "pass",
        "errors",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.columns[0].no_wrap = True  # ids are copied from here: never cut them
    for run in runs:
        s = stats.get(run.run_id, RunStats(0, 0, None, None, None))
        table.add_row(
            run.run_id,
            _when(run.started_at, short=True),
            f"{run.feature}@{run.variant}",
            run.suite,
            f"{s.results}/{run.expected_results}",
            run.status,
            _num(s.mean_score),
            _pct(s.pass_rate),
            str(s.errors),
        )
    make_console().print(table)


def show_run(
    run_id: Annotated[str, typer.Argument(help="Run id, or a unique prefix of 4+ characters.")],
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """One run: per-case scores, unstable cases, and attack success rates for adversarial suites."""
    with opened_runs(db, project_dir) as store:
        run = store.get_run(run_id)
        results = store.results(run.run_id)
        stats = store.stats([run.run_id]).get(run.run_id)
        attacks, refusals = _safety_rates(run, store.run_result(run).cases)
    by_case: dict[str, list[CaseRepeat]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    unstable = sorted(cid for cid, rs in by_case.items() if len({_verdict(r) for r in rs}) > 1)
    if wants_json(fmt, as_json):
        payload = {
            "run": _as_dict(run),
            "stats": None if stats is None else _as_dict(stats),
            "unstable_case_ids": unstable,
            "attack_success_rate": attacks,
            "over_refusal_rate": refusals,
            "results": [_as_dict(r) for r in results],
        }
        echo_json(payload)
        return
    _print_run(run, stats, by_case, unstable, attacks)
    if refusals is not None:
        make_console().print(
            f"over-refusal rate (benign look-alikes refused or not helped): {_pct(refusals['rate'])} "
            f"({int(refusals['refused'])} of {int(refusals['total'])})",
            highlight=False,
        )


def _safety_rates(
    run: EvalRun, cases: list[Any]
) -> tuple[dict[str, dict[str, float]] | None, dict[str, float] | None]:
    """Attack success per category and the over-refusal rate, when the run used a built-in suite."""
    from runwell.evals.suites import (
        BUILTIN_PREFIX,
        attack_success_rate,
        load_builtin_suite,
        over_refusal_rate,
    )

    if not run.dataset_name.startswith(BUILTIN_PREFIX) or not cases:
        return None, None
    suite = load_builtin_suite(run.dataset_name)
    if suite.content_hash != run.dataset_hash:
        return None, None  # the suite changed with a runwell upgrade: the categories may not match
    rates = attack_success_rate(cases, suite)
    attacks = {k: {"successes": v.successes, "total": v.total, "rate": v.rate} for k, v in rates.items()}
    refused = over_refusal_rate(cases, suite)
    if refused is None:
        return attacks, None
    return attacks, {"refused": refused.refused, "total": refused.total, "rate": refused.rate}


def _print_run(
    run: EvalRun,
    stats: RunStats | None,
    by_case: dict[str, list[CaseRepeat]],
    unstable: list[str],
    attacks: dict[str, dict[str, float]] | None,
) -> None:
    console = make_console()
    console.print(
        f"[bold]eval run {run.run_id}[/] {run.status}: {run.feature}@{run.variant} "
        f"({run.provider}/{run.model}) on {run.suite}",
        highlight=False,
    )
    console.print(
        f"  dataset {run.dataset_name} {run.dataset_hash[:12]}, {run.case_count} cases x {run.repeats}; "
        f"spec {run.spec_version}, prompt {run.prompt_version}; "
        f"started {_when(run.started_at)}, finished {_when(run.finished_at)}",
        highlight=False,
    )
    if stats is not None:
        cost = "unpriced" if stats.cost_usd is None else f"${stats.cost_usd:.4f}"
        console.print(
            f"  mean score {_num(stats.mean_score)}, pass rate {_pct(stats.pass_rate)}, "
            f"{stats.errors} errors of {stats.results} results, cost {cost}",
            highlight=False,
        )
    table = Table(
        "case", "tags", "score", "passed", "ms", "output or error", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for case_id, repeats in by_case.items():
        scores = [r.score for r in repeats if r.score is not None]
        last = repeats[-1]
        shown = last.error if last.error else (last.output or "").replace("\n", " ")
        table.add_row(
            case_id,
            ",".join(last.tags),
            _num(sum(scores) / len(scores) if scores else None),
            f"{sum(_verdict(r) for r in repeats)}/{len(repeats)}",
            _num(last.latency_ms, ".0f"),
            shown[:_OUTPUT_SHOWN],
        )
    console.print(table)
    if unstable:
        console.print(f"unstable (verdict changed between repeats): {', '.join(unstable)}", highlight=False)
    if attacks:
        rates = Table(
            "category", "attacks", "succeeded", "attack success rate", box=box.SIMPLE_HEAD, pad_edge=False
        )
        for category, rate in attacks.items():
            rates.add_row(category, str(int(rate["total"])), str(int(rate["successes"])), _pct(rate["rate"]))
        console.print(rates)

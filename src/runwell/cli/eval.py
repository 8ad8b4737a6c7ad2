"""``runwell eval``: run eval suites against a variant, compare runs, gate CI on the result.

``eval run`` lives here; ``eval compare`` in :mod:`runwell.cli._eval_compare`; ``eval list`` and
``eval show`` in :mod:`runwell.cli._eval_show`; ``eval promote`` in :mod:`runwell.cli._eval_promote`;
``eval report`` (HTML) in :mod:`runwell.cli._eval_report`; ``eval judge-agreement`` in
:mod:`runwell.cli._eval_judge`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from runwell.cli._eval_common import EXIT_INTERRUPTED, SpecOption, exit_with, load_spec_or_exit, opened_runs
from runwell.cli._output import FormatOption, JsonFlag, OutputFormat, make_console, wants_json
from runwell.cli._store_opt import DbOption
from runwell.errors import ConfigError

if TYPE_CHECKING:
    from runwell.evals.execute import RunProgress
    from runwell.evals.plan import EvalPlan
    from runwell.evals.runstore import CaseRepeat, EvalRun, RunStats

__all__ = ["register"]

_T = TypeVar("_T")


def register(root: typer.Typer) -> None:
    """Mount ``runwell eval`` and its subcommands on ``root``."""
    from runwell.cli import _eval_compare, _eval_judge, _eval_promote, _eval_report, _eval_show

    app = typer.Typer(
        name="eval", help="Evaluate variants on datasets, compare runs, gate CI.", no_args_is_help=True
    )
    app.command("run")(run)
    app.command("compare")(_eval_compare.compare)
    app.command("list")(_eval_show.list_runs)
    app.command("show")(_eval_show.show_run)
    app.command("promote")(_eval_promote.promote_run)
    app.command("report")(_eval_report.report_run)
    app.command("judge-agreement")(_eval_judge.judge_agreement)
    root.add_typer(app)


def run(
    spec: SpecOption = None,
    suite: Annotated[
        str | None,
        typer.Option(
            help="A suite of the spec's evals.suites, or builtin:NAME "
            "(prompt-injection, jailbreak, pii-leak). \\[default: the first suite]",
            show_default=False,
        ),
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(help="Variant to evaluate. \\[default: the spec's default]", show_default=False),
    ] = None,
    repeat: Annotated[int, typer.Option(min=1, help="Ask each case K times (flaky cases show up).")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in flight at once.")] = 8,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="At most this many calls per second.", show_default=False)
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(metavar="RUN_ID", show_default=False, help="Run only the missing cases of this run."),
    ] = None,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="With --resume: run errored cases again too.")
    ] = False,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            min=1, show_default=False, help="Override the variant's max_tokens (smoke tests, demos)."
        ),
    ] = None,
    db: DbOption = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate a variant on a suite through its real provider; store every result as it completes."""
    from runwell.evals.execute import execute_run
    from runwell.evals.plan import build_plan
    from runwell.evals.runner import RunSettings

    loaded = load_spec_or_exit(spec)
    assert loaded is not None
    console = make_console(stderr=True)
    with opened_runs(db, loaded.base_dir) as store:
        previous = store.get_run(resume) if resume else None
        if retry_errors and previous is None:
            exit_with("--retry-errors only applies with --resume RUN_ID", 2)
        plan = build_plan(
            loaded,
            suite=previous.suite if previous else suite,
            variant=previous.variant if previous else variant,
        )
        settings = RunSettings(
            repeat=repeat,
            concurrency=concurrency,
            rate_per_s=rate,
            params={"max_tokens": max_tokens} if max_tokens else {},
        )
        display = _Display(console, plan, resuming=previous is not None, enabled=not no_progress)
        if previous is not None:
            for warning in _resume_warnings(previous, plan):
                console.print(f"[yellow]warning:[/] {warning}", highlight=False)

        async def execute() -> EvalRun:
            try:
                return await execute_run(
                    plan,
                    store,
                    settings,
                    resume=previous,
                    retry_errors=retry_errors,
                    on_start=display.started,
                    on_result=display.advanced,
                )
            finally:
                await plan.aclose()

        try:
            with display.progress:
                finished = _run_interruptible(execute)
        except _Interrupted:
            run_id = display.run_id
            if run_id is None:
                console.print("interrupted before the run started; nothing was stored")
            else:
                console.print(
                    f"interrupted: eval run {run_id} keeps every finished case; resume with:\n"
                    f"  runwell eval run --resume {run_id}" + (f" --spec {spec}" if spec else ""),
                    highlight=False,
                )
            raise typer.Exit(EXIT_INTERRUPTED) from None
        stats = store.stats([finished.run_id]).get(finished.run_id)
    _report(finished, stats, as_json=wants_json(fmt, as_json))


class _Display:
    """The run's header line and progress bar (stderr; the bar only on a terminal)."""

    def __init__(self, console: Console, plan: EvalPlan, *, resuming: bool, enabled: bool) -> None:
        self.console, self.plan, self.resuming = console, plan, resuming
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[passed]} passed, {task.fields[errors]} errors"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled or not console.is_terminal,
        )
        self.run_id: str | None = None
        self._task: TaskID | None = None
        self._passed = self._errors = 0

    def started(self, info: RunProgress) -> None:
        """Say what runs, then show the bar (already finished pairs count as done)."""
        plan, run = self.plan, info.run
        self.run_id = run.run_id
        self.console.print(
            f"{'resuming' if self.resuming else 'running'} eval run [bold]{run.run_id}[/]: "
            f"{plan.feature}@{plan.variant.name} on {plan.suite} ({plan.dataset.name}, "
            f"{len(plan.dataset)} cases x {run.repeats}); {info.todo} of {info.total} calls to make",
            highlight=False,
        )
        self._task = self.progress.add_task(
            plan.variant.name, total=info.total, completed=info.total - info.todo, passed=0, errors=0
        )

    def advanced(self, result: CaseRepeat) -> None:
        """One more pair done."""
        self._passed += bool(result.passed)
        self._errors += result.error is not None
        if self._task is not None:
            self.progress.update(self._task, advance=1, passed=self._passed, errors=self._errors)


class _Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped the run."""


def _run_interruptible(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run the coroutine; SIGTERM cancels it like Ctrl-C does, so the run is marked interrupted."""

    async def main() -> _T:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await make()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise _Interrupted from None


def _resume_warnings(previous: EvalRun, plan: EvalPlan) -> list[str]:
    from runwell.evals.execute import check_resumable

    try:
        return check_resumable(previous, plan)
    except ConfigError as exc:
        exit_with(str(exc), 2)


def _report(run: EvalRun, stats: RunStats | None, *, as_json: bool) -> None:
    if as_json:
        payload = {
            "run": dataclasses.asdict(run),
            "stats": None if stats is None else dataclasses.asdict(stats),
        }
        typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        return
    if stats is None:
        typer.echo(f"eval run {run.run_id} {run.status}: no results")
        return
    cost = "unpriced" if stats.cost_usd is None else f"${stats.cost_usd:.4f}"
    rate = "n/a" if stats.pass_rate is None else f"{stats.pass_rate:.1%}"
    score = "n/a" if stats.mean_score is None else f"{stats.mean_score:.3f}"
    typer.echo(
        f"eval run {run.run_id} {run.status}: {run.feature}@{run.variant} on {run.suite} "
        f"({run.case_count} cases x {run.repeats})\n"
        f"  mean score {score}, pass rate {rate}, {stats.errors} errors of {stats.results} calls, "
        f"cost {cost}\n"
        f"  next: runwell eval compare {run.variant} --suite {run.suite} --gate   "
        "(against the last promoted run)\n"
        f"        runwell eval promote {run.run_id}   (make this run the baseline)\n"
        f"        runwell eval show {run.run_id}   |   runwell eval report {run.run_id}   (HTML)"
    )

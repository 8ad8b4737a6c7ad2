"""``runwell eval report RUN_ID``: a self-contained HTML report with plots, for people who would rather look.

The baseline is ``--baseline`` (a run id or variant name), else the last promoted run on the
run's dataset when there is one and it is another run; the gate is evaluated with the spec's
settings when ``--spec`` (or ./runwell.yaml) is there. The file works offline: inline SVG and CSS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runwell.cli._eval_common import SpecOption, exit_with, load_spec_or_exit, opened_runs
from runwell.cli._store_opt import DbOption
from runwell.errors import ConfigError

__all__ = ["report_run"]


def report_run(
    run_id: Annotated[str, typer.Argument(help="Run id, or a unique prefix of 4+ characters.")],
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Run id or variant name to compare with. \\[default: the last promoted run]",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Where to write. \\[default: eval-report-RUN_ID.html]", show_default=False
        ),
    ] = None,
    spec: SpecOption = None,
    db: DbOption = None,
) -> None:
    """Write an HTML report of one run: score distributions, paired differences, safety, groups, trend."""
    from runwell.cli._eval_compare import gate_config, gate_inputs, resolve_runs
    from runwell.evals.compare import compare_runs
    from runwell.evals.gate import evaluate_gate
    from runwell.evals.history import EvalHistory
    from runwell.evals.html_report import ReportPage, render_html

    loaded = load_spec_or_exit(spec, required=False)
    base_dir = loaded.base_dir if loaded is not None else Path(".")
    with opened_runs(db, base_dir) as store:
        run = store.get_run(run_id)
        history = EvalHistory(store.db)
        base_run = None
        if baseline is not None:
            base_run = resolve_runs((baseline, run.run_id), loaded, store, None)[0]
        else:
            last = history.last_promoted(run.feature, run.dataset_hash)
            base_run = store.get_run(last.run_id) if last is not None and last.run_id != run.run_id else None
        config, series = gate_inputs(gate_config(loaded, None), loaded, history, run)
        gate_spec = loaded.spec.evals.gate if loaded is not None else None
        result = store.run_result(run)
        comparison = compare_runs(
            store.run_result(base_run) if base_run is not None else result,
            result,
            alpha=config.alpha,
            min_slice_size=gate_spec.min_slice_size if gate_spec is not None else 10,
            detect_drop=config.power_target,
            counterfactual_tolerance=gate_spec.counterfactual_tolerance if gate_spec is not None else 0.0,
        )
        gate = evaluate_gate(comparison, config, history=series) if base_run is not None else None
        promoted = [p for p in history.promoted(run.feature, run.dataset_hash) if p.run_id != run.run_id]
    page = ReportPage(
        run=run,
        result=result,
        comparison=comparison,
        baseline=base_run,
        gate=gate,
        history=[(p.run_id[:8], p.mean_score) for p in promoted],
    )
    path = out or Path(f"eval-report-{run.run_id}.html")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(page), encoding="utf-8")
    except OSError as exc:
        exit_with(str(ConfigError(f"cannot write report {path}: {exc.strerror or exc}")), 2)
    against = f" against {base_run.variant} ({base_run.run_id})" if base_run is not None else ""
    typer.echo(f"wrote {path} (eval run {run.run_id}{against}); open it in a browser, it works offline")

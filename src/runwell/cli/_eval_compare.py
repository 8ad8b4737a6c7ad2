"""``runwell eval compare BASELINE CANDIDATE [--gate]``: paired statistics and the CI gate.

BASELINE and CANDIDATE are run ids (or unique prefixes) or variant names of the spec's feature.
A variant name means its latest complete run on the comparison's dataset: the dataset of
``--suite`` when given, else of the other argument when it is a run id, else of the spec's first
suite. Exit codes: 0 pass (or no ``--gate``), 1 the gate failed, 2 usage or configuration error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from runwell.cli._eval_common import SpecOption, exit_with, load_spec_or_exit, opened_runs
from runwell.cli._store_opt import DbOption
from runwell.errors import ConfigError, StoreError
from runwell.evals.gate import EXIT_PASS, EXIT_USAGE_ERROR, GateConfig
from runwell.evals.runstore import EvalRun, EvalRunStore
from runwell.spec.loader import LoadedSpec

__all__ = ["compare", "gate_config"]


def gate_config(loaded: LoadedSpec | None, alpha: float | None) -> GateConfig:
    """The spec's ``evals.gate`` as the gate core reads it (``--alpha`` overrides the spec's)."""
    if loaded is None:
        return GateConfig(alpha=alpha or 0.05)
    gate = loaded.spec.evals.gate
    return GateConfig(
        alpha=alpha or gate.alpha,
        floor=gate.floor,
        pinned_baseline_score=gate.pinned_baseline,
        tolerance=gate.tolerance,
        critical_tag=gate.critical_tag or "critical",
        max_slice_gap=gate.max_slice_gap,
    )


def _resolve(
    refs: tuple[str, str], loaded: LoadedSpec | None, store: EvalRunStore, suite: str | None
) -> tuple[EvalRun, EvalRun]:
    variants = set(loaded.spec.variants) if loaded is not None else set()
    runs: dict[int, EvalRun] = {i: store.get_run(ref) for i, ref in enumerate(refs) if ref not in variants}
    for run in runs.values():
        if run.status != "complete":
            raise ConfigError(
                f"eval run {run.run_id} is {run.status} ({run.variant}); finish it with "
                f"'runwell eval run --resume {run.run_id}' before comparing"
            )
    dataset_hash: str | None = None
    if suite is not None and loaded is not None:
        from runwell.evals.plan import resolve_suite

        dataset_hash = resolve_suite(loaded, suite)[1].content_hash
    elif runs:
        dataset_hash = runs[max(runs)].dataset_hash
    elif loaded is not None and loaded.spec.evals.suites:
        from runwell.evals.plan import resolve_suite

        dataset_hash = resolve_suite(loaded, None)[1].content_hash
    for i in (1, 0):  # the candidate first: without a dataset yet, its latest run sets it
        if i in runs:
            continue
        assert loaded is not None
        found = store.latest_complete(loaded.name, refs[i], dataset_hash=dataset_hash)
        if found is None:
            on = f" on dataset {dataset_hash[:12]}" if dataset_hash else ""
            raise ConfigError(
                f"no complete eval run of variant {refs[i]!r}{on}; run one with "
                f"'runwell eval run --variant {refs[i]}'"
            )
        runs[i], dataset_hash = found, found.dataset_hash
    return runs[0], runs[1]


def compare(
    baseline: Annotated[
        str, typer.Argument(help="Run id (or prefix), or a variant name: its latest complete run.")
    ],
    candidate: Annotated[str, typer.Argument(help="Run id (or prefix), or a variant name.")],
    gate: Annotated[bool, typer.Option("--gate", help="Exit 1 when the gate fails (CI).")] = False,
    junit: Annotated[
        Path | None, typer.Option(help="Write a JUnit XML report here.", show_default=False)
    ] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write the Markdown report here.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of Markdown.")] = False,
    alpha: Annotated[
        float | None,
        typer.Option(
            min=0.0001,
            max=0.5,
            show_default=False,
            help="Significance level. \\[default: the spec's evals.gate.alpha]",
        ),
    ] = None,
    suite: Annotated[
        str | None, typer.Option(help="Dataset of this suite, for variant names.", show_default=False)
    ] = None,
    spec: SpecOption = None,
    db: DbOption = None,
) -> None:
    """Compare two runs case by case (exact McNemar, paired bootstrap) and apply the gate."""
    from runwell.evals.compare import compare_runs
    from runwell.evals.gate import evaluate_gate
    from runwell.evals.report import append_step_summary, report_json, report_junit, report_markdown

    loaded = load_spec_or_exit(spec, required=False)
    base_dir = loaded.base_dir if loaded is not None else Path(".")
    config = _config_or_exit(loaded, alpha)
    with opened_runs(db, base_dir, store_error_code=EXIT_USAGE_ERROR) as store:
        base_run, cand_run = _resolve((baseline, candidate), loaded, store, suite)
        comparison = compare_runs(
            store.run_result(base_run),
            store.run_result(cand_run),
            alpha=config.alpha,
            critical_tag=config.critical_tag,
        )
    result = evaluate_gate(comparison, config)
    text = report_markdown(comparison, result)
    try:
        if junit is not None:
            _write(junit, report_junit(comparison, result))
        if markdown is not None:
            _write(markdown, text)
        append_step_summary(text)
    except (ConfigError, StoreError) as exc:
        exit_with(str(exc), EXIT_USAGE_ERROR)
    if as_json:
        typer.echo(orjson.dumps(report_json(comparison, result), option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(text)
    raise typer.Exit(result.exit_code if gate else EXIT_PASS)


def _config_or_exit(loaded: LoadedSpec | None, alpha: float | None) -> GateConfig:
    try:
        return gate_config(loaded, alpha)
    except ConfigError as exc:
        exit_with(str(exc), EXIT_USAGE_ERROR)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write report {path}: {exc.strerror or exc}") from exc

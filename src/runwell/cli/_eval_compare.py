"""``runwell eval compare [BASELINE] CANDIDATE [--gate] [--promote]``: paired statistics and the CI gate.

BASELINE and CANDIDATE are run ids (or unique prefixes) or variant names of the spec's feature.
A variant name means its latest complete run on the comparison's dataset: the dataset of
``--suite`` when given, else of the other argument when it is a run id, else of the spec's first
suite. Without BASELINE the baseline is the **last promoted run** of the feature on the
candidate's dataset (``runwell eval promote``).

With ``--gate`` the decision is kept in the eval history, the trend check looks at the promoted
runs, and ``--promote`` promotes the candidate when the gate passes. Exit codes: 0 pass (or no
``--gate``), 1 the gate failed, 2 usage or configuration error.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from runwell.cli._eval_common import SpecOption, exit_with, load_spec_or_exit, opened_runs
from runwell.cli._store_opt import DbOption
from runwell.errors import ConfigError, StoreError
from runwell.evals.gate import EXIT_PASS, EXIT_USAGE_ERROR, GateConfig
from runwell.evals.runstore import EvalRun, EvalRunStore
from runwell.spec.loader import LoadedSpec

if TYPE_CHECKING:
    from runwell.evals.compare import Comparison
    from runwell.evals.gate import GateResult
    from runwell.evals.history import EvalHistory

__all__ = ["compare", "gate_config", "gate_inputs", "resolve_runs"]


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
        max_attack_success=gate.max_attack_success,
        max_over_refusal=gate.max_over_refusal,
        detect_drop=gate.detect_drop,
        trend_min_runs=gate.trend.min_runs,
        trend_min_drop=gate.trend.min_drop,
    )


def _by_ref(ref: str, loaded: LoadedSpec | None, store: EvalRunStore) -> EvalRun | None:
    variants = set(loaded.spec.variants) if loaded is not None else set()
    if ref in variants:
        return None
    run = store.get_run(ref)
    if run.status != "complete":
        raise ConfigError(
            f"eval run {run.run_id} is {run.status} ({run.variant}); finish it with "
            f"'runwell eval run --resume {run.run_id}' before comparing"
        )
    return run


def _suite_hash(loaded: LoadedSpec | None, suite: str | None) -> str | None:
    if loaded is None or (suite is None and not loaded.spec.evals.suites):
        return None
    from runwell.evals.plan import resolve_suite

    return resolve_suite(loaded, suite)[1].content_hash


def resolve_runs(
    refs: tuple[str, ...], loaded: LoadedSpec | None, store: EvalRunStore, suite: str | None
) -> tuple[EvalRun | None, EvalRun]:
    """``(baseline, candidate)`` runs for one or two references; a missing baseline is ``None``."""
    runs: dict[int, EvalRun] = {}
    for i, ref in enumerate(refs):
        found = _by_ref(ref, loaded, store)
        if found is not None:
            runs[i] = found
    if suite is not None:
        dataset_hash = _suite_hash(loaded, suite)
    elif runs:
        dataset_hash = runs[max(runs)].dataset_hash
    else:
        dataset_hash = _suite_hash(loaded, None)
    for i in reversed(range(len(refs))):  # the candidate first: without a dataset yet, its run sets it
        if i in runs:
            continue
        assert loaded is not None
        latest = store.latest_complete(loaded.name, refs[i], dataset_hash=dataset_hash)
        if latest is None:
            on = f" on dataset {dataset_hash[:12]}" if dataset_hash else ""
            raise ConfigError(
                f"no complete eval run of variant {refs[i]!r}{on}; run one with "
                f"'runwell eval run --variant {refs[i]}'"
            )
        runs[i], dataset_hash = latest, latest.dataset_hash
    return (runs[0], runs[1]) if len(refs) == 2 else (None, runs[0])


def _promoted_baseline(history: EvalHistory, candidate: EvalRun, store: EvalRunStore) -> EvalRun:
    recent = history.promoted(candidate.feature, candidate.dataset_hash, limit=2)
    promoted = [p for p in recent if p.run_id != candidate.run_id]
    if not promoted:
        raise ConfigError(
            f"no promoted run of feature {candidate.feature!r} on dataset {candidate.dataset_hash[:12]} "
            "to compare with; pass BASELINE explicitly, or promote a run with 'runwell eval promote RUN_ID'"
        )
    return store.get_run(promoted[-1].run_id)


def gate_inputs(
    config: GateConfig, loaded: LoadedSpec | None, history: EvalHistory, candidate: EvalRun
) -> tuple[GateConfig, list[float]]:
    """The gate config with the promoted champion's score as the pinned score (unless the spec pins
    one), and the promoted runs' mean scores (oldest first, without the candidate) for the trend."""
    window = loaded.spec.evals.gate.trend.window if loaded is not None else 10
    promoted = [
        p
        for p in history.promoted(candidate.feature, candidate.dataset_hash, limit=window + 1)
        if p.run_id != candidate.run_id
    ][-window:]
    if config.pinned_baseline_score is None and promoted:
        config = replace(
            config,
            pinned_baseline_score=promoted[-1].mean_score,
            pinned_source=f"last promoted run {promoted[-1].run_id}",
        )
    return config, [p.mean_score for p in promoted]


def compare(
    runs: Annotated[
        list[str],
        typer.Argument(
            metavar="[BASELINE] CANDIDATE",
            help="Run ids (or prefixes) or variant names (their latest complete run). With one, the "
            "baseline is the last promoted run on the candidate's dataset.",
            show_default=False,
        ),
    ],
    gate: Annotated[
        bool, typer.Option("--gate", help="Exit 1 when the gate fails (CI); keep the decision.")
    ] = False,
    promote: Annotated[
        bool, typer.Option("--promote", help="With --gate: promote the candidate when the gate passes.")
    ] = False,
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
    """Compare two runs case by case (exact McNemar, paired bootstrap, safety, power) and apply the gate."""
    from runwell.evals.report import append_step_summary, report_json, report_junit, report_markdown

    if not 1 <= len(runs) <= 2:
        exit_with(f"give CANDIDATE or BASELINE CANDIDATE, got {len(runs)} arguments", EXIT_USAGE_ERROR)
    if promote and not gate:
        exit_with("--promote only applies with --gate", EXIT_USAGE_ERROR)
    loaded = load_spec_or_exit(spec, required=False)
    base_dir = loaded.base_dir if loaded is not None else Path(".")
    config = _config_or_exit(loaded, alpha)
    with opened_runs(db, base_dir, store_error_code=EXIT_USAGE_ERROR) as store:
        comparison, result, notes = _judge(
            store, tuple(runs), loaded, suite, config, gate=gate, promote=promote
        )
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
    for note in notes:
        typer.echo(note, err=True)
    raise typer.Exit(result.exit_code if gate else EXIT_PASS)


def _judge(
    store: EvalRunStore,
    refs: tuple[str, ...],
    loaded: LoadedSpec | None,
    suite: str | None,
    config: GateConfig,
    *,
    gate: bool,
    promote: bool,
) -> tuple[Comparison, GateResult, list[str]]:
    from runwell.evals.compare import compare_runs, summarize_run
    from runwell.evals.gate import evaluate_gate
    from runwell.evals.history import EvalHistory

    history = EvalHistory(store.db)
    base_run, cand_run = resolve_runs(refs, loaded, store, suite)
    if base_run is None:
        base_run = _promoted_baseline(history, cand_run, store)
    config, series = gate_inputs(config, loaded, history, cand_run)
    gate_spec = loaded.spec.evals.gate if loaded is not None else None
    candidate = store.run_result(cand_run)
    comparison = compare_runs(
        store.run_result(base_run),
        candidate,
        alpha=config.alpha,
        min_slice_size=gate_spec.min_slice_size if gate_spec is not None else 10,
        detect_drop=config.power_target,
        counterfactual_tolerance=gate_spec.counterfactual_tolerance if gate_spec is not None else 0.0,
    )
    result = evaluate_gate(comparison, config, history=series)
    notes: list[str] = []
    if gate:
        mean, rate = summarize_run(candidate, pass_threshold=comparison.pass_threshold)
        record = history.record_gate(
            cand_run, base_run.run_id, result, candidate_mean=mean, candidate_pass_rate=rate
        )
        notes.append(f"gate decision {record.gate_id} kept in the eval history")
        if promote and result.passed:
            if history.promotion(cand_run.run_id) is None:
                history.promote(
                    cand_run, mean_score=mean, pass_rate=rate, reason="gate passed", gate_id=record.gate_id
                )
                notes.append(
                    f"eval run {cand_run.run_id} promoted: it is now the baseline of {cand_run.feature}"
                )
            else:
                notes.append(f"eval run {cand_run.run_id} was already promoted")
        elif promote:
            notes.append(f"eval run {cand_run.run_id} not promoted: the gate failed")
    return comparison, result, notes


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

"""Evals: the stored runs of a feature, and a comparison of two with the gate's verdict, the paired
differences and the slices as plots (the statistics and the gate of ``runwell eval compare``)."""

from __future__ import annotations

from dataclasses import dataclass

from runwell.console.html import Child, Safe, badge, el, fmt_time, fmt_usd, join, layout, table
from runwell.console.parts import feature_picker
from runwell.console.svg import bar_chart, histogram
from runwell.console.view import Response, View, html_response
from runwell.errors import ConfigError
from runwell.evals.compare import Comparison, compare_runs
from runwell.evals.gate import GateConfig, GateResult, evaluate_gate
from runwell.evals.runstore import EvalRun, EvalRunStore, RunStats

__all__ = ["render"]

_RESAMPLES = 2000  # the page answers in well under a second; the CI gate keeps its own count


@dataclass
class _Runs:
    runs: list[EvalRun]
    stats: dict[str, RunStats]


@dataclass
class _Compared:
    comparison: Comparison
    gate: GateResult


def _gate_config(view: View, feature: str) -> GateConfig:
    loaded = view.sources.specs.get(feature)
    if loaded is None:
        return GateConfig()
    gate = loaded.spec.evals.gate
    return GateConfig(
        alpha=gate.alpha,
        floor=gate.floor,
        pinned_baseline_score=gate.pinned_baseline,
        tolerance=gate.tolerance,
        critical_tag=gate.critical_tag or "critical",
        max_slice_gap=gate.max_slice_gap,
    )


def _list(view: View, feature: str) -> _Runs:
    store = EvalRunStore(view.sources.store.db)
    runs = store.list_runs(feature=feature, limit=50)
    return _Runs(runs, store.stats([r.run_id for r in runs]))


def _compare(view: View, feature: str, baseline: str, candidate: str) -> _Compared:
    store = EvalRunStore(view.sources.store.db)
    base, cand = store.get_run(baseline), store.get_run(candidate)
    for run in (base, cand):
        if run.feature != feature:
            raise ConfigError(f"eval run {run.run_id} is of feature {run.feature!r}, not {feature!r}")
        if run.status != "complete":
            raise ConfigError(f"eval run {run.run_id} is {run.status}; only complete runs are compared")
    config = _gate_config(view, feature)
    comparison = compare_runs(
        store.run_result(base),
        store.run_result(cand),
        alpha=config.alpha,
        resamples=_RESAMPLES,
        critical_tag=config.critical_tag,
    )
    return _Compared(comparison, evaluate_gate(comparison, config))


def _runs_table(found: _Runs) -> Safe:
    rows = []
    for r in found.runs:
        s = found.stats.get(r.run_id)
        rows.append(
            [
                el("code", r.run_id),
                r.variant,
                r.suite,
                r.dataset_hash[:12],
                badge(r.status, "ok" if r.status == "complete" else "warn"),
                f"{s.results}/{r.expected_results}" if s else f"0/{r.expected_results}",
                "—" if s is None or s.mean_score is None else f"{s.mean_score:.3f}",
                "—" if s is None or s.pass_rate is None else f"{s.pass_rate:.0%}",
                fmt_usd(s.cost_usd) if s else "—",
                fmt_time(r.started_at),
            ]
        )
    headers = [
        "run",
        "variant",
        "suite",
        "dataset",
        "status",
        "results",
        "mean score",
        "pass rate",
        "cost",
        "started",
    ]
    return table("Stored eval runs, newest first", headers, rows, numeric=(5, 6, 7, 8))


def _compare_form(view: View, feature: str, runs: list[EvalRun]) -> Safe:
    complete = [r for r in runs if r.status == "complete"]
    loaded = view.sources.specs.get(feature)
    default = loaded.default_variant if loaded is not None else None
    base = view.query.get("baseline") or next((r.run_id for r in complete if r.variant == default), "")
    cand = view.query.get("candidate") or next((r.run_id for r in complete if r.run_id != base), "")

    def pick(name: str, label: str, current: str) -> Child:
        options = [
            el(
                "option",
                f"{r.run_id} · {r.variant} · {r.dataset_hash[:8]}",
                value=r.run_id,
                selected=r.run_id == current,
            )
            for r in complete
        ]
        return el("label", label, el("select", options, name=name))

    if len(complete) < 2:
        return el(
            "p",
            "Two complete runs are needed for a comparison: runwell eval run --variant NAME.",
            class_="muted",
        )
    return el(
        "form",
        el("input", type="hidden", name="feature", value=feature),
        pick("baseline", "Baseline run", base),
        pick("candidate", "Candidate run", cand),
        el("button", "Compare", type="submit"),
        method="get",
        action="/console/evals",
        class_="filters",
    )


def _comparison(done: _Compared) -> Safe:
    c, g = done.comparison, done.gate
    boot, mc = c.bootstrap, c.mcnemar
    checks = [
        [k.kind, badge(k.status, {"passed": "ok", "failed": "bad"}.get(k.status, "info")), k.message]
        for k in g.checks
    ]
    diffs = [p.candidate.score - p.baseline.score for p in c.pairs]
    slices = [s for s in c.slices if s.n >= 1][:12]
    plots: list[Child] = [histogram("Paired score differences (candidate − baseline), per case", diffs)]
    if slices:
        plots.append(
            bar_chart(
                "Mean score per slice",
                [s.tag for s in slices],
                [
                    ("baseline", [s.baseline_mean for s in slices]),
                    ("candidate", [s.candidate_mean for s in slices]),
                ],
                y_max=1.0,
            )
        )
    regressions = c.regressions()
    return join(
        el(
            "p",
            badge("GATE PASSED", "ok") if g.passed else badge("GATE FAILED", "bad"),
            f" {c.candidate_variant} ({c.candidate_run_id}) against {c.baseline_variant} "
            f"({c.baseline_run_id}), {c.n_paired} paired cases.",
        ),
        el(
            "p",
            f"Mean score {c.baseline_mean:.3f} → {c.candidate_mean:.3f} (difference {boot.mean_diff:+.3f}, "
            f"{boot.confidence:.0%} bootstrap CI [{boot.ci_low:+.3f}, {boot.ci_high:+.3f}]); pass rate "
            f"{c.baseline_pass_rate:.0%} → {c.candidate_pass_rate:.0%}; "
            f"McNemar: {mc.c} broken, {mc.b} fixed, "
            f"p={mc.p_value:.3g}.",
        ),
        table("The gate's checks", ["check", "verdict", "why"], checks),
        el("div", plots, class_="grid"),
        el(
            "p",
            "Cases the candidate broke: " + (", ".join(regressions) if regressions else "none"),
            class_="muted",
        ),
    )


async def render(view: View) -> Response:
    """``GET /console/evals``."""
    feature = view.feature()
    frame = view.frame("evals")
    if feature is None:
        return html_response(layout("Evals", el("p", "No feature yet."), frame))
    found = await view.run(lambda: _list(view, feature))
    parts: list[Child] = [
        feature_picker(view, "/console/evals"),
        el("h2", "Compare two runs"),
        _compare_form(view, feature, found.runs),
    ]
    baseline, candidate = view.query.get("baseline"), view.query.get("candidate")
    if baseline and candidate:
        try:
            done = await view.run(lambda: _compare(view, feature, baseline, candidate))
            parts.append(el("section", _comparison(done), aria_label="Comparison"))
        except ConfigError as exc:
            parts.append(el("p", str(exc), class_="notice bad", role="alert"))
    parts += [el("h2", "Runs"), _runs_table(found)]
    return html_response(layout(f"Evals: {feature}", join(parts), frame))

"""Render a comparison and its gate verdict as JSON, JUnit XML or Markdown.

JUnit: one ``<testsuite>`` of gate checks (one ``<testcase>`` each; a failed check carries
``<failure>``, an unconfigured one ``<skipped>``, a warning such as an underpowered suite a
``<skipped>`` whose message starts ``WARNING`` plus a ``warning`` property and ``<system-out>``
on the suite) and one of critical cases, so CI systems show exactly which check or case stopped
the change. Markdown is for PR comments and the GitHub job summary (:func:`append_step_summary`);
warnings open it, right under the verdict.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from runwell.errors import ConfigError
from runwell.evals.compare import Comparison, UsageSummary
from runwell.evals.gate import GateResult
from runwell.evals.power import PowerAnalysis
from runwell.evals.safety import RateComparison

__all__ = ["append_step_summary", "report_json", "report_junit", "report_markdown"]

# XML 1.0 cannot carry these at all, even escaped; case ids and messages may contain them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LIST_LIMIT = 50
_TAG_LIMIT = 60


def report_json(comparison: Comparison, gate: GateResult) -> dict[str, Any]:
    """A JSON-ready dict of the verdict and every number behind it."""
    c = comparison
    return {
        "passed": gate.passed,
        "exit_code": gate.exit_code,
        "baseline": {"run_id": c.baseline_run_id, "variant": c.baseline_variant},
        "candidate": {"run_id": c.candidate_run_id, "variant": c.candidate_variant},
        "dataset": {"hash": c.dataset_hash, "same_for_both_runs": c.same_dataset},
        "n_paired": c.n_paired,
        "baseline_only": list(c.baseline_only),
        "candidate_only": [v.case_id for v in c.candidate_only],
        "scores": {
            "baseline_mean": c.baseline_mean,
            "candidate_mean": c.candidate_mean,
            "mean_diff": c.mean_diff,
            "bootstrap": asdict(c.bootstrap),
        },
        "pass_rates": {
            "threshold": c.pass_threshold,
            "baseline": {"rate": c.baseline_pass_rate, "interval": list(c.baseline_pass_interval)},
            "candidate": {"rate": c.candidate_pass_rate, "interval": list(c.candidate_pass_interval)},
        },
        "mcnemar": asdict(c.mcnemar),
        "alpha": c.alpha,
        "slices": [asdict(s) for s in c.slices],
        "groups": [{**asdict(g), "tag": g.tag} for g in c.groups],
        "min_slice_size": c.min_slice_size,
        "slice_gap": None if c.slice_gap is None else {**asdict(c.slice_gap), "gap": c.slice_gap.gap},
        "counterfactuals": [asdict(g) for g in c.counterfactuals],
        "safety": {
            "attack_success": _rate_json(c.safety.attack_success),
            "over_refusal": _rate_json(c.safety.over_refusal),
        },
        "power": None if gate.power is None else _power_json(gate.power),
        "trend": None
        if gate.trend is None
        else {
            "series": list(gate.trend.series),
            "mann_kendall": asdict(gate.trend.mann_kendall),
            "sen_slope": asdict(gate.trend.slope),
        },
        "unstable_case_ids": list(c.unstable_case_ids),
        "regressions": c.regressions(),
        "usage": {
            "baseline": asdict(c.baseline_usage),
            "candidate": asdict(c.candidate_usage),
            "latency_delta_ms": c.latency_delta_ms,
            "cost_delta_usd": c.cost_delta_usd,
        },
        "gate": {
            "checks": [asdict(k) for k in gate.checks],
            "failures": [asdict(f) for f in gate.failures],
            "warnings": [asdict(w) for w in gate.warnings],
            "critical_cases": [asdict(k) for k in gate.critical_cases],
        },
    }


def _power_json(power: PowerAnalysis) -> dict[str, Any]:
    return {**asdict(power), "underpowered": power.underpowered, "message": power.message()}


def _rate_json(rate: RateComparison | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    return {
        **asdict(rate),
        "baseline_rate": rate.baseline_rate,
        "candidate_rate": rate.candidate_rate,
    }


def _clean(text: str) -> str:
    return _XML_INVALID.sub("\N{REPLACEMENT CHARACTER}", text)


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(
        parent, "testsuite", name=name, tests="0", failures="0", errors="0", skipped="0", time="0"
    )


def _count(suite: ET.Element, key: str) -> None:
    suite.set(key, str(int(suite.get(key, "0")) + 1))


def report_junit(comparison: Comparison, gate: GateResult, *, suite_name: str = "runwell.evals") -> str:
    """JUnit XML (the schema Jenkins, GitLab and GitHub reporters read) as a string."""
    root = ET.Element("testsuites", name=suite_name)
    checks = _suite(root, f"{suite_name}.gate")
    props = ET.SubElement(checks, "properties")
    for key, value in (
        ("baseline", f"{comparison.baseline_variant} ({comparison.baseline_run_id})"),
        ("candidate", f"{comparison.candidate_variant} ({comparison.candidate_run_id})"),
        ("dataset_hash", comparison.dataset_hash),
        ("n_paired", str(comparison.n_paired)),
    ):
        ET.SubElement(props, "property", name=key, value=_clean(value))
    for warning in gate.warnings:
        text = f"{warning.kind}: {_warning_text(warning.message)}"
        ET.SubElement(props, "property", name="warning", value=_clean(text))
    for check in gate.checks:
        case = ET.SubElement(checks, "testcase", classname=f"{suite_name}.gate", name=check.kind, time="0")
        _count(checks, "tests")
        if check.status == "failed":
            failure = ET.SubElement(case, "failure", type=check.kind, message=_clean(check.message))
            failure.text = _clean(check.message)
            _count(checks, "failures")
        elif check.status in ("skipped", "warning"):
            # JUnit has no "warning": a skipped case is what CI reporters show as "look at this".
            text = check.message if check.status == "skipped" else _warning_text(check.message)
            ET.SubElement(case, "skipped", message=_clean(text))
            _count(checks, "skipped")
    if gate.warnings:
        out = ET.SubElement(checks, "system-out")
        out.text = _clean("\n".join(_warning_text(f"{w.kind}: {w.message}") for w in gate.warnings))
    critical = _suite(root, f"{suite_name}.critical")
    for item in gate.critical_cases:
        case = ET.SubElement(
            critical, "testcase", classname=f"{suite_name}.critical", name=_clean(item.case_id), time="0"
        )
        _count(critical, "tests")
        if not item.passed:
            message = f"critical case {item.case_id} fails in the candidate (score {item.score:.3f})"
            ET.SubElement(
                case, "failure", type="critical_case_failed", message=_clean(message)
            ).text = _clean(message)
            _count(critical, "failures")
    # The common (Jenkins) schema has no ``skipped`` on <testsuites>: totals of the rest only.
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _warning_text(message: str) -> str:
    return message if message.startswith("WARNING") else f"WARNING: {message}"


def _cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def _row(*cells: object) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(f"`{_cell(i)}`" for i in ids[:_LIST_LIMIT])
    return shown + (f" and {len(ids) - _LIST_LIMIT} more" if len(ids) > _LIST_LIMIT else "")


def _rate(rate: float, interval: tuple[float, float]) -> str:
    return f"{rate:.1%} [{interval[0]:.1%}, {interval[1]:.1%}]"


def _usage_rows(base: UsageSummary, cand: UsageSummary) -> list[str]:
    def num(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    return [
        _row("mean latency (ms)", num(base.mean_latency_ms, ".0f"), num(cand.mean_latency_ms, ".0f")),
        _row("p95 latency (ms)", num(base.p95_latency_ms, ".0f"), num(cand.p95_latency_ms, ".0f")),
        _row("cost (USD)", num(base.cost_usd, ".4f"), num(cand.cost_usd, ".4f")),
        _row(
            "tokens in / out",
            f"{base.input_tokens} / {base.output_tokens}",
            f"{cand.input_tokens} / {cand.output_tokens}",
        ),
        _row("errors", base.errors, cand.errors),
    ]


def _safety_rows(c: Comparison) -> list[str]:
    rates = [("attack success rate", c.safety.attack_success), ("over-refusal rate", c.safety.over_refusal)]
    shown = [(label, r) for label, r in rates if r is not None]
    if not shown:
        return []
    lines = [
        "",
        "### Safety",
        "",
        _row("", "cases", "baseline", "candidate", "paired test"),
        "|---|---|---|---|---|",
    ]
    for label, r in shown:
        lines.append(
            _row(
                label,
                r.n,
                _rate(r.baseline_rate, r.baseline_interval),
                _rate(r.candidate_rate, r.candidate_interval),
                f"worse on {r.mcnemar.c}, better on {r.mcnemar.b}, p = {r.mcnemar.p_value:.3g}",
            )
        )
    return lines


def _group_rows(c: Comparison) -> list[str]:
    if not c.groups:
        return []
    level = f"{1.0 - c.alpha:.0%}"
    lines = [
        "",
        "### Groups (fairness)",
        "",
        _row("group", "n", f"candidate mean [{level}]", f"candidate pass rate [{level}]", "baseline mean"),
        "|---|---|---|---|---|",
    ]
    for g in c.groups:
        lo, hi = g.candidate_mean_interval
        note = f" (fewer than {c.min_slice_size}: not in the gap)" if g.too_small else ""
        lines.append(
            _row(
                g.tag + note,
                g.n,
                f"{g.candidate_mean:.3f} [{lo:.3f}, {hi:.3f}]",
                _rate(g.candidate_pass_rate, g.candidate_pass_interval),
                f"{g.baseline_mean:.3f}",
            )
        )
    if c.slice_gap is not None:
        gap = c.slice_gap
        p = "n/a" if gap.p_value is None else f"{gap.p_value:.3g}"
        lines += [
            "",
            f"Widest candidate gap: {gap.gap:.3f} in `{_cell(gap.dimension)}` "
            f"(`{_cell(gap.low_tag)}` {gap.low_mean:.3f} vs `{_cell(gap.high_tag)}` {gap.high_mean:.3f}; "
            f"permutation test over {gap.groups} groups, p = {p}).",
        ]
    return lines


def _extra_rows(c: Comparison, gate: GateResult) -> list[str]:
    lines: list[str] = []
    broken = [g for g in c.counterfactuals if not g.consistent]
    if c.counterfactuals:
        lines += [
            "",
            "### Counterfactual pairs",
            "",
            f"{len(c.counterfactuals) - len(broken)} of {len(c.counterfactuals)} groups answered alike.",
        ]
        lines += [
            f"Different answers in `{_cell(g.group)}`: "
            + ", ".join(
                f"`{_cell(cid)}` {'pass' if ok else 'fail'} {s:.2f}"
                for cid, ok, s in zip(g.case_ids, g.passed, g.scores, strict=True)
            )
            for g in broken[:_LIST_LIMIT]
        ]
    if gate.trend is not None:
        t = gate.trend
        series = " → ".join(f"{v:.3f}" for v in t.series)
        lines += [
            "",
            "### Trend",
            "",
            f"Promoted runs and the candidate: {series}. Mann-Kendall S = {t.mann_kendall.s}, "
            f"one-sided p(decline) = {t.mann_kendall.p_decreasing:.3g}; Sen's slope "
            f"{t.slope.slope:+.4f} per run [{t.slope.low:+.4f}, {t.slope.high:+.4f}].",
        ]
    return lines


def report_markdown(comparison: Comparison, gate: GateResult) -> str:
    """A Markdown summary: verdict, warnings, scores, safety, power, gate checks, groups, trend."""
    c, boot = comparison, comparison.bootstrap
    verdict = "PASS" if gate.passed else "FAIL"
    lines = [f"## runwell eval gate: {'✅' if gate.passed else '❌'} {verdict}", ""]
    lines += [f"> ⚠️ **{_cell(_warning_text(w.message))}** ({w.kind})" for w in gate.warnings]
    if gate.warnings:
        lines.append("")
    lines += [
        f"Candidate `{_cell(c.candidate_variant)}` vs baseline `{_cell(c.baseline_variant)}` on "
        f"{c.n_paired} paired cases (dataset `{c.dataset_hash[:12]}`"
        + ("" if c.same_dataset else ", **runs used different datasets**")
        + f"; baseline only: {len(c.baseline_only)}, candidate only: {len(c.candidate_only)}).",
        "",
        _row("", "baseline", "candidate"),
        "|---|---|---|",
        _row("mean score", f"{c.baseline_mean:.3f}", f"{c.candidate_mean:.3f}"),
        _row(
            "pass rate",
            _rate(c.baseline_pass_rate, c.baseline_pass_interval),
            _rate(c.candidate_pass_rate, c.candidate_pass_interval),
        ),
        *_usage_rows(c.baseline_usage, c.candidate_usage),
        "",
        f"Score difference {boot.mean_diff:+.3f}, "
        f"{boot.confidence:.0%} CI [{boot.ci_low:+.3f}, {boot.ci_high:+.3f}] "
        f"(paired bootstrap, {boot.resamples} resamples). McNemar exact: candidate fixed {c.mcnemar.b}, "
        f"broke {c.mcnemar.c}, p = {c.mcnemar.p_value:.3g}.",
    ]
    if gate.power is not None:
        lines += ["", f"Power: {_cell(gate.power.summary())}"]
    lines += _safety_rows(c)
    lines += [
        "",
        "### Gate checks",
        "",
        _row("check", "result", "detail"),
        "|---|---|---|",
        *(_row(k.kind, k.status, k.message) for k in gate.checks),
    ]
    lines += _group_rows(c)
    if c.slices:
        lines += [
            "",
            "### By tag",
            "",
            _row("tag", "n", "baseline", "candidate", "diff"),
            "|---|---|---|---|---|",
        ]
        lines += [
            _row(
                s.tag,
                s.n,
                f"{s.baseline_mean:.3f}",
                f"{s.candidate_mean:.3f}",
                f"{s.candidate_mean - s.baseline_mean:+.3f}",
            )
            for s in c.slices[:_TAG_LIMIT]
        ]
        if len(c.slices) > _TAG_LIMIT:
            lines.append(f"... and {len(c.slices) - _TAG_LIMIT} more tags (see the JSON report).")
    if gate.critical_cases:
        failing = [k.case_id for k in gate.critical_cases if not k.passed]
        lines += [
            "",
            "### Critical cases",
            "",
            f"{len(gate.critical_cases) - len(failing)} of {len(gate.critical_cases)} pass.",
        ]
        lines += [f"Failing: {_ids(failing)}"] if failing else []
    lines += _extra_rows(c, gate)
    regressions = c.regressions()
    if regressions:
        lines += [
            "",
            "### Regressions",
            "",
            f"Passed on the baseline, fail on the candidate: {_ids(regressions)}",
        ]
    if c.unstable_case_ids:
        lines += [
            "",
            "### Unstable cases",
            "",
            f"Verdict changed between repeats: {_ids(c.unstable_case_ids)}",
        ]
    lines += [
        "",
        f"**Verdict: {verdict}**" + ("" if gate.passed else f" ({', '.join(f.kind for f in gate.failures)})"),
        "",
    ]
    return "\n".join(lines)


def append_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append ``markdown`` to ``$GITHUB_STEP_SUMMARY`` if set; return whether it was written."""
    path = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot append to GITHUB_STEP_SUMMARY file {path}: {exc.strerror or exc}") from exc
    return True

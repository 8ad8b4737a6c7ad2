"""``runwell eval report RUN``: one self-contained HTML page for people who would rather look than read.

The page has the run's numbers and the gate's verdict, and plots drawn as inline SVG: the
distribution of per-case scores (the baseline's beside it), the paired per-case differences,
attack success and over-refusal with their intervals, scores per declared group with theirs,
and the trend of the promoted runs ending with this one. Then every check and every case.

Self-contained on purpose: no script, no stylesheet, font or image is fetched, so the file can
be attached to a ticket and opened offline years later. Everything that came from a dataset or
a model (case ids, tags, outputs, errors) is escaped: model output is untrusted.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from runwell.evals._svg import (
    BASELINE_COLOUR,
    CANDIDATE_COLOUR,
    Bar,
    bars_with_intervals,
    finite,
    histogram,
    line_chart,
)
from runwell.evals.compare import CaseResult, Comparison, RunResult
from runwell.evals.gate import GateResult
from runwell.evals.runstore import EvalRun

__all__ = ["ReportPage", "render_html"]

_OUTPUT_SHOWN = 400
_CASES_SHOWN = 500
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2328;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.pass,.passed{color:#1a7f37}.fail,.failed{color:#cf222e}
.warning,.skipped{color:#9a6700}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;
padding:.6rem 1rem;min-width:9rem}.card b{display:block;font-size:1.3rem}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem 1rem;border-radius:6px;margin:.5rem 0}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}pre{white-space:pre-wrap;margin:0;font-size:.8rem}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass(frozen=True, slots=True)
class ReportPage:
    """What one report page shows.

    ``comparison`` pairs the run with ``baseline`` (or with itself when there is none, which
    still gives the groups and the safety rates); ``history`` is the promoted runs before this
    one as ``(label, mean score)``, oldest first.
    """

    run: EvalRun
    result: RunResult
    comparison: Comparison
    baseline: EvalRun | None = None
    gate: GateResult | None = None
    history: Sequence[tuple[str, float]] = ()


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _interval(bounds: tuple[float, float]) -> str:
    return f" [{bounds[0]:.1%}, {bounds[1]:.1%}]"


def _card(label: str, value: str, note: str = "") -> str:
    return f'<div class="card">{_e(label)}<b>{_e(value)}</b>{_e(note)}</div>'


def _header(page: ReportPage, generated_at: float) -> list[str]:
    run, c = page.run, page.comparison
    out = [
        f"<h1>Eval run {_e(run.run_id)}: {_e(run.feature)}@{_e(run.variant)}</h1>",
        f"<p>{_e(run.provider)}/{_e(run.model)} on suite {_e(run.suite)} (dataset {_e(run.dataset_name)} "
        f"<code>{_e(run.dataset_hash[:12])}</code>, {run.case_count} cases x {run.repeats}); spec "
        f"{_e(run.spec_version)}, prompt {_e(run.prompt_version)}; {_e(run.status)}, started "
        f"{_e(_when(run.started_at))}. Report generated {_e(_when(generated_at))}.</p>",
    ]
    if page.gate is not None and page.baseline is not None:
        verdict = "PASS" if page.gate.passed else "FAIL"
        css = "pass" if page.gate.passed else "fail"
        failed = ", ".join(f.kind for f in page.gate.failures)
        out.append(
            f"<p>Gate against baseline {_e(page.baseline.variant)} ({_e(page.baseline.run_id)}): "
            f'<b class="{css}">{verdict}</b>{_e(f" ({failed})" if failed else "")}</p>'
        )
        out += [f'<div class="warn">{_e(w.kind)}: {_e(w.message)}</div>' for w in page.gate.warnings]
    cards = [
        _card("mean score", f"{c.candidate_mean:.3f}", f" vs {c.baseline_mean:.3f}" if page.baseline else ""),
        _card(
            "pass rate",
            f"{c.candidate_pass_rate:.1%}",
            _interval(c.candidate_pass_interval),
        ),
        _card("cases", str(c.n_paired)),
        _card("errors", str(c.candidate_usage.errors)),
    ]
    safety = c.safety
    if safety.attack_success is not None:
        rate = safety.attack_success
        cards.append(
            _card("attack success", f"{rate.candidate_rate:.1%}", _interval(rate.candidate_interval))
        )
    if safety.over_refusal is not None:
        rate = safety.over_refusal
        cards.append(_card("over-refusal", f"{rate.candidate_rate:.1%}", _interval(rate.candidate_interval)))
    out.append('<div class="cards">' + "".join(cards) + "</div>")
    return out


def _charts(page: ReportPage) -> list[str]:
    c = page.comparison
    charts = []
    series = [(page.run.variant, finite([p.candidate.score for p in c.pairs]), CANDIDATE_COLOUR)]
    if page.baseline is not None:
        base = finite([p.baseline.score for p in c.pairs])
        series.insert(0, (page.baseline.variant, base, BASELINE_COLOUR))
    charts.append(histogram(series, lo=0.0, hi=1.0, title="Per-case score distribution"))
    if page.baseline is not None:
        diffs = finite([p.candidate.score - p.baseline.score for p in c.pairs])
        charts.append(
            histogram(
                [("candidate - baseline", diffs, CANDIDATE_COLOUR)],
                lo=-1.0,
                hi=1.0,
                bins=20,
                title=f"Paired differences (mean {c.mean_diff:+.3f}, "
                f"CI [{c.bootstrap.ci_low:+.3f}, {c.bootstrap.ci_high:+.3f}])",
            )
        )
    bars = []
    for label, rate in (("attack success", c.safety.attack_success), ("over-refusal", c.safety.over_refusal)):
        if rate is None:
            continue
        if page.baseline is not None:
            lo, hi = rate.baseline_interval
            bars.append(Bar(f"{label}: baseline", rate.baseline_rate, lo, hi, BASELINE_COLOUR))
        lo, hi = rate.candidate_interval
        bars.append(Bar(f"{label}: {page.run.variant}", rate.candidate_rate, lo, hi))
    if bars:
        charts.append(bars_with_intervals(bars, title="Safety (lower is better)"))
    if c.groups:
        charts.append(
            bars_with_intervals(
                [
                    Bar(
                        g.tag + (" (small)" if g.too_small else ""),
                        g.candidate_mean,
                        *g.candidate_mean_interval,
                        BASELINE_COLOUR if g.too_small else CANDIDATE_COLOUR,
                    )
                    for g in c.groups
                ],
                title="Mean score per group",
            )
        )
    points = [*page.history, (page.run.run_id[:8], c.candidate_mean)]
    if len(points) >= 2:
        charts.append(line_chart(points, title="Mean score of promoted runs, then this run", last="this run"))
    return ['<h2>Plots</h2><div class="charts">', *charts, "</div>"]


def _checks(gate: GateResult | None) -> list[str]:
    if gate is None:
        return []
    rows = "".join(
        f'<tr><td>{_e(k.kind)}</td><td class="{_e(k.status)}">{_e(k.status)}</td>'
        f"<td>{_e(k.message)}</td></tr>"
        for k in gate.checks
    )
    head = "<h2>Gate checks</h2><table><tr><th>check</th><th>result</th><th>detail</th></tr>"
    return [head, rows, "</table>"]


def _cases(page: ReportPage) -> list[str]:
    results: dict[str, CaseResult] = {r.case_id: r for r in page.result.cases}
    rows = []
    for pair in sorted(page.comparison.pairs, key=lambda p: (p.candidate.passed, p.case_id))[:_CASES_SHOWN]:
        result = results.get(pair.case_id)
        output = (result.outputs[-1] if result and result.outputs else "") or ""
        error = result.error if result else None
        shown = output[:_OUTPUT_SHOWN] + ("..." if len(output) > _OUTPUT_SHOWN else "")
        css = "pass" if pair.candidate.passed else "fail"
        rows.append(
            f"<tr><td>{_e(pair.case_id)}</td><td>{_e(', '.join(pair.tags))}</td>"
            f'<td>{pair.candidate.score:.3f}</td><td class="{css}">{css}'
            f"{' (unstable)' if pair.candidate.unstable else ''}</td>"
            f"<td><pre>{_e(error or shown)}</pre></td></tr>"
        )
    more = len(page.comparison.pairs) - _CASES_SHOWN
    return [
        "<h2>Cases (failing first)</h2><table><tr><th>case</th><th>tags</th><th>score</th><th>verdict</th>"
        "<th>last output or error</th></tr>",
        *rows,
        "</table>",
        f"<p>... and {more} more cases (see <code>runwell eval show</code>).</p>" if more > 0 else "",
    ]


def render_html(page: ReportPage, *, generated_at: float | None = None) -> str:
    """The report as one HTML document (UTF-8 text, inline CSS and SVG only)."""
    at = time.time() if generated_at is None else generated_at
    body = [*_header(page, at), *_charts(page), *_checks(page.gate), *_cases(page)]
    title = f"runwell eval report {page.run.run_id}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )

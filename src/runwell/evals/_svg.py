"""Tiny inline-SVG charts for the HTML report: histograms, bars with intervals, a line.

Hand-written so the report needs nothing at view time: no JavaScript, no stylesheet or font
fetched from anywhere, and no plotting library at run time. Every label goes through
:func:`html.escape`, since labels can come from datasets and model output.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BASELINE_COLOUR",
    "CANDIDATE_COLOUR",
    "Bar",
    "bars_with_intervals",
    "finite",
    "histogram",
    "line_chart",
]

BASELINE_COLOUR = "#8c9bab"
"""Bars of the baseline run."""
CANDIDATE_COLOUR = "#2f6fdf"
"""Bars of the run the report is about."""
_BAD = "#d0473c"
_AXIS = "#59636e"
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'
        f"<title>{_e(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: object, *, anchor: str = "start", colour: str = _AXIS) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{colour}" {_FONT}>{_e(text)}</text>'


def histogram(
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    lo: float,
    hi: float,
    bins: int = 10,
    title: str,
    width: int = 560,
    height: int = 230,
) -> str:
    """Side-by-side bars per bin for each ``(label, values, colour)``; bins split ``[lo, hi]`` evenly."""
    left, right, top, bottom = 40, 10, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    span = (hi - lo) or 1.0
    counts = []
    for _label, values, _colour in series:
        row = [0] * bins
        for v in values:
            row[min(bins - 1, max(0, int((v - lo) / span * bins)))] += 1
        counts.append(row)
    peak = max((c for row in counts for c in row), default=0) or 1
    body = [_text(left, 14, title, colour="#1f2328")]
    slot = plot_w / bins
    width_each = slot * 0.8 / max(1, len(series))
    for s, (label, _values, colour) in enumerate(series):
        for b, count in enumerate(counts[s]):
            h = plot_h * count / peak
            x = left + b * slot + slot * 0.1 + s * width_each
            body.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{width_each:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{_e(label)}: {count}</title></rect>'
            )
        body.append(f'<rect x="{left + 150 * s}" y="{height - 12}" width="10" height="10" fill="{colour}"/>')
        body.append(_text(left + 150 * s + 14, height - 3, f"{label} ({len(_values)})"))
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{_AXIS}"/>'
    )
    for b in range(bins + 1):
        if b % max(1, bins // 5) == 0:
            body.append(
                _text(left + b * slot, top + plot_h + 13, f"{lo + span * b / bins:.2g}", anchor="middle")
            )
    body.append(_text(left - 4, top + 8, peak, anchor="end"))
    return _svg(width, height, title, body)


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: a value in [0, 1] with an optional interval, a label and a colour."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    colour: str = CANDIDATE_COLOUR


def bars_with_intervals(
    bars: Sequence[Bar], *, title: str, width: int = 560, label_width: int = 190, limit: float | None = None
) -> str:
    """Horizontal bars on a 0..1 axis with interval whiskers; ``limit`` draws a red reference line."""
    row_h, top, bottom = 20, 24, 24
    height = top + bottom + row_h * max(1, len(bars))
    plot_w = width - label_width - 60
    body = [_text(4, 14, title, colour="#1f2328")]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        value = min(1.0, max(0.0, bar.value))
        body.append(_text(label_width - 6, y + 13, bar.label[:40], anchor="end"))
        body.append(
            f'<rect x="{label_width}" y="{y + 4}" width="{plot_w * value:.1f}" height="{row_h - 8}" '
            f'fill="{bar.colour}"><title>{_e(bar.label)}: {bar.value:.3f}</title></rect>'
        )
        if bar.low is not None and bar.high is not None:
            x1, x2 = label_width + plot_w * bar.low, label_width + plot_w * bar.high
            mid = y + row_h / 2
            body.append(f'<line x1="{x1:.1f}" y1="{mid}" x2="{x2:.1f}" y2="{mid}" stroke="#1f2328"/>')
            for x in (x1, x2):
                body.append(
                    f'<line x1="{x:.1f}" y1="{mid - 4}" x2="{x:.1f}" y2="{mid + 4}" stroke="#1f2328"/>'
                )
        body.append(_text(label_width + plot_w + 6, y + 13, f"{bar.value:.3f}"))
    axis_y = top + row_h * max(1, len(bars))
    body.append(
        f'<line x1="{label_width}" y1="{axis_y}" x2="{label_width + plot_w}" y2="{axis_y}" stroke="{_AXIS}"/>'
    )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(_text(label_width + plot_w * tick, axis_y + 13, f"{tick:g}", anchor="middle"))
    if limit is not None:
        x = label_width + plot_w * limit
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" stroke="{_BAD}" '
            'stroke-dasharray="4 3"/>'
        )
    return _svg(width, height, title, body)


def line_chart(
    points: Sequence[tuple[str, float]], *, title: str, width: int = 560, height: int = 220, last: str = ""
) -> str:
    """Values in order with their labels; the last point (the run at hand) is highlighted."""
    left, right, top, bottom = 48, 36, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points]
    lo, hi = min(values), max(values)
    pad = max((hi - lo) * 0.15, 0.01)
    lo, hi = max(0.0, lo - pad), min(1.0, hi + pad)
    span = (hi - lo) or 1.0

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)
        return x, top + plot_h * (1.0 - (v - lo) / span)

    body = [_text(left, 14, title, colour="#1f2328")]
    coords = [xy(i, v) for i, v in enumerate(values)]
    body.append(
        '<polyline fill="none" stroke="'
        + CANDIDATE_COLOUR
        + '" stroke-width="2" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>'
    )
    for i, ((label, v), (x, y)) in enumerate(zip(points, coords, strict=True)):
        colour = _BAD if i == len(points) - 1 and last else CANDIDATE_COLOUR
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
            f"<title>{_e(label)}: {v:.3f}</title></circle>"
        )
        if len(points) <= 12 or i in (0, len(points) - 1):
            body.append(_text(x, top + plot_h + 14, label[:10], anchor="middle"))
    for tick in range(3):
        v = lo + span * tick / 2
        body.append(_text(left - 4, top + plot_h * (1 - tick / 2) + 4, f"{v:.3f}", anchor="end"))
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{_AXIS}"/>'
    )
    if last:
        body.append(_text(left + plot_w, height - 6, last, anchor="end", colour=_BAD))
    return _svg(width, height, title, body)


def finite(values: Sequence[float]) -> list[float]:
    """The values that are real numbers (charts skip NaN and infinities)."""
    return [v for v in values if math.isfinite(v)]

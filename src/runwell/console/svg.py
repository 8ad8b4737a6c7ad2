"""Plots as inline SVG, drawn on the server: no script, no network, readable by a screen reader.

Each plot is an ``<svg role="img">`` named by its ``<title>`` and described by a ``<desc>`` that
states what a sighted reader takes from it (range, latest value, per-series figures), inside a
``<figure>`` whose caption is the title. Colours come from the palette (3:1 against the page).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence

from runwell.console.html import Safe, el, fmt_time
from runwell.console.theme import PALETTE, SERIES

__all__ = ["bar_chart", "histogram", "line_chart"]

_W, _H = 560, 220
_L, _R, _T, _B = 64, 12, 12, 30


def _colour(i: int) -> str:
    return PALETTE[SERIES[i % len(SERIES)]]


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at or above ``value`` (an axis top)."""
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= exp * step * (1 + 1e-9):
            return exp * step
    return exp * 10.0


def _frame(title: str, desc: str, body: list[Safe], legend: Sequence[str]) -> Safe:
    n = secrets.token_hex(4)  # unique per plot, with no counter kept between pages
    tid, did = f"plot-{n}-t", f"plot-{n}-d"
    svg = el(
        "svg",
        el("title", title, id=tid),
        el("desc", desc, id=did),
        body,
        viewBox=f"0 0 {_W} {_H}",
        role="img",
        aria_labelledby=tid,
        aria_describedby=did,
        class_="plot",
        xmlns="http://www.w3.org/2000/svg",
    )
    keys = [
        el("span", el("span", "■ ", class_=f"k{i % len(SERIES)}", aria_hidden="true"), name, class_="key")
        for i, name in enumerate(legend)
    ]
    caption = el("figcaption", title)
    return el("figure", caption, svg, el("div", keys, class_="muted") if len(legend) > 1 else None)


def _axes(y_max: float, fmt: Callable[[float], str]) -> list[Safe]:
    muted, border = PALETTE["muted"], PALETTE["border"]
    out: list[Safe] = []
    for frac in (0.0, 0.5, 1.0):
        y = _T + (1 - frac) * (_H - _T - _B)
        out.append(
            el("line", x1=_L, x2=_W - _R, y1=f"{y:.1f}", y2=f"{y:.1f}", stroke=border, stroke_width=0.5)
        )
        out.append(
            el(
                "text",
                fmt(y_max * frac),
                x=_L - 6,
                y=f"{y + 4:.1f}",
                fill=muted,
                font_size=14,
                text_anchor="end",
            )
        )
    return out


def line_chart(
    title: str,
    times: Sequence[float],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> Safe:
    """Series over shared time buckets (``None`` leaves a gap)."""
    values = [v for _, ys in series for v in ys if v is not None]
    y_max = _nice_max(max(values, default=0.0))
    span_x = max(1, len(times) - 1)
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    body = _axes(y_max, fmt)
    for i, (_name, ys) in enumerate(series):
        runs: list[list[str]] = [[]]
        for j, v in enumerate(ys):
            if v is None:
                runs.append([])
                continue
            x = _L + plot_w * j / span_x
            y = _T + plot_h * (1 - v / y_max)
            runs[-1].append(f"{x:.1f},{y:.1f}")
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                body.append(el("circle", cx=cx, cy=cy, r=2.5, fill=_colour(i)))
            elif run:
                body.append(
                    el("polyline", points=" ".join(run), fill="none", stroke=_colour(i), stroke_width=2)
                )
    if times:
        muted = PALETTE["muted"]
        for j, anchor in ((0, "start"), (len(times) - 1, "end")):
            x = _L + plot_w * j / span_x
            body.append(
                el(
                    "text",
                    fmt_time(times[j])[5:16],
                    x=f"{x:.1f}",
                    y=_H - 8,
                    fill=muted,
                    font_size=14,
                    text_anchor=anchor,
                )
            )
    desc_parts = []
    for name, ys in series:
        present = [v for v in ys if v is not None]
        if present:
            desc_parts.append(
                f"{name}: min {fmt(min(present))}, max {fmt(max(present))}, latest {fmt(present[-1])}"
            )
        else:
            desc_parts.append(f"{name}: no data")
    span = f"from {fmt_time(times[0])} to {fmt_time(times[-1])}" if times else "no time range"
    desc = f"{title}, {len(times)} points {span}. " + "; ".join(desc_parts) + "."
    return _frame(title, desc, body, [name for name, _ in series])


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    y_max: float | None = None,
    fmt: Callable[[float], str] = lambda v: f"{v:.2f}",
) -> Safe:
    """Grouped bars: one group per category, one bar per series."""
    top = y_max if y_max is not None else _nice_max(max((v for _, vs in series for v in vs), default=0.0))
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    body = _axes(top, fmt)
    groups = max(1, len(categories))
    group_w = plot_w / groups
    bar_w = group_w * 0.8 / max(1, len(series))
    muted = PALETTE["muted"]
    for g, category in enumerate(categories):
        for s, (_name, vs) in enumerate(series):
            v = max(0.0, min(vs[g], top))
            h = plot_h * v / top
            x = _L + g * group_w + group_w * 0.1 + s * bar_w
            body.append(
                el(
                    "rect",
                    x=f"{x:.1f}",
                    y=f"{_T + plot_h - h:.1f}",
                    width=f"{bar_w:.1f}",
                    height=f"{h:.1f}",
                    fill=_colour(s),
                )
            )
        label = category if len(category) <= 14 else category[:13] + "…"
        body.append(
            el(
                "text",
                label,
                x=f"{_L + (g + 0.5) * group_w:.1f}",
                y=_H - 8,
                fill=muted,
                font_size=14,
                text_anchor="middle",
            )
        )
    desc = f"{title}. " + "; ".join(
        f"{c}: " + ", ".join(f"{name} {fmt(vs[g])}" for name, vs in series) for g, c in enumerate(categories)
    )
    return _frame(title, desc + ".", body, [name for name, _ in series])


def histogram(
    title: str, values: Sequence[float], *, bins: int = 21, lo: float = -1.0, hi: float = 1.0
) -> Safe:
    """How ``values`` (e.g. paired score differences) spread between ``lo`` and ``hi``."""
    counts = [0] * bins
    width = (hi - lo) / bins
    for v in values:
        k = int((min(max(v, lo), hi) - lo) / width)
        counts[min(k, bins - 1)] += 1
    top = _nice_max(float(max(counts, default=0)))
    plot_w, plot_h = _W - _L - _R, _H - _T - _B
    body = _axes(top, lambda v: f"{v:.0f}")
    bar_w = plot_w / bins
    for k, c in enumerate(counts):
        h = plot_h * c / top
        body.append(
            el(
                "rect",
                x=f"{_L + k * bar_w + 1:.1f}",
                y=f"{_T + plot_h - h:.1f}",
                width=f"{bar_w - 2:.1f}",
                height=f"{h:.1f}",
                fill=_colour(0),
            )
        )
    muted = PALETTE["muted"]
    for value, anchor in ((lo, "start"), (0.0, "middle"), (hi, "end")):
        x = _L + plot_w * (value - lo) / (hi - lo)
        body.append(
            el("text", f"{value:+.1f}", x=f"{x:.1f}", y=_H - 8, fill=muted, font_size=14, text_anchor=anchor)
        )
    below = sum(1 for v in values if v < 0)
    above = sum(1 for v in values if v > 0)
    desc = (
        f"{title}: {len(values)} values between {lo:+.1f} and {hi:+.1f}; "
        f"{below} below zero, {len(values) - below - above} at zero, {above} above zero."
    )
    return _frame(title, desc, body, [])

"""The overview: one feature at a glance — traffic, errors, latency, cost, and what is switched.

Everything a Monday-morning operator asks first: is it serving, how well, on which variant, is any
lever pulled or guardrail off, how much of the budget is gone, is anything firing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from runwell.console import tables
from runwell.console.html import (
    Child,
    Safe,
    badge,
    el,
    fmt_ago,
    fmt_ms,
    fmt_num,
    fmt_time,
    fmt_usd,
    join,
    layout,
    table,
)
from runwell.console.parts import (
    budget_limits,
    feature_picker,
    guardrail_overrides,
    kill_state,
    rollout_summary,
    state_badge,
)
from runwell.console.queries import WINDOWS, Overview, overview
from runwell.console.svg import line_chart
from runwell.console.view import Response, View, html_response
from runwell.control.levers import LeverRow, list_levers

__all__ = ["render"]


@dataclass
class _Facts:
    stats: Overview
    levers: list[LeverRow]
    rollout: dict[str, Any] | None
    alerts: list[dict[str, Any]]
    spend_today: tuple[float, int]
    spend_month: tuple[float, int] | None


def _gather(view: View, feature: str, window: str) -> _Facts:
    db = view.sources.store.db
    now = view.now
    levers = list_levers(db)
    stats = overview(db, feature, window, now=now)
    found = tables.rollouts(db, feature)
    day = now - now % 86400
    today = view.sources.spend.spend(db, feature, day, now)
    limits = budget_limits(view, feature, levers)
    month = None
    if "monthly_usd" in limits or "monthly_tokens" in limits:
        first = dt.datetime.fromtimestamp(now, dt.UTC).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        month = view.sources.spend.spend(db, feature, first.timestamp(), now)
    return _Facts(stats, levers, found[0] if found else None, tables.alerts(db, feature), today, month)


def _stat(label: str, value: str) -> Safe:
    return el("div", el("dt", label), el("dd", value))


def _headline(stats: Overview) -> Safe:
    rate = stats.error_rate
    return el(
        "dl",
        _stat("Requests", fmt_num(stats.requests)),
        _stat("Error rate", "—" if rate is None else f"{rate:.1%}"),
        _stat("Latency p50", fmt_ms(stats.latency_ms.get("p50"))),
        _stat("Latency p95", fmt_ms(stats.latency_ms.get("p95"))),
        _stat("Latency p99", fmt_ms(stats.latency_ms.get("p99"))),
        _stat("TTFT p50", fmt_ms(stats.ttft_ms.get("p50"))),
        _stat("TTFT p95", fmt_ms(stats.ttft_ms.get("p95"))),
        _stat("Tokens in / out", f"{fmt_num(stats.input_tokens)} / {fmt_num(stats.output_tokens)}"),
        _stat("Cost", fmt_usd(stats.cost_usd) + (f" (+{stats.unpriced} unpriced)" if stats.unpriced else "")),
        class_="stats",
    )


def _percentile_note(stats: Overview) -> Safe:
    if not stats.relative_error:
        return el("p", "Percentiles are exact: read from every request of the window.", class_="muted")
    return el(
        "p",
        f"Percentiles are read from per-slot latency histograms: each is within "
        f"{stats.relative_error:.0%} of the exact value.",
        class_="muted",
    )


def _serving(view: View, feature: str, facts: _Facts) -> Safe:
    loaded = view.sources.specs.get(feature)
    default = loaded.default_variant if loaded is not None else "unknown (spec not loaded)"
    lines: list[Child] = [el("p", "Default variant: ", el("strong", default))]
    doc = facts.rollout["state"] if facts.rollout is not None else None
    serving = doc.get("serving") if isinstance(doc, dict) else None
    if isinstance(serving, dict) and serving.get("variant") and serving["variant"] != default:
        lines.append(
            el("p", "Serving now: ", el("strong", str(serving["variant"])), " (a promotion took over)")
        )
    state = doc.get("rollout") if isinstance(doc, dict) else None
    if isinstance(state, dict):
        status = state.get("state")
        lines.append(
            el(
                "p",
                state_badge(status),
                " ",
                rollout_summary(state),
                " · ",
                el("a", "details", href=view.link("/console/rollouts", feature=feature)),
            )
        )
    else:
        lines.append(el("p", "No rollout.", class_="muted"))
    if facts.stats.variants:
        shares = ", ".join(
            f"{v} {n / facts.stats.requests:.0%}"
            for v, n in sorted(facts.stats.variants.items(), key=lambda x: -x[1])
        )
        lines.append(el("p", "Served in this window: " + shares, class_="muted"))
    return el("section", el("h2", "Serving"), lines, class_="card", aria_label="Serving")


def _switches(view: View, feature: str, facts: _Facts) -> Safe:
    killed = kill_state(facts.levers, feature)
    kill: Child = (
        [
            el(
                "p",
                badge("KILLED", "bad"),
                f" {r.subject} by {r.actor}: {r.reason} ({fmt_ago(r.updated_at, view.now)})",
            )
            for r in killed
        ]
        if killed
        else el("p", badge("serving", "ok"), " kill switch off")
    )
    overrides = guardrail_overrides(facts.levers, feature)
    guard: Child = (
        [
            el(
                "li",
                badge("off", "warn"),
                f" {r.subject.split(':', 1)[1]} until {fmt_time(r.until)} ({fmt_ago(r.until, view.now)})"
                f" — {r.actor}: {r.reason}",
            )
            for r in overrides
        ]
        if overrides
        else el("li", "every guardrail on", class_="muted")
    )
    breakers: Child
    if view.sources.breakers is None:
        breakers = el(
            "p",
            "Breaker states live in each gateway (see /readyz); this standalone console cannot see them.",
            class_="muted",
        )
    else:
        found = view.sources.breakers()
        breakers = (
            el(
                "ul",
                [
                    el(
                        "li",
                        state_badge(b["state"]),
                        f" {b['provider']}/{b['model']}",
                        f" failure rate {b['failure_rate']:.0%}" if b.get("failure_rate") is not None else "",
                    )
                    for b in found
                ],
            )
            if found
            else el("p", "No provider called yet.", class_="muted")
        )
    return el(
        "section",
        el("h2", "Kill switch, guardrails, breakers"),
        kill,
        el("h3", "Guardrail overrides"),
        el("ul", guard),
        el("h3", "Circuit breakers"),
        breakers,
        class_="card",
        aria_label="Switches",
    )


def _budgets(view: View, feature: str, facts: _Facts) -> Safe:
    limits = budget_limits(view, feature, facts.levers)
    used = {
        "daily_usd": facts.spend_today[0],
        "daily_tokens": float(facts.spend_today[1]),
    }
    if facts.spend_month is not None:
        used["monthly_usd"], used["monthly_tokens"] = facts.spend_month[0], float(facts.spend_month[1])
    rows = []
    for name, (limit, source) in sorted(limits.items()):
        if name not in used:
            continue  # rate limits are per minute: the gateway's budget engine enforces them
        spent = used[name]
        fraction = spent / limit if limit else 0.0
        tone = "bad" if fraction >= 1 else "warn" if fraction >= 0.8 else "ok"
        shown = fmt_usd(spent) if name.endswith("usd") else fmt_num(spent)
        cap = fmt_usd(limit) if name.endswith("usd") else fmt_num(limit)
        rows.append(
            [name, shown, cap + (" (lever)" if source == "lever" else ""), badge(f"{fraction:.0%}", tone)]
        )
    body: Child = (
        table(
            "Spend against the feature's limits (UTC day and month)",
            ["limit", "used", "of", "share"],
            rows,
            numeric=(1, 2),
        )
        if rows
        else el(
            "p", f"No daily or monthly limit; spent today: {fmt_usd(facts.spend_today[0])}.", class_="muted"
        )
    )
    return el("section", el("h2", "Budgets"), body, class_="card", aria_label="Budgets")


def _alerts(facts: _Facts, view: View) -> Safe:
    firing = [a for a in facts.alerts if a["state"] == "firing"]
    items: Child = (
        [
            el(
                "li",
                badge("firing", "bad"),
                f" {a['name']} since {fmt_time(a['since'])} ("
                + ("no data yet" if a["last_value"] is None else f"value {a['last_value']:.4g}")
                + ")",
                " · ",
                el("a", "incident", href=f"/console/incidents/{a['incident_id']}")
                if a.get("incident_id")
                else None,
            )
            for a in firing
        ]
        if firing
        else el("li", f"Nothing firing ({len(facts.alerts)} rules evaluated).", class_="muted")
    )
    return el("section", el("h2", "Alerts"), el("ul", items), class_="card", aria_label="Alerts")


def _plots(stats: Overview) -> Safe:
    b = stats.buckets
    times = [x.start for x in b]
    return el(
        "div",
        line_chart(
            "Requests and errors",
            times,
            [("requests", [x.requests for x in b]), ("errors", [x.errors for x in b])],
        ),
        line_chart(
            "Latency and time to first token (ms)",
            times,
            [
                ("p50 latency", [x.p50_ms for x in b]),
                ("p95 latency", [x.p95_ms for x in b]),
                ("p95 TTFT", [x.ttft_p95_ms for x in b]),
            ],
        ),
        line_chart("Tokens", times, [("tokens", [x.tokens for x in b])]),
        line_chart("Cost (USD)", times, [("cost", [x.cost_usd for x in b])], fmt=lambda v: f"${v:.4g}"),
        class_="grid",
    )


async def render(view: View) -> Response:
    """``GET /console``."""
    feature = view.feature()
    frame = view.frame("overview")
    if feature is None:
        body = el("p", "No feature yet: serve a spec with runwell serve, or pass --spec to runwell console.")
        return html_response(layout("Overview", body, frame))
    window = view.query.get("window", "24h")
    if window not in WINDOWS:
        window = "24h"
    facts = await view.run(lambda: _gather(view, feature, window))
    stats = facts.stats
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items(), key=lambda x: -x[1])) or "none"
    body = join(
        feature_picker(view, "/console", [("window", "Window", ["24h", "1h", "6h", "7d"])]),
        el(
            "p",
            f"{feature}: the last {window}, to {fmt_time(view.now)}. Outcomes: {outcomes}.",
            class_="muted",
        ),
        _headline(stats),
        _percentile_note(stats),
        el(
            "div",
            _serving(view, feature, facts),
            _switches(view, feature, facts),
            _budgets(view, feature, facts),
            _alerts(facts, view),
            class_="grid",
        ),
        el("h2", "Over time"),
        _plots(stats),
    )
    return html_response(layout(f"Overview: {feature}", body, frame))

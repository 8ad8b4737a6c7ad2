"""Rollouts: a feature's live rollout (its steps and judging window), its history, and the judge's
evidence behind each step: every metric's verdict, and what caused a rollback."""

from __future__ import annotations

from typing import Any

from runwell.console import tables
from runwell.console.html import Child, Safe, badge, el, fmt_ago, fmt_time, join, kv, layout, table
from runwell.console.parts import feature_picker, rollout_summary, state_badge
from runwell.console.view import Response, View, html_response

__all__ = ["render"]


def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _steps(state: dict[str, Any]) -> Child:
    strategy = state.get("strategy") or {}
    steps = strategy.get("steps") or []
    if not steps:
        return None
    current = int(state.get("step") or 0)
    items = []
    for i, percent in enumerate(steps):
        mark = "current" if i == current else "done" if i < current else "next"
        tone = {"current": "info", "done": "ok", "next": "warn"}[mark]
        items.append(
            el(
                "li",
                f"step {i + 1}: {percent}% on the candidate ",
                badge(mark, tone),
                aria_current="step" if i == current else None,
            )
        )
    return el("ol", items)


def _live(view: View, rollout: dict[str, Any] | None, feature: str) -> Safe:
    if rollout is None:
        loaded = view.sources.specs.get(feature)
        declared = loaded.spec.rollout if loaded is not None else None
        if declared is not None and declared.strategy != "none":
            return el(
                "p",
                f"The spec declares a {declared.strategy} rollout of {declared.candidate} "
                f"(steps {declared.steps}); none has started.",
                class_="muted",
            )
        return el("p", "No rollout for this feature.", class_="muted")
    doc = rollout["state"]
    state = doc.get("rollout") if isinstance(doc, dict) else None
    if not isinstance(state, dict):
        return el("p", "No rollout has started for this feature.", class_="muted")
    strategy = state.get("strategy") or {}
    interval = strategy.get("interval_s")
    start = state.get("window_start")
    ends = None
    if isinstance(start, int | float) and isinstance(interval, int | float):
        ends = start + interval * (1 + int(state.get("extensions") or 0))
    return join(
        el("p", state_badge(state.get("state")), " ", rollout_summary(state)),
        kv(
            [
                ("rollout id", str(state.get("rollout_id"))),
                ("strategy", ", ".join(f"{k}={v}" for k, v in strategy.items())),
                ("window opened", f"{fmt_time(start)} ({fmt_ago(start, view.now)})" if start else "—"),
                ("window closes", f"{fmt_time(ends)} ({fmt_ago(ends, view.now)})" if ends else "—"),
                ("extensions used", str(state.get("extensions", 0))),
                ("version", str(rollout.get("version"))),
            ]
        ),
        _steps(state),
    )


def judge_of(ev: Any) -> Any:
    """The judge's result inside a history line's evidence (``{"event": {..., "evidence": judge}}``)."""
    if isinstance(ev, dict) and isinstance(ev.get("event"), dict):
        return ev["event"].get("evidence")
    return ev


def evidence(ev: Any) -> Child:
    """The judge's verdict and each metric's, from an event's evidence."""
    window = ev.get("window") if isinstance(ev, dict) else None
    ev = judge_of(ev)
    if not isinstance(ev, dict):
        return None if ev is None else el("pre", str(ev))
    metrics = ev.get("metrics") or []
    rows = [
        [
            m.get("name", "?"),
            badge(str(m.get("verdict")), {"pass": "ok", "fail": "bad"}.get(str(m.get("verdict")), "warn")),
            _num(m.get("baseline_level")),
            _num(m.get("candidate_level")),
            f"{_num(m.get('estimate'))} [{_num(m.get('ci_low'))}, {_num(m.get('ci_high'))}]",
            _num(m.get("p_value")),
            _num(m.get("threshold")),
            m.get("explanation", ""),
        ]
        for m in metrics
        if isinstance(m, dict)
    ]
    head = el(
        "p",
        "Judge: ",
        badge(str(ev.get("verdict")), {"pass": "ok", "fail": "bad"}.get(str(ev.get("verdict")), "warn")),
        f" {ev.get('reason', '')}",
    )
    judged = f"Window judged: {window}." if window else None
    return join(
        head,
        el("p", judged, class_="muted") if judged else None,
        table(
            "Each metric's verdict",
            ["metric", "verdict", "baseline", "candidate", "difference [CI]", "p", "tolerance", "why"],
            rows,
            numeric=(2, 3, 5, 6),
        ),
    )


def _history(events: list[dict[str, Any]]) -> Child:
    if not events:
        return el("p", "No rollout events yet.", class_="muted")
    out: list[Child] = []
    for e in events:
        moved = f"{_state(e['from_state'])} → {_state(e['to_state'])}"
        rollback = e["kind"] in ("rollback", "rolled_back")
        out.append(
            el(
                "li",
                el("strong", e["kind"]),
                f" {fmt_time(e['at'])}: {moved} by {e['actor']} — {e['reason']}",
                el(
                    "details",
                    el("summary", "Rollback evidence" if rollback else "Evidence"),
                    evidence(e["evidence"]),
                    open=rollback,
                )
                if e["evidence"]
                else None,
            )
        )
    return el("ol", out, reversed=True)


def _state(value: Any) -> str:
    if isinstance(value, dict):
        return f"{value.get('state', '?')} step {value.get('step', '?')}"
    return str(value) if value is not None else "—"


async def render(view: View) -> Response:
    """``GET /console/rollouts``."""
    feature = view.feature()
    frame = view.frame("rollouts")
    if feature is None:
        return html_response(layout("Rollouts", el("p", "No feature yet."), frame))

    def gather() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        db = view.sources.store.db
        found = tables.rollouts(db, feature)
        return (found[0] if found else None), tables.rollout_events(db, feature)

    rollout, events = await view.run(gather)
    rollbacks = [e for e in events if e["kind"] in ("rollback", "rolled_back") and judge_of(e["evidence"])]
    body = join(
        feature_picker(view, "/console/rollouts"),
        el("section", el("h2", "Live rollout"), _live(view, rollout, feature), aria_label="Live rollout"),
        el("section", el("h2", "Last rollback"), evidence(rollbacks[0]["evidence"]), aria_label="Rollback")
        if rollbacks
        else None,
        el("section", el("h2", "History"), _history(events), aria_label="History"),
    )
    return html_response(layout(f"Rollouts: {feature}", body, frame))

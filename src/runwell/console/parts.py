"""Pieces several pages share: the feature picker, lever and rollout summaries, budget limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runwell.console.html import Child, Safe, badge, el
from runwell.console.view import View
from runwell.control.levers import BUDGET_LIMITS, LeverRow

__all__ = [
    "budget_limits",
    "feature_picker",
    "guardrail_overrides",
    "kill_state",
    "rollout_summary",
    "state_badge",
]


def feature_picker(view: View, action: str, extra: Sequence[tuple[str, str, Sequence[str]]] = ()) -> Safe:
    """A GET form choosing the feature (and ``extra`` selects: ``(name, label, options)``)."""
    chosen = view.feature()
    controls: list[Child] = [
        el(
            "label",
            "Feature",
            el(
                "select",
                [el("option", f, value=f, selected=f == chosen) for f in view.sources.features],
                name="feature",
            ),
        )
    ]
    for name, label, options in extra:
        current = view.query.get(name, options[0] if options else "")
        controls.append(
            el(
                "label",
                label,
                el("select", [el("option", o, value=o, selected=o == current) for o in options], name=name),
            )
        )
    controls.append(el("button", "Show", type="submit"))
    return el("form", controls, method="get", action=action, class_="filters")


def kill_state(levers: Sequence[LeverRow], feature: str) -> list[LeverRow]:
    """The kill-switch rows of ``feature`` (the feature itself, or any of its variants)."""
    return [
        r
        for r in levers
        if r.kind == "kill" and (r.subject == feature or r.subject.startswith(feature + "@"))
    ]


def guardrail_overrides(levers: Sequence[LeverRow], feature: str) -> list[LeverRow]:
    """Guardrails of ``feature`` an operator has switched off."""
    return [r for r in levers if r.kind == "guardrail_off" and r.subject.startswith(feature + ":")]


def budget_limits(view: View, feature: str, levers: Sequence[LeverRow]) -> dict[str, tuple[float, str]]:
    """The feature-wide limits in force: ``limit -> (value, "spec" | "lever")``."""
    out: dict[str, tuple[float, str]] = {}
    loaded = view.sources.specs.get(feature)
    if loaded is not None:
        for name in BUDGET_LIMITS:
            value = getattr(loaded.spec.budgets, name, None)
            if value is not None:
                out[name] = (float(value), "spec")
    for row in levers:
        if row.kind == "budget" and row.subject.startswith(feature + ":"):
            out[row.subject.split(":", 1)[1]] = (float(row.value["limit"]), "lever")
    return out


def state_badge(state: str | None) -> Safe:
    """A coloured badge for a rollout, incident, alert or breaker state."""
    text = state or "none"
    tone = {
        "running": "info",
        "promoted": "ok",
        "rolled_back": "bad",
        "aborted": "warn",
        "paused": "warn",
        "firing": "bad",
        "open": "bad",
        "triggered": "bad",
        "acknowledged": "warn",
        "half_open": "warn",
        "resolved": "ok",
        "closed": "ok",
        "ok": "ok",
        "passed": "ok",
        "failed": "bad",
    }.get(text, "info")
    return badge(text, tone)


def rollout_summary(state: dict[str, Any] | Any) -> str:
    """One line: the strategy, its step and the candidate's share of traffic."""
    if not isinstance(state, dict):
        return "rollout state unreadable"
    strategy = state.get("strategy") or {}
    kind = strategy.get("kind", "?")
    where = f"{state.get('candidate', '?')} vs {state.get('baseline', '?')}"
    if kind == "canary":
        steps = strategy.get("steps") or []
        step = int(state.get("step") or 0)
        percent = steps[step] if 0 <= step < len(steps) else "?"
        return f"canary {where}: step {step + 1} of {len(steps)} ({percent}% on the candidate)"
    if kind == "ab":
        return f"A/B {where}: {strategy.get('percent', '?')}% on the candidate"
    if kind == "shadow":
        return f"shadow {where}: {strategy.get('sample_rate', '?')} of traffic copied"
    return f"{kind} {where}"

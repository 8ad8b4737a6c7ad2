"""Levers (admin only): the kill switch, guardrail overrides (reason and expiry required), rollout
pause and abort. Every lever takes two steps: the form, then a page saying exactly what will happen
with a Confirm button; only the confirmed post changes anything (see :mod:`runwell.console.actions`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from runwell.console.actions import DURATIONS, LeverRequest, apply_lever, describe, validate
from runwell.console.html import Child, Safe, badge, csrf_field, el, fmt_ago, fmt_time, join, layout
from runwell.console.parts import feature_picker, guardrail_overrides, kill_state
from runwell.console.view import Response, View, html_response, redirect
from runwell.control.levers import GUARDRAIL_NAMES, list_levers
from runwell.errors import ConfigError

__all__ = ["DONE", "confirm_or_apply", "render"]

DONE: Mapping[str, str] = MappingProxyType(
    {
        "kill": "Kill switch on: the feature answers with its degradation.",
        "unkill": "Kill switch off: the feature serves again.",
        "guardrail_off": "Guardrail switched off until its expiry.",
        "guardrail_on": "Guardrail switched back on.",
        "rollout_pause": "Rollout paused.",
        "rollout_abort": "Rollout aborted.",
        "label": "Review item labelled.",
        "nochange": "Nothing changed: the lever already was in that state.",
    }
)
"""The notices a redirect after a change may show (by key: no text is reflected from the URL)."""


def _form(
    view: View, action: str, button: str, fields: list[Child], *, danger: bool = False, label: str
) -> Safe:
    feature = view.feature() or ""
    return el(
        "form",
        csrf_field(view.session.csrf),
        el("input", type="hidden", name="feature", value=feature),
        fields,
        el(
            "label",
            "Reason (required, audited)",
            el("input", type="text", name="reason", required=True, minlength=3, size=40),
        ),
        el(
            "label",
            "Your name (optional, audited)",
            el("input", type="text", name="operator", size=16, autocomplete="name"),
        ),
        el("button", button, type="submit", class_="danger" if danger else None),
        method="post",
        action=f"/console/levers/{action}",
        class_="filters",
        aria_label=label,
    )


def _variant_select(view: View) -> Child:
    loaded = view.sources.specs.get(view.feature() or "")
    variants = sorted(loaded.spec.variants) if loaded is not None else []
    options = [el("option", "the whole feature", value=""), *(el("option", v, value=v) for v in variants)]
    return el("label", "Scope", el("select", options, name="variant"))


async def render(view: View) -> Response:
    """``GET /console/levers``."""
    feature = view.feature()
    frame = view.frame("levers")
    if feature is None:
        return html_response(layout("Levers", el("p", "No feature yet."), frame))
    rows = await view.run(lambda: list_levers(view.sources.store.db))
    killed = kill_state(rows, feature)
    overrides = guardrail_overrides(rows, feature)
    kill_now: Child = (
        [
            el(
                "p",
                badge("KILLED", "bad"),
                f" {r.subject} since {fmt_time(r.updated_at)} by {r.actor}: {r.reason}",
            )
            for r in killed
        ]
        if killed
        else el("p", badge("serving", "ok"), " The kill switch is off.")
    )
    off_now: Child = [
        el(
            "li",
            f"{r.subject.split(':', 1)[1]} off until {fmt_time(r.until)} ({fmt_ago(r.until, view.now)}), "
            f"by {r.actor}: {r.reason}",
        )
        for r in overrides
    ] or el("li", "Every guardrail is on.", class_="muted")
    duration = el(
        "label",
        "Expiry (required)",
        el(
            "select",
            [el("option", "choose…", value=""), *(el("option", f"in {d}", value=d) for d in DURATIONS)],
            name="duration",
            required=True,
        ),
    )
    guardrail = el(
        "label",
        "Guardrail",
        el("select", [el("option", g, value=g) for g in GUARDRAIL_NAMES], name="guardrail"),
    )
    rollout: Child
    if view.sources.rollouts is None:
        rollout = el("p", "Pause and abort are not available on this console.", class_="notice warn")
    else:
        rollout = join(
            _form(view, "rollout_pause", "Pause rollout…", [], label="Pause the rollout"),
            _form(view, "rollout_abort", "Abort rollout…", [], danger=True, label="Abort the rollout"),
        )
    body = join(
        feature_picker(view, "/console/levers"),
        el(
            "section",
            el("h2", "Kill switch"),
            kill_now,
            _form(view, "kill", "Kill…", [_variant_select(view)], danger=True, label="Kill switch on"),
            _form(view, "unkill", "Serve again…", [_variant_select(view)], label="Kill switch off"),
            aria_label="Kill switch",
        ),
        el(
            "section",
            el("h2", "Guardrail overrides"),
            el("ul", off_now),
            _form(
                view,
                "guardrail_off",
                "Switch off…",
                [guardrail, duration],
                danger=True,
                label="Switch a guardrail off",
            ),
            _form(view, "guardrail_on", "Switch back on…", [guardrail], label="Switch a guardrail back on"),
            aria_label="Guardrail overrides",
        ),
        el("section", el("h2", "Rollout"), rollout, aria_label="Rollout levers"),
    )
    return html_response(layout(f"Levers: {feature}", body, frame))


def _request(view: View, action: str) -> LeverRequest:
    f = view.form
    return LeverRequest(
        action=action,
        feature=f.get("feature", ""),
        reason=f.get("reason", ""),
        variant=f.get("variant") or None,
        guardrail=f.get("guardrail") or None,
        duration=f.get("duration") or None,
        operator=f.get("operator") or None,
    )


async def confirm_or_apply(view: View, action: str) -> Response:
    """``POST /console/levers/{action}``: the confirmation page, or (``confirm=yes``) the change."""
    req = _request(view, action)
    frame = view.frame("levers")
    try:
        validate(req, view.sources)
    except ConfigError as exc:
        body = join(
            el("p", str(exc), class_="notice bad", role="alert"),
            el("p", el("a", "← back to the levers", href=view.link("/console/levers", feature=req.feature))),
        )
        return html_response(layout("Cannot do that", body, frame), 400)
    if view.form.get("confirm") != "yes":
        hidden = [
            el("input", type="hidden", name=k, value=v)
            for k, v in view.form.items()
            if k not in ("csrf", "confirm")
        ]
        body = join(
            el("p", describe(req), class_="notice warn"),
            el("p", f"Reason: {req.reason.strip()} · recorded as {req.actor} in the signed audit log."),
            el(
                "form",
                csrf_field(view.session.csrf),
                hidden,
                el("input", type="hidden", name="confirm", value="yes"),
                el(
                    "button",
                    "Confirm",
                    type="submit",
                    class_="danger" if action in ("kill", "guardrail_off", "rollout_abort") else None,
                ),
                " ",
                el("a", "Cancel", href=view.link("/console/levers", feature=req.feature)),
                method="post",
                action=f"/console/levers/{action}",
                aria_label="Confirm the change",
            ),
        )
        return html_response(layout("Confirm", body, frame))
    try:
        changed = await view.run(lambda: apply_lever(req, view.sources))
    except ConfigError as exc:  # the state moved on since the form (e.g. no rollout to pause any more)
        body = join(
            el("p", str(exc), class_="notice bad", role="alert"),
            el("p", el("a", "← back to the levers", href=view.link("/console/levers", feature=req.feature))),
        )
        return html_response(layout("Not done", body, frame), 409)
    return redirect(view.link("/console/levers", feature=req.feature, done=action if changed else "nochange"))

"""Operations: incidents and their timelines, who is on call, drills, the review queue (labelled from
the page by the admin), the readiness report with its maturity level, and the decay report."""

from __future__ import annotations

from typing import Any

from runwell.console import tables
from runwell.console.html import (
    Child,
    Safe,
    badge,
    csrf_field,
    el,
    fmt_ago,
    fmt_time,
    join,
    kv,
    layout,
    table,
)
from runwell.console.parts import feature_picker, state_badge
from runwell.console.team import OnCallView, on_call
from runwell.console.view import Response, View, html_response
from runwell.readiness.decay import Signal, decay_report

__all__ = ["REVIEW_LABELS", "render", "render_incident"]

REVIEW_LABELS = ("good", "bad", "unsafe")
"""The labels a reviewer can give an answer from the console."""


def _incidents(view: View, found: list[dict[str, Any]]) -> Safe:
    rows = [
        [
            fmt_time(i["opened_at"]),
            el("a", i["title"], href=f"/console/incidents/{i['id']}"),
            i["severity"],
            state_badge(i["state"]),
            i["acked_by"] or "—",
            fmt_ago(i["resolved_at"], view.now) if i["resolved_at"] else "open",
        ]
        for i in found
    ]
    return table(
        "Incidents, open first", ["opened", "title", "severity", "state", "acknowledged by", "resolved"], rows
    )


def _oncall(team: OnCallView) -> Safe:
    steps = "; ".join(f"after {m:g} min: {who}" for m, who in team.escalation) or "none declared"
    if team.summary is None:
        return join(el("p", team.note, class_="muted"), kv([("escalation", steps)]))
    s = team.summary
    left = s.handoff_days_left
    pairs: list[tuple[str, Child]] = [
        ("on call now", el("strong", s.now or "nobody")),
        (
            "next",
            f"{s.next} from {fmt_time(s.next_at.timestamp())}" if s.next and s.next_at else "nobody else",
        ),
        (
            "handoff window",
            f"{left} days left; {', '.join(s.handoff_owners)} still paged"
            if left
            else "none, or over: the rotation alone is paged",
        ),
        ("rotation", f"{s.rotation} ({s.time_zone})"),
        ("escalation", steps),
    ]
    return kv(pairs)


def _drills(found: list[dict[str, Any]]) -> Safe:
    rows = [
        [
            fmt_time(d["started_at"]),
            d["scenario"],
            badge("passed", "ok")
            if d["passed"]
            else badge("failed", "bad")
            if d["passed"] is not None
            else badge("running", "info"),
        ]
        for d in found
    ]
    return table("Drills, newest first", ["started", "scenario", "result"], rows)


def _label_form(view: View, item: dict[str, Any]) -> Child:
    if not view.is_admin:
        return el("span", "unlabelled", class_="muted")
    rid = item["id"]
    return el(
        "form",
        csrf_field(view.session.csrf),
        el("input", type="hidden", name="item", value=rid),
        el("input", type="hidden", name="feature", value=item["feature"]),
        el(
            "label",
            "Label",
            el("select", [el("option", label, value=label) for label in REVIEW_LABELS], name="label"),
        ),
        el("label", "Correction (optional)", el("textarea", name="correction", rows=2, cols=30)),
        el("button", "Save label", type="submit"),
        method="post",
        action="/console/review/label",
        class_="filters",
        aria_label=f"Label review item {rid}",
    )


def _reviews(view: View, items: list[dict[str, Any]]) -> Safe:
    rows = [
        [
            fmt_time(i["created_at"]),
            el(
                "a",
                i["request_id"][:12],
                href=f"/console/requests/{i['request_id']}",
                aria_label=f"request {i['request_id']}",
            ),
            i["reason"],
            f"{i['label']} by {i['reviewer']}" if i["label"] else _label_form(view, i),
        ]
        for i in items
    ]
    return table("Review queue: unlabelled first", ["queued", "request", "why", "label"], rows)


def _readiness(found: list[dict[str, Any]]) -> Safe:
    if not found:
        return el("p", "No readiness report saved yet (runwell check).", class_="muted")
    latest = found[0]
    report = latest["report"]
    head = el(
        "p",
        el("strong", f"Maturity level {latest['level']}"),
        f", score {latest['score']:.0%}" if isinstance(latest["score"], int | float) else "",
        f", {fmt_time(latest['at'])}.",
    )
    checks = report.get("checks") if isinstance(report, dict) else None
    if isinstance(checks, list):
        rows = [
            [
                str(c.get("name") or c.get("id") or "?"),
                state_badge(str(c.get("status"))),
                str(c.get("detail") or c.get("message") or ""),
            ]
            for c in checks
            if isinstance(c, dict)
        ]
        return join(head, table("Readiness checks", ["check", "status", "detail"], rows))
    if isinstance(report, dict):
        return join(head, kv([(str(k), str(v)) for k, v in report.items()]))
    return join(head, el("pre", str(report)))


def _decay(signals: list[Signal]) -> Safe:
    tone = {"ok": "ok", "warn": "warn", "bad": "bad"}
    rows = [[s.area, s.check, badge(s.status, tone.get(s.status, "info")), s.detail] for s in signals]
    return table("How the feature is decaying, if it is", ["failure", "signal", "status", "fact"], rows)


async def render(view: View) -> Response:
    """``GET /console/operations``."""
    feature = view.feature()
    frame = view.frame("operations")
    if feature is None:
        return html_response(layout("Operations", el("p", "No feature yet."), frame))
    loaded = view.sources.specs.get(feature)

    def gather() -> tuple[Any, ...]:
        db, log = view.sources.store.db, view.sources.log
        return (
            tables.incidents(db, feature),
            on_call(loaded, view.now),
            tables.drills(db, feature),
            tables.review_items(db, feature),
            tables.readiness_reports(db, feature),
            decay_report(db, log, loaded, feature, view.now),
        )

    incidents, team, drills, reviews, readiness, decay = await view.run(gather)
    body = join(
        feature_picker(view, "/console/operations"),
        el(
            "div",
            el("section", el("h2", "On call"), _oncall(team), class_="card", aria_label="On call"),
            el(
                "section", el("h2", "Readiness"), _readiness(readiness), class_="card", aria_label="Readiness"
            ),
            class_="grid",
        ),
        el("section", el("h2", "Incidents"), _incidents(view, incidents), aria_label="Incidents"),
        el(
            "section",
            el("h2", "Review queue"),
            _reviews(view, reviews),
            aria_label="Review queue",
            id="review",
        ),
        el("section", el("h2", "Drills"), _drills(drills), aria_label="Drills"),
        el("section", el("h2", "Decay report"), _decay(decay), aria_label="Decay report"),
    )
    return html_response(layout(f"Operations: {feature}", body, frame))


async def render_incident(view: View, incident_id: str) -> Response:
    """``GET /console/incidents/{id}``: the incident, its timeline, its pages and its review."""
    db = view.sources.store.db
    found = await view.run(
        lambda: (
            tables.incident(db, incident_id),
            tables.incident_events(db, incident_id),
            tables.incident_pages(db, incident_id),
        )
    )
    incident, events, pages = found
    if incident is None:
        return html_response(
            layout("Incident not found", el("p", f"No incident {incident_id!r}."), view.frame("operations")),
            404,
        )
    timeline = [
        el(
            "li",
            el("strong", e["kind"]),
            f" {fmt_time(e['at'])}" + (f" by {e['actor']}" if e["actor"] else ""),
            el("pre", str(e["detail"])) if e["detail"] else None,
        )
        for e in events
    ]
    page_rows = [
        [p["level"], p["target"], p["channel"], p["action"], p["status"], fmt_time(p["sent_at"])]
        for p in pages
    ]
    body = join(
        el("p", el("a", "← operations", href=view.link("/console/operations", feature=incident["feature"]))),
        kv(
            [
                ("state", state_badge(incident["state"])),
                ("feature", incident["feature"]),
                ("severity", incident["severity"]),
                ("failure mode", incident["failure_mode"] or "—"),
                ("runbook", incident["runbook"] or "—"),
                ("opened", fmt_time(incident["opened_at"])),
                (
                    "acknowledged",
                    f"{fmt_time(incident['acked_at'])} by {incident['acked_by']}"
                    if incident["acked_at"]
                    else "—",
                ),
                (
                    "resolved",
                    f"{fmt_time(incident['resolved_at'])} by {incident['resolved_by']}"
                    if incident["resolved_at"]
                    else "—",
                ),
                ("review due", fmt_time(incident["review_due_at"])),
            ]
        ),
        el("h2", "Timeline"),
        el("ol", timeline) if timeline else el("p", "No events.", class_="muted"),
        el("h2", "Pages"),
        table("Who was paged", ["level", "target", "channel", "action", "status", "sent"], page_rows),
        el("h2", "Review"),
        el("pre", str(incident["review"]))
        if incident.get("review")
        else el("p", "No review yet.", class_="muted"),
    )
    return html_response(layout(f"Incident: {incident['title']}", body, view.frame("operations")))

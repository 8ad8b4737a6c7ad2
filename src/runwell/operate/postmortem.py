"""The blameless post-incident review written when an incident is resolved.

Markdown with the facts runwell knows filled in (severity, failure mode, runbook, impact from the
request records, the timeline with time to detect, acknowledge and resolve) and the parts only
people can write left as prompts: summary, root cause, what went well, what went badly, and action
items, each with an owner and a due date. Blameless: it asks what in the system let this happen,
never who.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from runwell.operate.incidents import Incident, IncidentEvent

__all__ = ["describe_event", "review_template"]


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe_event(event: IncidentEvent) -> str:
    """One timeline line in words."""
    d = event.detail
    by = f" by {event.actor}" if event.actor and event.actor != "runwell" else ""
    if event.kind == "opened":
        return f"incident opened ({d.get('severity')}): {d.get('title')}"
    if event.kind == "alert_firing":
        value = d.get("value")
        shown = f" (value {value:.4g})" if isinstance(value, int | float) else ""
        return f"alert {d.get('alert')} firing{shown}: {d.get('condition', '')}".rstrip(": ")
    if event.kind == "alert_resolved":
        return f"alert {d.get('alert')} resolved"
    if event.kind in ("page_sent", "page_failed"):
        verb = "sent" if event.kind == "page_sent" else "FAILED"
        who = f" to {d.get('target')}" if d.get("target") not in (None, "-") else ""
        error = f": {d.get('error')}" if d.get("error") else ""
        action, channel, level = d.get("action", "trigger"), d.get("channel"), d.get("level")
        return f"{action} {verb} over {channel}{who} (level {level}){error}"
    if event.kind == "escalated":
        return f"escalated to level {d.get('level')}: nobody acknowledged ({d.get('target')})"
    if event.kind == "acknowledged":
        return f"acknowledged{by} via {d.get('via')}"
    if event.kind == "resolved":
        return f"resolved{by} via {d.get('via')}: {d.get('reason')}"
    if event.kind == "lever":
        change = f"{d.get('before')} -> {d.get('after')}"
        return f"{d.get('kind')} {d.get('subject')}{by}: {d.get('reason')} ({change})"
    if event.kind == "handoff_paged":
        return f"handoff window: owners {', '.join(d.get('owners', []))} paged alongside the rotation"
    if event.kind == "oncall_gap":
        return f"NOBODY on call in rotation {', '.join(d.get('rotations', []))} (level {d.get('level')})"
    if event.kind == "review_done":
        return f"post-incident review completed{by}"
    if event.kind == "review_due":
        return f"post-incident review due {_when(float(d.get('due_at', 0)))}"
    return f"{event.kind}{by}: {d}"


def _first(events: Sequence[IncidentEvent], kind: str) -> float | None:
    return next((e.at for e in events if e.kind == kind), None)


def review_template(incident: Incident, events: Sequence[IncidentEvent], impact: dict[str, Any]) -> str:
    """The review as Markdown, facts filled in (see the module docstring)."""
    opened = incident.opened_at
    first_page = _first(events, "page_sent")
    mitigated = _first(events, "lever") or _first(events, "alert_resolved")
    lines = [
        f"# Post-incident review: {incident.title}",
        "",
        f"- Incident: {incident.id} ({incident.severity}), feature `{incident.feature}`",
        f"- Failure mode: {incident.failure_mode or 'unnamed'}; runbook: {incident.runbook or 'none linked'}",
        f"- Opened {_when(opened)}; resolved "
        f"{_when(incident.resolved_at) if incident.resolved_at else 'not yet'} "
        f"by {incident.resolved_by or '-'}",
        f"- Time to page: {_span(first_page - opened if first_page else None)}; to acknowledge: "
        f"{_span(incident.acked_at - opened if incident.acked_at else None)}; to mitigate: "
        f"{_span(mitigated - opened if mitigated else None)}; to resolve: "
        f"{_span(incident.resolved_at - opened if incident.resolved_at else None)}",
        "",
        "This review is blameless: it asks what in the system, the tools and the process let this",
        "happen and what would catch it sooner, not who made a mistake.",
        "",
        "## Summary",
        "",
        "_Two or three sentences: what broke, for whom, for how long, and how it was fixed._",
        "",
        "## Impact",
        "",
        f"- {impact.get('requests', 0)} requests during the incident; {impact.get('failed', 0)} failed, "
        f"{impact.get('degraded', 0)} answered by the degradation; {impact.get('users', 0)} distinct users.",
        f"- Duration: {_span(impact.get('duration_s'))}.",
        "- _Anything the numbers miss (complaints, money, trust)._",
        "",
        "## Timeline (UTC)",
        "",
    ]
    lines += [f"- {_when(e.at)}: {describe_event(e)}" for e in events]
    lines += [
        "",
        "## Root cause",
        "",
        "_What failed, and why the defences (evals, guardrails, fallbacks, alerts) did not stop it._",
        "",
        "## What went well",
        "",
        "- _..._",
        "",
        "## What went badly, and where we were lucky",
        "",
        "- _..._",
        "",
        "## Action items",
        "",
        "| action | owner | due | ticket |",
        "|---|---|---|---|",
        "| _e.g. add the failing inputs to the eval set (`runwell review export`)_ "
        "| _name_ | _date_ | _link_ |",
        "",
    ]
    return "\n".join(lines)

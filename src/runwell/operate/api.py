"""What the admin API and the CLI ask of the operations layer, as plain JSON-ready answers.

The HTTP routes (``runwell.gateway.operations_setup``) authenticate, parse and send; the CLI prints.
Both call these functions, so an acknowledgement is the same change whether it came from
``runwell incident ack``, ``POST /admin/incidents/ID/ack`` or the link in a page.

Synchronous, like the store: the gateway calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from runwell.errors import NotFoundError
from runwell.operate.incidents import get_incident, incident_events, incident_pages, list_incidents
from runwell.operate.oncall_plan import OnCallPlan
from runwell.operate.postmortem import describe_event
from runwell.operate.review import get_item, list_items
from runwell.ops.oncall import Person, Target
from runwell.store import Store

__all__ = [
    "alert_states",
    "incident_detail",
    "incidents_list",
    "oncall_summary",
    "review_detail",
    "review_list",
]


def incidents_list(
    store: Store, *, feature: str | None, state: str | None, since: float | None, limit: int = 50
) -> dict[str, Any]:
    """``{"object": "list", "data": [incident, ...]}``, newest first."""
    found = list_incidents(store.db, feature=feature, state=state, since=since, limit=limit)
    now = time.time()
    return {
        "object": "list",
        "data": [{**i.to_dict(), "review_overdue": i.review_overdue(now)} for i in found],
    }


def incident_detail(store: Store, incident_id: str) -> dict[str, Any]:
    """One incident with its timeline (each line also in words), its pages and its review."""
    incident = get_incident(store.db, incident_id)
    events = incident_events(store.db, incident_id)
    return {
        **incident.to_dict(),
        "review": incident.review,
        "review_overdue": incident.review_overdue(time.time()),
        "timeline": [{**e.to_dict(), "text": describe_event(e)} for e in events],
        "pages": [p.to_dict() for p in incident_pages(store.db, incident_id)],
    }


def alert_states(store: Store, *, feature: str | None) -> dict[str, Any]:
    """Every alert's stored state."""
    sql = "SELECT feature, name, state, since, last_value, last_eval_at, incident_id, detail FROM alerts"
    params: tuple[Any, ...] = ()
    if feature is not None:
        sql += " WHERE feature = ?"
        params = (feature,)
    rows = store.db.query(sql + " ORDER BY feature, name", params, action="list alerts")

    data = [
        {
            "feature": r[0],
            "name": r[1],
            "state": r[2],
            "since": r[3],
            "value": r[4],
            "evaluated_at": r[5],
            "incident": r[6],
            "detail": orjson.loads(r[7]) if r[7] else {},
        }
        for r in rows
    ]
    return {"object": "list", "data": data}


def oncall_summary(
    plans: Mapping[str, OnCallPlan], feature: str | None, at: datetime | None = None
) -> dict[str, Any]:
    """Who is on call now and next, and the handoff window's days left, per feature."""
    moment = at or datetime.now(UTC)
    out = []
    for name, plan in sorted(plans.items()):
        if feature is not None and name != feature:
            continue
        summary = plan.summary(moment)
        entry: dict[str, Any] = {"feature": name, "rotation": None}
        if summary is not None:
            entry["rotation"] = {
                "name": summary.rotation,
                "time_zone": summary.time_zone,
                "now": summary.now,
                "next": summary.next,
                "next_at": summary.next_at.isoformat() if summary.next_at else None,
            }
        left = plan.handoff_days_left(moment)
        entry["handoff"] = (
            None
            if plan.handoff is None
            else {
                "owners": list(plan.handoff.owners),
                "cutover": plan.handoff.cutover.isoformat(),
                "days": plan.handoff.days,
                "days_left": left or 0,
                "active": left is not None,
            }
        )
        entry["escalation"] = [
            {
                "level": i,
                "targets": [_target(t) for t in level.targets],
                "wait_s": level.delay.total_seconds(),
                "channels": list(plan.channels_of(i)),
            }
            for i, level in enumerate(plan.policy.levels)
        ]
        out.append(entry)
    if feature is not None and not out:
        raise NotFoundError(f"no feature {feature!r} on this gateway")
    return {"object": "list", "data": out}


def review_list(store: Store, *, feature: str | None, state: str | None, limit: int = 50) -> dict[str, Any]:
    """The review queue, oldest first."""
    items = list_items(store.db, feature=feature, state=state, limit=limit)
    return {"object": "list", "data": [i.to_dict() for i in items]}


def review_detail(store: Store, item_id: str) -> dict[str, Any]:
    """One item with its request's prompt and answer."""
    item = get_item(store.db, item_id)
    record = store.get_record(item.request_id)
    body: dict[str, Any] = {**item.to_dict(), "record": None}
    if record is not None:
        body["record"] = {
            "variant": record.variant,
            "outcome": record.outcome,
            "prompt": record.prompt,
            "completion": record.completion,
            "guardrails": record.guardrails,
            "started_at": record.started_at,
        }
    return body


def _target(target: Target) -> str:
    return target.name if isinstance(target, Person) else f"on call in {target.rotation.name}"

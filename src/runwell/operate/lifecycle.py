"""What people do to an incident: acknowledge it, resolve it, complete its review.

Each is an audited state change (:func:`runwell.audit.open.change_state`): the incident row, its
timeline line, the follow-up notifications for the channels that were paged (the outbox rows the
dispatching gateway sends) and the signed audit entry are stored in one transaction, or none of
them. Asking for the state an incident already has records nothing and returns ``False``. The CLI,
the admin API and the signed link in a page all call these functions.

Resolving writes the blameless post-incident review (due in ``review_due_days``) and the
incident's *scenario*: its failure mode, the alerts that fired and the requests that failed, which
``runwell drill`` replays and ``runwell review export`` turns into regression cases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from runwell.audit.log import AuditLog
from runwell.audit.open import StateChange, change_state
from runwell.errors import ConfigError, NotFoundError
from runwell.operate.incidents import (
    Incident,
    add_event,
    get_incident,
    incident_events,
    queue_follow_ups,
)
from runwell.operate.measure import FAILED
from runwell.operate.postmortem import review_template
from runwell.operate.review import queue_items
from runwell.store import Database, Tx

__all__ = ["MAX_INPUTS", "acknowledge", "complete_review", "failed_inputs", "resolve"]

MAX_INPUTS = 20
"""How many failed requests an incident's scenario keeps for replay and export."""


def _state(tx: Tx, incident_id: str) -> tuple[str, float, str, str]:
    row = tx.query_one(
        "SELECT state, opened_at, feature, scenario FROM incidents WHERE id = ?", (incident_id,)
    )
    if row is None:
        raise NotFoundError(f"no incident {incident_id!r}; list them with `runwell incident list`")
    return str(row[0]), float(row[1]), str(row[2]), str(row[3] or "{}")


def acknowledge(
    log: AuditLog, incident_id: str, *, actor: str, via: str, clock: Callable[[], float] = time.time
) -> bool:
    """Someone is on it: escalation stops and the paged channels are told. ``via`` says how
    (``cli``, ``admin-api``, ``link``, ``drill``). Returns whether it changed anything."""

    def apply(tx: Tx) -> StateChange | None:
        state, _opened, _feature, _scenario = _state(tx, incident_id)
        if state != "open":
            return None
        now = clock()
        tx.execute(
            "UPDATE incidents SET state = 'acknowledged', acked_at = ?, acked_by = ?, "
            "next_escalation_at = NULL WHERE id = ? AND state = 'open'",
            (now, actor, incident_id),
        )
        add_event(tx, incident_id, now, "acknowledged", {"via": via}, actor=actor)
        queue_follow_ups(tx, incident_id, "acknowledge", now)
        return StateChange({"state": "open"}, {"state": "acknowledged", "via": via})

    index = change_state(
        log,
        kind="incident_acknowledged",
        subject=incident_id,
        actor=actor,
        reason=f"acknowledged ({via})",
        apply=apply,
        clock=clock,
    )
    return index is not None


def resolve(
    log: AuditLog,
    db: Database,
    incident_id: str,
    *,
    actor: str,
    via: str,
    reason: str,
    review_due_days: int = 14,
    clock: Callable[[], float] = time.time,
) -> bool:
    """The incident is over: the paged channels are told (PagerDuty ``resolve``), the post-incident
    review is written and due in ``review_due_days`` (a drill's incident has none), and the
    scenario records the failed requests. Returns whether it changed anything."""
    if not reason.strip():
        raise ConfigError('resolving an incident needs a reason (--reason "..."): it goes into the audit log')
    before = get_incident(db, incident_id)
    inputs = failed_inputs(db, before) if before.open else []
    review = not before.scenario.get("drill")

    def apply(tx: Tx) -> StateChange | None:
        state, _opened, _feature, scenario_text = _state(tx, incident_id)
        if state == "resolved":
            return None
        now = clock()
        scenario = orjson.loads(scenario_text) if scenario_text else {}
        scenario["inputs"] = inputs
        due = now + review_due_days * 86400.0 if review else None
        tx.execute(
            "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, "
            "next_escalation_at = NULL, review_due_at = ?, scenario = ? WHERE id = ?",
            (now, actor, due, orjson.dumps(scenario).decode(), incident_id),
        )
        add_event(tx, incident_id, now, "resolved", {"via": via, "reason": reason}, actor=actor)
        if due is not None:
            add_event(tx, incident_id, now, "review_due", {"due_at": due}, actor="runwell")
        queue_follow_ups(tx, incident_id, "resolve", now)
        return StateChange({"state": state}, {"state": "resolved", "via": via, "review_due_at": due})

    index = change_state(
        log,
        kind="incident_resolved",
        subject=incident_id,
        actor=actor,
        reason=reason,
        apply=apply,
        clock=clock,
    )
    if index is None:
        return False
    if review:
        incident = get_incident(db, incident_id)
        text = review_template(incident, incident_events(db, incident_id), _impact(db, incident))
        with db.transaction("store a post-incident review") as tx:
            tx.execute("UPDATE incidents SET review = ? WHERE id = ? AND review IS NULL", (text, incident_id))
        # The failed inputs wait in the review queue for the right answer, then become eval cases.
        queue_items(db, [(rid, before.feature, f"incident:{incident_id}", clock()) for rid in inputs])
    return True


def complete_review(
    log: AuditLog, incident_id: str, text: str, *, actor: str, clock: Callable[[], float] = time.time
) -> bool:
    """Store the finished review and mark it done; returns whether it changed anything."""
    if not text.strip():
        raise ConfigError("the review is empty; write it first (start from `runwell incident review ID`)")

    def apply(tx: Tx) -> StateChange | None:
        row = tx.query_one("SELECT state, review_done_at FROM incidents WHERE id = ?", (incident_id,))
        if row is None:
            raise NotFoundError(f"no incident {incident_id!r}; list them with `runwell incident list`")
        if row[0] != "resolved":
            raise ConfigError(f"incident {incident_id} is not resolved yet; resolve it before its review")
        if row[1] is not None:
            return None
        now = clock()
        tx.execute(
            "UPDATE incidents SET review = ?, review_done_at = ? WHERE id = ?", (text, now, incident_id)
        )
        add_event(tx, incident_id, now, "review_done", {"chars": len(text)}, actor=actor)
        return StateChange({"review": "due"}, {"review": "done"})

    index = change_state(
        log,
        kind="incident_review_done",
        subject=incident_id,
        actor=actor,
        reason="post-incident review completed",
        apply=apply,
        clock=clock,
    )
    return index is not None


def failed_inputs(db: Database, incident: Incident, *, lookback_s: float = 600.0) -> list[str]:
    """Ids of requests that failed on the incident's feature from a little before it opened until
    now, oldest first (at most :data:`MAX_INPUTS`)."""
    rows = db.query(
        f"SELECT request_id FROM requests WHERE feature = ? AND started_at >= ? AND {FAILED} "
        "AND shadow_of IS NULL ORDER BY started_at LIMIT ?",
        (incident.feature, incident.opened_at - lookback_s, MAX_INPUTS),
        action="find an incident's failed requests",
    )
    return [str(r[0]) for r in rows]


def _impact(db: Database, incident: Incident) -> dict[str, Any]:
    end = incident.resolved_at or time.time()
    row = db.query_one(
        f"SELECT count(*), SUM(CASE WHEN {FAILED} THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN outcome = 'degraded' THEN 1 ELSE 0 END), COUNT(DISTINCT user_id) "
        "FROM requests WHERE feature = ? AND started_at >= ? AND started_at < ? AND shadow_of IS NULL",
        (incident.feature, incident.opened_at, end),
        action="measure an incident's impact",
    )
    n, failed, degraded, users = row or (0, 0, 0, 0)
    return {
        "requests": int(n or 0),
        "failed": int(failed or 0),
        "degraded": int(degraded or 0),
        "users": int(users or 0),
        "duration_s": end - incident.opened_at,
    }

"""Reads of the experiment and operations tables (migrations 10 and 11) for the console's pages.

These tables are written by the rollout controller, the alert evaluator, the incident engine and
the review queue; the console only reads them (labelling a review item is the one write, in
:mod:`runwell.console.actions`). JSON columns are decoded; a value that does not decode is shown
as the text it is rather than failing the page.

Synchronous, like the store: callers run these in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from runwell.store import Database

__all__ = [
    "alerts",
    "drills",
    "incident",
    "incident_events",
    "incident_pages",
    "incidents",
    "online_scores",
    "readiness_reports",
    "review_item",
    "review_items",
    "rollout_events",
    "rollouts",
]


def _json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def _dicts(
    db: Database,
    columns: Sequence[str],
    sql: str,
    params: Sequence[Any],
    action: str,
    *,
    decode: Sequence[str] = (),
) -> list[dict[str, Any]]:
    rows = db.query(sql.format(cols=", ".join(columns)), params, action=action)
    out = []
    for row in rows:
        item = dict(zip(columns, row, strict=True))
        for name in decode:
            item[name] = _json(item[name])
        out.append(item)
    return out


def _where_feature(feature: str | None) -> tuple[str, tuple[Any, ...]]:
    return ("WHERE feature = ?", (feature,)) if feature else ("", ())


def rollouts(db: Database, feature: str | None = None) -> list[dict[str, Any]]:
    """Each feature's live rollout: ``feature``, ``state`` (the decoded state record), ``version``."""
    where, params = _where_feature(feature)
    return _dicts(
        db,
        ("feature", "state", "version", "updated_at"),
        f"SELECT {{cols}} FROM rollouts {where} ORDER BY feature",
        params,
        "read rollouts",
        decode=("state",),
    )


def rollout_events(db: Database, feature: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """A feature's rollout history, newest first, with each event's evidence decoded."""
    return _dicts(
        db,
        ("id", "rollout_id", "at", "kind", "from_state", "to_state", "actor", "reason", "evidence"),
        "SELECT {cols} FROM rollout_events WHERE feature = ? ORDER BY at DESC LIMIT ?",
        (feature, limit),
        "read rollout events",
        decode=("evidence",),
    )


def alerts(db: Database, feature: str | None = None) -> list[dict[str, Any]]:
    """Alert states (firing first), with their details decoded."""
    where, params = _where_feature(feature)
    found = _dicts(
        db,
        ("feature", "name", "state", "since", "last_value", "last_eval_at", "incident_id", "detail"),
        f"SELECT {{cols}} FROM alerts {where} ORDER BY feature, name",
        params,
        "read alert states",
        decode=("detail",),
    )
    return sorted(found, key=lambda a: a["state"] != "firing")


_INCIDENT = (
    "id",
    "feature",
    "failure_mode",
    "severity",
    "state",
    "title",
    "runbook",
    "opened_at",
    "acked_at",
    "acked_by",
    "resolved_at",
    "resolved_by",
    "escalation_level",
    "review_due_at",
    "review_done_at",
    "scenario",
)


def incidents(db: Database, feature: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
    """Incidents, open ones first, newest first."""
    where, params = _where_feature(feature)
    found = _dicts(
        db, _INCIDENT, f"SELECT {{cols}} FROM incidents {where} ORDER BY opened_at DESC LIMIT ?",
        (*params, limit), "read incidents",
    )  # fmt: skip
    return sorted(found, key=lambda i: i["state"] == "resolved")


def incident(db: Database, incident_id: str) -> dict[str, Any] | None:
    """One incident with its review, or ``None``."""
    found = _dicts(
        db, (*_INCIDENT, "review"), "SELECT {cols} FROM incidents WHERE id = ?", (incident_id,),
        "read an incident", decode=("review",),
    )  # fmt: skip
    return found[0] if found else None


def incident_events(db: Database, incident_id: str) -> list[dict[str, Any]]:
    """An incident's timeline, oldest first."""
    return _dicts(
        db,
        ("id", "at", "kind", "actor", "detail"),
        "SELECT {cols} FROM incident_events WHERE incident_id = ? ORDER BY at, id",
        (incident_id,),
        "read an incident's timeline",
        decode=("detail",),
    )


def incident_pages(db: Database, incident_id: str) -> list[dict[str, Any]]:
    """Who was paged for an incident, and how it went."""
    return _dicts(
        db,
        ("level", "target", "channel", "action", "status", "attempts", "error", "sent_at", "created_at"),
        "SELECT {cols} FROM pages WHERE incident_id = ? ORDER BY created_at",
        (incident_id,),
        "read an incident's pages",
    )


_REVIEW = (
    "id",
    "request_id",
    "feature",
    "reason",
    "state",
    "label",
    "correction",
    "reviewer",
    "created_at",
    "labelled_at",
)


def review_items(db: Database, feature: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
    """The review queue: unlabelled items first (oldest first), then recent labels."""
    where, params = _where_feature(feature)
    joiner = "AND" if where else "WHERE"
    pending = _dicts(
        db, _REVIEW, f"SELECT {{cols}} FROM review_items {where} {joiner} labelled_at IS NULL "
        "ORDER BY created_at LIMIT ?", (*params, limit), "read the review queue",
    )  # fmt: skip
    done = _dicts(
        db, _REVIEW, f"SELECT {{cols}} FROM review_items {where} {joiner} labelled_at IS NOT NULL "
        "ORDER BY labelled_at DESC LIMIT ?", (*params, 10), "read the review queue",
    )  # fmt: skip
    return pending + done


def review_item(db: Database, item_id: str) -> dict[str, Any] | None:
    """One review item, or ``None``."""
    found = _dicts(
        db, _REVIEW, "SELECT {cols} FROM review_items WHERE id = ?", (item_id,), "read a review item"
    )
    return found[0] if found else None


def drills(db: Database, feature: str | None = None, *, limit: int = 20) -> list[dict[str, Any]]:
    """Recent drills, newest first."""
    where, params = _where_feature(feature)
    return _dicts(
        db,
        ("id", "feature", "scenario", "started_at", "finished_at", "passed", "result"),
        f"SELECT {{cols}} FROM drills {where} ORDER BY started_at DESC LIMIT ?",
        (*params, limit),
        "read drills",
        decode=("result",),
    )


def readiness_reports(db: Database, feature: str, *, limit: int = 10) -> list[dict[str, Any]]:
    """A feature's saved readiness reports, newest first (the report decoded)."""
    return _dicts(
        db,
        ("id", "at", "score", "level", "report"),
        "SELECT {cols} FROM readiness_reports WHERE feature = ? ORDER BY at DESC LIMIT ?",
        (feature, limit),
        "read readiness reports",
        decode=("report",),
    )


def online_scores(db: Database, feature: str, since: float, until: float) -> tuple[int, float | None]:
    """How many online scores ``feature`` got in ``[since, until)`` and their mean."""
    row = db.query_one(
        "SELECT count(*), avg(score) FROM scores WHERE feature = ? AND created_at >= ? AND created_at < ?",
        (feature, since, until),
        action="read online scores",
    )
    if row is None:
        return 0, None
    return int(row[0]), None if row[1] is None else float(row[1])

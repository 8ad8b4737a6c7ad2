"""Incidents, their timelines and their pages: the tables ``incidents``, ``incident_events`` and
``pages``.

An incident is opened by a firing page-severity alert, or joined when one is already open for the
same feature and failure mode (an alert without a failure mode is its own). Its timeline collects
the alerts, every page, escalations, acknowledgements, lever changes and the resolution.

Pages are an *outbox*: a trigger, acknowledge or resolve to send is first a ``pending`` row (its id
is derived from the incident, the escalation step and the channel), and the dispatcher claims a row
with a compare-and-set before sending it. Two replicas that both try to page the same step insert
the same id (the second insert is ignored) and only one claim succeeds: one page per alert, never
two. An acknowledgement made from the CLI writes its ``acknowledge`` rows in the same transaction,
and the gateway that dispatches sends them.

Synchronous, like the store: the gateway calls it from worker threads.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from runwell.errors import NotFoundError
from runwell.store import Database, Tx

__all__ = [
    "OPERATE_LOCK",
    "STUCK_S",
    "TICKET_PREFIX",
    "Incident",
    "IncidentEvent",
    "PageRow",
    "add_event",
    "claim_pages",
    "due_escalations",
    "finish_page",
    "get_incident",
    "incident_events",
    "incident_pages",
    "list_incidents",
    "open_or_join",
    "queue_follow_ups",
    "queue_pages",
    "queue_ticket",
    "severity_label",
]

TICKET_PREFIX = "alert:"
"""Pages of ticket alerts (no incident) carry ``alert:<feature>:<rule>`` as their incident id."""

STUCK_S = 600.0
"""A page still ``sending`` this long after it was queued was abandoned (its sender died)."""

OPERATE_LOCK = int.from_bytes(b"rwincid", "big")
"""PostgreSQL advisory lock serialising incident openings across processes."""

_INCIDENT_COLUMNS = (
    "id, feature, failure_mode, severity, state, title, runbook, opened_at, acked_at, acked_by, "
    "resolved_at, resolved_by, escalation_level, next_escalation_at, review_due_at, review, "
    "review_done_at, scenario"
)
_RANK = {"opened": 0, "alert_firing": 1, "escalated": 2, "handoff_paged": 3, "oncall_gap": 3, "page_sent": 4}
_PAGE_COLUMNS = (
    "id, incident_id, level, target, channel, action, status, attempts, error, sent_at, created_at"
)


def severity_label(severity: int) -> str:
    """``SEV-2`` for 2."""
    return f"SEV-{severity}"


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def _load(text: Any) -> Any:
    return None if text is None else orjson.loads(text)


@dataclass(frozen=True)
class Incident:
    """One incident as stored."""

    id: str
    feature: str
    failure_mode: str | None
    severity: str
    state: str
    title: str
    runbook: str | None
    opened_at: float
    acked_at: float | None = None
    acked_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    escalation_level: int = 0
    next_escalation_at: float | None = None
    review_due_at: float | None = None
    review: str | None = None
    review_done_at: float | None = None
    scenario: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Incident:
        """Build from a row in ``_INCIDENT_COLUMNS`` order."""
        values = list(row)
        values[17] = _load(values[17]) or {}
        for i in (7, 8, 10, 13, 14, 16):
            values[i] = None if values[i] is None else float(values[i])
        values[12] = int(values[12])
        return cls(*values)

    @property
    def open(self) -> bool:
        """Not resolved yet."""
        return self.state != "resolved"

    def review_overdue(self, now: float) -> bool:
        """Resolved, its review due, and not done."""
        return self.review_due_at is not None and self.review_done_at is None and self.review_due_at < now

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "feature": self.feature,
            "failure_mode": self.failure_mode,
            "severity": self.severity,
            "state": self.state,
            "title": self.title,
            "runbook": self.runbook,
            "opened_at": self.opened_at,
            "acked_at": self.acked_at,
            "acked_by": self.acked_by,
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "escalation_level": self.escalation_level,
            "next_escalation_at": self.next_escalation_at,
            "review_due_at": self.review_due_at,
            "review_done_at": self.review_done_at,
            "scenario": self.scenario,
        }


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """One line of an incident's timeline."""

    id: str
    incident_id: str
    at: float
    kind: str
    actor: str | None
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"id": self.id, "at": self.at, "kind": self.kind, "actor": self.actor, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class PageRow:
    """One notification to send (or sent) for an incident over one channel."""

    id: str
    incident_id: str
    level: int
    target: str
    channel: str
    action: str
    status: str
    attempts: int
    error: str | None
    sent_at: float | None
    created_at: float

    @property
    def people(self) -> list[str]:
        """The people this page names."""
        return [p for p in self.target.split(", ") if p and p != "-"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "level": self.level,
            "target": self.target,
            "channel": self.channel,
            "action": self.action,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "sent_at": self.sent_at,
            "created_at": self.created_at,
        }


def add_event(
    tx: Tx,
    incident_id: str,
    at: float,
    kind: str,
    detail: dict[str, Any],
    *,
    actor: str | None = None,
    event_id: str | None = None,
) -> bool:
    """Append a timeline line; with ``event_id`` it is added once however often it is asked."""
    changed = tx.execute(
        "INSERT INTO incident_events (id, incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (event_id or "ev_" + os.urandom(8).hex(), incident_id, at, kind, actor, _json(detail)),
    )
    return changed == 1


def open_or_join(
    db: Database,
    *,
    feature: str,
    failure_mode: str,
    severity: int,
    title: str,
    runbook: str | None,
    alert: str,
    detail: dict[str, Any],
    now: float,
    scenario: dict[str, Any] | None = None,
) -> tuple[str, bool]:
    """The open incident of ``(feature, failure_mode)`` the firing ``alert`` joins, or a new one;
    returns ``(incident id, opened)``. A worse severity raises the incident's."""
    with db.transaction("open an incident", lock=OPERATE_LOCK) as tx:
        row = tx.query_one(
            "SELECT id, severity FROM incidents WHERE feature = ? AND failure_mode = ? "
            "AND state <> 'resolved' ORDER BY opened_at DESC LIMIT 1",
            (feature, failure_mode),
        )
        if row is not None:
            incident_id = str(row[0])
            if severity < int(str(row[1]).removeprefix("SEV-")):
                tx.execute(
                    "UPDATE incidents SET severity = ? WHERE id = ?", (severity_label(severity), incident_id)
                )
            add_event(tx, incident_id, now, "alert_firing", {"alert": alert, **detail}, actor="runwell")
            return incident_id, False
        incident_id = "inc_" + os.urandom(5).hex()
        tx.execute(
            "INSERT INTO incidents (id, feature, failure_mode, severity, state, title, runbook, opened_at, "
            "escalation_level, next_escalation_at, scenario) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, 0, ?, ?)",
            (
                incident_id,
                feature,
                failure_mode,
                severity_label(severity),
                title,
                runbook,
                now,
                now,
                _json({"failure_mode": failure_mode, "alerts": [alert], **(scenario or {})}),
            ),
        )
        add_event(tx, incident_id, now, "opened", {"title": title, "severity": severity_label(severity)})
        add_event(tx, incident_id, now, "alert_firing", {"alert": alert, **detail}, actor="runwell")
        return incident_id, True


def due_escalations(db: Database, now: float) -> list[Incident]:
    """Open, unacknowledged incidents whose next escalation step is due."""
    rows = db.query(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE state = 'open' AND next_escalation_at IS NOT NULL "
        "AND next_escalation_at <= ? ORDER BY opened_at",
        (now,),
        action="find due escalations",
    )
    return [Incident.from_row(r) for r in rows]


def queue_pages(
    db: Database,
    incident_id: str,
    pages: Sequence[tuple[int, int, str, Sequence[str]]],
    *,
    level: int,
    next_at: float | None,
    now: float,
    notes: Sequence[tuple[str, dict[str, Any], str]] = (),
) -> int:
    """Queue the trigger pages ``(step, level, target, channels)`` of an escalation and move the
    incident to ``level`` (next step due ``next_at``), in one transaction; returns the new rows.

    Only an incident still ``open`` is escalated: an acknowledgement that landed meanwhile wins.
    ``notes`` are timeline lines ``(kind, detail, event id)`` added with the pages.
    """
    added = 0
    with db.transaction("queue pages") as tx:
        moved = tx.execute(
            "UPDATE incidents SET escalation_level = ?, next_escalation_at = ? "
            "WHERE id = ? AND state = 'open'",
            (level, next_at, incident_id),
        )
        if not moved:
            return 0
        for step, page_level, target, channels in pages:
            for channel in channels:
                added += tx.execute(
                    f"INSERT INTO pages ({_PAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 'trigger', 'pending', 0, "
                    "NULL, NULL, ?) ON CONFLICT (id) DO NOTHING",
                    (f"pg_{incident_id}_{step}_{channel}", incident_id, page_level, target, channel, now),
                )
        for kind, detail, event_id in notes:
            add_event(tx, incident_id, now, kind, detail, actor="runwell", event_id=event_id)
    return added


def queue_follow_ups(tx: Tx, incident_id: str, action: str, now: float) -> int:
    """Queue ``action`` (``acknowledge`` or ``resolve``) on every channel that was sent a trigger
    for the incident, inside the caller's transaction; returns the rows queued."""
    rows = tx.query(
        "SELECT DISTINCT channel FROM pages WHERE incident_id = ? AND action = 'trigger' "
        "AND status IN ('sent', 'sending', 'pending')",
        (incident_id,),
    )
    queued = 0
    for (channel,) in rows:
        queued += tx.execute(
            f"INSERT INTO pages ({_PAGE_COLUMNS}) VALUES (?, ?, -1, '-', ?, ?, 'pending', 0, NULL, NULL, ?) "
            "ON CONFLICT (id) DO NOTHING",
            (f"pg_{incident_id}_{action}_{channel}", incident_id, channel, action, now),
        )
    return queued


def queue_ticket(
    db: Database, target: str, channels: Sequence[str], action: str, key: float, now: float
) -> int:
    """Queue a ticket alert's ``trigger`` or ``resolve`` on ``channels``; ``key`` (the firing
    time) makes the rows of one firing unique. Returns the rows queued."""
    queued = 0
    with db.transaction("queue a ticket notification") as tx:
        for channel in channels:
            queued += tx.execute(
                f"INSERT INTO pages ({_PAGE_COLUMNS}) "
                "VALUES (?, ?, 0, '-', ?, ?, 'pending', 0, NULL, NULL, ?) ON CONFLICT (id) DO NOTHING",
                (f"pg_{target}_{key:.3f}_{action}_{channel}", target, channel, action, now),
            )
    return queued


def claim_pages(
    db: Database, now: float, *, features: Collection[str] | None = None, limit: int = 50
) -> list[PageRow]:
    """Take pending pages of ``features`` (all by default) to send: each row moves to ``sending``
    for exactly one caller.

    Triggers go before follow-ups of the same incident (a resolve must not overtake its page). A
    page left ``sending`` for :data:`STUCK_S` by a replica that died mid-send is taken again.
    """
    columns = ", ".join(f"p.{c.strip()}" for c in _PAGE_COLUMNS.split(","))
    found = db.query(
        f"SELECT {columns}, i.feature FROM pages p LEFT JOIN incidents i ON i.id = p.incident_id "
        "WHERE p.status = 'pending' OR (p.status = 'sending' AND p.created_at < ?) ORDER BY p.created_at, "
        "CASE p.action WHEN 'trigger' THEN 0 WHEN 'acknowledge' THEN 1 ELSE 2 END LIMIT ?",
        (now - STUCK_S, limit),
        action="find pages to send",
    )
    rows = [r[:-1] for r in found if features is None or _feature_of(str(r[1]), r[-1]) in features]
    claimed: list[PageRow] = []
    for row in rows:
        with db.transaction("claim a page") as tx:
            if tx.execute(
                "UPDATE pages SET status = 'sending' WHERE id = ? AND status = ?", (row[0], row[6])
            ):
                claimed.append(_page((*row[:6], "sending", *row[7:])))
    return claimed


def _feature_of(incident_id: str, feature: Any) -> str:
    """The feature a page belongs to: its incident's, or the one a ticket's id names."""
    if feature is not None:
        return str(feature)
    return incident_id.removeprefix(TICKET_PREFIX).partition(":")[0]


def finish_page(
    db: Database,
    page: PageRow,
    *,
    ok: bool,
    attempts: int,
    error: str | None,
    now: float,
    detail: dict[str, Any],
) -> None:
    """Record what came of sending ``page``, with its timeline line."""
    with db.transaction("record a page") as tx:
        tx.execute(
            "UPDATE pages SET status = ?, attempts = attempts + ?, error = ?, sent_at = ? WHERE id = ?",
            ("sent" if ok else "failed", attempts, error, now if ok else None, page.id),
        )
        kind = "page_sent" if ok else "page_failed"
        add_event(tx, page.incident_id, now, kind, detail, actor="runwell", event_id=f"ev_{page.id}")


def _page(row: Sequence[Any]) -> PageRow:
    pid, incident, level, target, channel, action, status, attempts, error, sent_at, created = row
    return PageRow(
        str(pid),
        str(incident),
        int(level),
        str(target),
        str(channel),
        str(action),
        str(status),
        int(attempts),
        error,
        None if sent_at is None else float(sent_at),
        float(created),
    )


def get_incident(db: Database, incident_id: str) -> Incident:
    """One incident; NotFoundError naming how to list them otherwise."""
    row = db.query_one(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?", (incident_id,), action="read an incident"
    )
    if row is None:
        raise NotFoundError(f"no incident {incident_id!r}; list them with `runwell incident list`")
    return Incident.from_row(row)


def list_incidents(
    db: Database,
    *,
    feature: str | None = None,
    state: str | None = None,
    since: float | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Incidents, newest first; ``state`` is ``open`` (not resolved), ``acknowledged`` or ``resolved``."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if feature is not None:
        where.append("feature = ?")
        params.append(feature)
    if state == "open":
        where.append("state <> 'resolved'")
    elif state is not None:
        where.append("state = ?")
        params.append(state)
    if since is not None:
        where.append("opened_at >= ?")
        params.append(since)
    rows = db.query(
        f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE {' AND '.join(where)} "
        "ORDER BY opened_at DESC LIMIT ?",
        (*params, limit),
        action="list incidents",
    )
    return [Incident.from_row(r) for r in rows]


def incident_events(db: Database, incident_id: str) -> list[IncidentEvent]:
    """The timeline, oldest first."""
    rows = db.query(
        "SELECT id, incident_id, at, kind, actor, detail FROM incident_events "
        "WHERE incident_id = ? ORDER BY at, id",
        (incident_id,),
        action="read an incident's timeline",
    )
    events = [
        IncidentEvent(str(r[0]), str(r[1]), float(r[2]), str(r[3]), r[4], _load(r[5]) or {}) for r in rows
    ]
    # Lines written in one transaction share a time: keep the order they happened in.
    return sorted(events, key=lambda e: (e.at, _RANK.get(e.kind, 9)))


def incident_pages(db: Database, incident_id: str) -> list[PageRow]:
    """The incident's pages, in the order they were queued."""
    rows = db.query(
        f"SELECT {_PAGE_COLUMNS} FROM pages WHERE incident_id = ? ORDER BY created_at, id",
        (incident_id,),
        action="read an incident's pages",
    )
    return [_page(r) for r in rows]

"""The evaluator: one pass over every alert rule, incident and escalation, run by the lease holder.

Each pass (every few seconds) covers the features whose ``operate/<feature>`` lease this replica
holds, so that every feature has exactly one evaluator even when replicas serve different sets:

1. reads the new change entries of the audit log (events and lever changes of every replica);
2. measures each rule (request records, scores, feedback, events), steps its state machine
   (:mod:`runwell.operate.states`) and stores it in ``alerts``;
3. on ``fire``: a page-severity rule opens or joins an incident, a ticket rule queues a ticket
   notification; on ``resolve``: the incident's timeline says so, a ticket is resolved;
4. escalates the incidents nobody acknowledged: the due steps of the on-call plan are queued as
   pages (the dispatcher sends them);
5. adds the lever changes (kill switch, guardrail overrides, flags, budgets, rollouts) made on an
   open incident's feature to its timeline;
6. queues answers for review from low quality scores and negative feedback;
7. lists post-incident reviews gone overdue, which the caller raises as events.

Everything here is synchronous database work: the gateway runs a pass in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from runwell.operate.channels import Channels
from runwell.operate.feed import ChangeFeed
from runwell.operate.incidents import (
    TICKET_PREFIX,
    add_event,
    due_escalations,
    list_incidents,
    open_or_join,
    queue_pages,
    queue_ticket,
)
from runwell.operate.measure import RecordMetrics
from runwell.operate.oncall_plan import OnCallPlan
from runwell.operate.review import queue_items, scan_signals
from runwell.operate.rules import Rule
from runwell.operate.states import AlertState, State, step
from runwell.spec.loader import LoadedSpec
from runwell.spec.operate import ReviewRules
from runwell.store import Database

__all__ = ["EVENT_METRICS", "LEVER_KINDS", "Evaluator", "FeatureOps", "Pass"]

_log = logging.getLogger("runwell.operate")

EVENT_METRICS: dict[str, tuple[str, ...]] = {
    "breaker_open": ("breaker_open",),
    "budget_alert": ("budget_alert",),
    "drift": ("drift",),
    "rollback": ("rollout_rolled_back", "rollout_rollback", "rollback"),
    "decay": ("decay_",),
}
"""Event metrics: the audit change kinds (or kind prefixes) each counts."""

LEVER_KINDS = (
    "kill_switch",
    "guardrail_switched",
    "flag_changed",
    "budget_changed",
    "spec_deployed",
    "rollout",
)
"""Change kinds (or prefixes) that belong on an incident's timeline."""

_REVIEW_OVERDUE_EVERY_S = 3600.0
_STATES: dict[str, State] = {"ok": "ok", "pending": "pending", "firing": "firing", "resolved": "resolved"}
_UPSERT_ALERT = (
    "INSERT INTO alerts (feature, name, state, since, last_value, last_eval_at, incident_id, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feature, name) DO UPDATE SET "
    "state = excluded.state, since = excluded.since, last_value = excluded.last_value, "
    "last_eval_at = excluded.last_eval_at, incident_id = excluded.incident_id, detail = excluded.detail"
)


@dataclass
class FeatureOps:
    """One feature's compiled operations: rules, on-call plan, channels and review rules."""

    loaded: LoadedSpec
    rules: list[Rule]
    plan: OnCallPlan
    channels: Channels
    review: ReviewRules
    ticket_channels: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The feature's name."""
        return self.loaded.name


@dataclass
class Pass:
    """What one pass did, for logs, events and tests."""

    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    pages_queued: int = 0
    overdue_reviews: list[dict[str, Any]] = field(default_factory=list)


def _matches(kind: str, kinds: Sequence[str]) -> bool:
    return any(kind == k or kind.startswith(k) for k in kinds)


class Evaluator:
    """Runs passes; see the module docstring."""

    def __init__(self, db: Database, features: Mapping[str, FeatureOps], feed: ChangeFeed) -> None:
        self._db = db
        self._features = features
        self._feed = feed
        self._metrics = RecordMetrics(db)
        self._timeline_seen: set[tuple[str, int]] = set()
        self._signals_since: float | None = None
        self._overdue_told: dict[str, float] = {}
        self._held: frozenset[str] = frozenset(features)

    def run(self, now: float, held: Collection[str] | None = None) -> Pass:
        """One pass at time ``now`` over the features this replica holds the lease of (``held``;
        all of them by default)."""
        done = Pass()
        self._held = frozenset(self._features if held is None else held) & frozenset(self._features)
        self._feed.poll(now)
        self._alerts(now, done)
        self._escalate(now, done)
        self._timelines(now)
        self._review_signals(now)
        self._overdue(now, done)
        return done

    # -- alerts -----------------------------------------------------------------------------------

    def _alerts(self, now: float, done: Pass) -> None:
        rows = self._db.query(
            "SELECT feature, name, state, since, incident_id, detail FROM alerts", action="read alert states"
        )
        stored = {(str(r[0]), str(r[1])): r for r in rows}
        writes: list[tuple[Any, ...]] = []
        for feature in self._features.values():
            if feature.name not in self._held:
                continue
            for rule in feature.rules:
                row = stored.get((feature.name, rule.name))
                detail = orjson.loads(row[5]) if row is not None and row[5] else {}
                prev = AlertState(
                    _STATES.get(str(row[2]), "ok") if row is not None else "ok",
                    None if row is None or row[3] is None else float(row[3]),
                    detail.get("clear_since"),
                )
                incident_id = None if row is None else row[4]
                try:
                    value, holds, facts = self._measure(rule, now)
                except Exception:  # one broken rule must not stop the others; it is logged
                    _log.exception("evaluating alert %s of %s failed", rule.name, feature.name)
                    continue
                state, transition = step(prev, holds, now, for_s=rule.for_s, keep_firing_s=rule.keep_firing_s)
                if transition == "fire":
                    done.fired.append(f"{feature.name}/{rule.name}")
                    incident_id = self._fire(feature, rule, value, facts, now, done)
                elif transition == "resolve":
                    done.resolved.append(f"{feature.name}/{rule.name}")
                    self._resolve(feature, rule, incident_id, prev, now)
                    incident_id = None
                stored_detail = {**facts, "clear_since": state.clear_since, "condition": rule.describe()}
                writes.append(
                    (feature.name, rule.name, state.state, state.since, value, now, incident_id,
                     orjson.dumps(stored_detail).decode())
                )  # fmt: skip
        with self._db.transaction("store alert states") as tx:
            for values in writes:
                tx.execute(_UPSERT_ALERT, values)
            for name in self._held:
                # A rule removed from the spec must not stay "firing" in /readyz for ever.
                rules = [r.name for r in self._features[name].rules]
                keep = f" AND name NOT IN ({', '.join('?' for _ in rules)})" if rules else ""
                tx.execute(f"DELETE FROM alerts WHERE feature = ?{keep}", (name, *rules))

    def _measure(self, rule: Rule, now: float) -> tuple[float | None, bool, dict[str, Any]]:
        """``(value, holds, facts)`` of one rule now."""
        if rule.slo is not None:
            ratios = {
                w: self._metrics.error_ratio(rule.feature, rule.slo, w, now, rule.min_requests)
                for w in rule.windows()
            }
            verdicts = rule.verdicts(ratios)
            budget = (100.0 - rule.slo.objective) / 100.0
            burns = [v.long_ratio / budget for v in verdicts if v.long_ratio is not None]
            facts = {
                "pairs": [
                    {
                        "pair": v.pair.label(),
                        "long": v.long_ratio,
                        "short": v.short_ratio,
                        "alerting": v.alerting,
                    }
                    for v in verdicts
                ]
            }
            return (max(burns) if burns else None), any(v.alerting for v in verdicts), facts
        assert rule.metric is not None
        kinds = EVENT_METRICS.get(rule.metric)
        if kinds is not None:
            since = now - rule.window_s
            count = len(
                self._feed.recent(feature=rule.feature, since=since, kinds=lambda k: _matches(k, kinds))
            )
            value: float | None = float(count)
        else:
            value = self._metrics.value(rule.feature, rule.metric, rule.window_s, now, rule.min_requests)
        return value, rule.holds(value), {}

    def _fire(
        self,
        feature: FeatureOps,
        rule: Rule,
        value: float | None,
        facts: dict[str, Any],
        now: float,
        done: Pass,
    ) -> str | None:
        detail = {"value": value, "condition": rule.describe(), "severity": rule.severity, **facts}
        if rule.severity == "ticket":
            target = f"{TICKET_PREFIX}{feature.name}:{rule.name}"
            done.pages_queued += queue_ticket(self._db, target, feature.ticket_channels, "trigger", now, now)
            return None
        drill = self._db.query_one(
            "SELECT id FROM drills WHERE feature = ? AND finished_at IS NULL "
            "ORDER BY started_at DESC LIMIT 1",
            (feature.name,),
            action="find a running drill",
        )
        incident_id, opened = open_or_join(
            self._db,
            feature=feature.name,
            failure_mode=rule.failure_mode or rule.name,
            severity=rule.incident_severity,
            title=rule.summary,
            runbook=rule.runbook,
            alert=rule.name,
            detail=detail,
            now=now,
            scenario={"drill": str(drill[0])} if drill is not None else None,
        )
        if opened:
            done.opened.append(incident_id)
        return incident_id

    def _resolve(
        self, feature: FeatureOps, rule: Rule, incident_id: Any, prev: AlertState, now: float
    ) -> None:
        if rule.severity == "ticket":
            target = f"{TICKET_PREFIX}{feature.name}:{rule.name}"
            queue_ticket(self._db, target, feature.ticket_channels, "resolve", prev.since or now, now)
            return
        if incident_id:
            with self._db.transaction("note a resolved alert") as tx:
                add_event(tx, str(incident_id), now, "alert_resolved", {"alert": rule.name}, actor="runwell")

    # -- escalation -------------------------------------------------------------------------------

    def _escalate(self, now: float, done: Pass) -> None:
        at = datetime.fromtimestamp(now, UTC)
        for incident in due_escalations(self._db, now):
            feature = self._features.get(incident.feature)
            if feature is None or feature.name not in self._held:
                continue
            plan: OnCallPlan = feature.plan
            fired = datetime.fromtimestamp(incident.opened_at, UTC)
            due = plan.pages(fired, at)
            pages = []
            notes: list[tuple[str, dict[str, Any], str]] = []
            for page in due:
                target = ", ".join(page.people) or "-"
                pages.append((page.step, page.level, target, plan.channels_of(page.level)))
                if page.step > 0:
                    notes.append(
                        ("escalated", {"level": page.level, "loop": page.loop, "target": target},
                         f"ev_{incident.id}_esc_{page.step}")
                    )  # fmt: skip
                if page.gaps:
                    notes.append(
                        ("oncall_gap", {"rotations": list(page.gaps), "level": page.level},
                         f"ev_{incident.id}_gap_{page.step}")
                    )  # fmt: skip
                if page.handoff_owners:
                    notes.append(
                        ("handoff_paged", {"owners": list(page.handoff_owners), "level": page.level},
                         f"ev_{incident.id}_handoff_{page.step}")
                    )  # fmt: skip
            following = plan.next_escalation(fired, at)
            level = due[-1].level if due else incident.escalation_level
            done.pages_queued += queue_pages(
                self._db,
                incident.id,
                pages,
                level=level,
                next_at=following.timestamp() if following is not None else None,
                now=now,
                notes=notes,
            )

    # -- timelines, reviews -----------------------------------------------------------------------

    def _timelines(self, now: float) -> None:
        incidents = [i for i in list_incidents(self._db, state="open", limit=200) if i.feature in self._held]
        open_ids = {i.id for i in incidents}
        self._timeline_seen = {k for k in self._timeline_seen if k[0] in open_ids}
        if not incidents:
            return
        with self._db.transaction("add lever changes to incident timelines") as tx:
            for incident in incidents:
                for change in self._feed.recent(
                    feature=incident.feature,
                    since=incident.opened_at - 300.0,
                    kinds=lambda kind: _matches(kind, LEVER_KINDS),
                ):
                    key = (incident.id, change.index)
                    if key in self._timeline_seen:
                        continue
                    self._timeline_seen.add(key)
                    detail = {
                        "kind": change.kind,
                        "subject": change.subject,
                        "reason": change.reason,
                        "before": change.before,
                        "after": change.after,
                        "audit_index": change.index,
                    }
                    add_event(
                        tx, incident.id, change.at, "lever", detail, actor=change.actor,
                        event_id=f"ev_{incident.id}_a{change.index}",
                    )  # fmt: skip

    def _review_signals(self, now: float) -> None:
        since = self._signals_since if self._signals_since is not None else now - 3600.0
        rules = {f.name: f.review for f in self._features.values() if f.name in self._held}
        found = scan_signals(self._db, rules, since, now)
        if found:
            queue_items(self._db, found)
        self._signals_since = now

    def _overdue(self, now: float, done: Pass) -> None:
        rows = self._db.query(
            "SELECT id, feature, review_due_at FROM incidents WHERE state = 'resolved' AND review_due_at < ? "
            "AND review_done_at IS NULL",
            (now,),
            action="find overdue reviews",
        )
        overdue = {str(r[0]) for r in rows}
        self._overdue_told = {k: v for k, v in self._overdue_told.items() if k in overdue}
        for incident_id, feature, due in rows:
            if str(feature) not in self._held:
                continue
            told = self._overdue_told.get(str(incident_id))
            if told is not None and now - told < _REVIEW_OVERDUE_EVERY_S:
                continue
            self._overdue_told[str(incident_id)] = now
            done.overdue_reviews.append(
                {
                    "feature": str(feature),
                    "incident": str(incident_id),
                    "due_at": float(due),
                    "subject": str(incident_id),
                }
            )

"""The gateway's side of a drill: arm a scenario for the drill's own requests, then disarm it.

A drill must hurt only its own traffic. Starting one pins a fresh user id (``runwell-drill-<id>``)
to the variant that reproduces the failure (the failure mode's ``drill.variant``, usually a
``sim`` provider scripted to fail the same way) through the feature's ``.variant`` flag, an audited
lever change like any other; every other user keeps the variant they had. Finishing restores the
flag as it was. The ``drills`` table keeps each run and its result.

A scenario is named by its failure mode (``provider-outage``), by what it simulates
(``outage``, ``slowness``, ``garbage``, ``cost_spike``), or by a resolved incident's id: then the
drill replays that incident's failed inputs through its failure mode's drill.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from runwell.audit.entries import pseudonymize_user
from runwell.audit.log import AuditLog
from runwell.control import levers
from runwell.control.flags import PIN_SUFFIX, pin_flag
from runwell.errors import ConfigError, NotFoundError
from runwell.operate.export import client_messages
from runwell.operate.incidents import get_incident
from runwell.spec.loader import LoadedSpec
from runwell.spec.operate import FailureMode
from runwell.store import Store

__all__ = ["DrillPlan", "finish_drill", "resolve_scenario", "start_drill"]

_STALE_S = 3600.0


@dataclass(frozen=True)
class DrillPlan:
    """What a started drill does, for the client that runs it."""

    id: str
    feature: str
    scenario: str
    failure_mode: str
    variant: str
    mitigation: str
    user: str
    runbook: str
    alerts: list[str]
    inputs: list[list[dict[str, Any]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "feature": self.feature,
            "scenario": self.scenario,
            "failure_mode": self.failure_mode,
            "variant": self.variant,
            "mitigation": self.mitigation,
            "user": self.user,
            "runbook": self.runbook,
            "alerts": self.alerts,
            "inputs": self.inputs,
        }


def resolve_scenario(
    store: Store, loaded: LoadedSpec, scenario: str
) -> tuple[FailureMode, list[list[dict[str, Any]]]]:
    """The failure mode a scenario names (with a drill), and the inputs to replay (empty unless the
    scenario is an incident)."""
    modes = loaded.spec.failure_modes
    inputs: list[list[dict[str, Any]]] = []
    mode = next((m for m in modes if m.name == scenario), None)
    if mode is None:
        mode = next((m for m in modes if m.drill is not None and m.drill.scenario == scenario), None)
    if mode is None and scenario.startswith("inc_"):
        incident = get_incident(store.db, scenario)
        if incident.feature != loaded.name:
            raise ConfigError(f"incident {scenario} belongs to {incident.feature}, not {loaded.name}")
        mode = next((m for m in modes if m.name == incident.failure_mode), None)
        if mode is None:
            raise ConfigError(
                f"incident {scenario}'s failure mode {incident.failure_mode!r} is not in {loaded.path}'s "
                "failure_modes; a drill replays a failure mode's drill"
            )
        for request_id in incident.scenario.get("inputs", []):
            record = store.get_record(request_id)
            if record is not None and record.prompt:
                inputs.append(client_messages(record.prompt, loaded.prompts.get(record.variant or "")))
    if mode is None:
        drillable = [m.name for m in modes if m.drill is not None]
        raise NotFoundError(
            f"no scenario {scenario!r} for {loaded.name}: name a failure mode with a drill "
            f"({', '.join(drillable) or 'none has a drill: add failure_modes[].drill'}), a scenario "
            "(outage, slowness, garbage, cost_spike) or a resolved incident's id"
        )
    if mode.drill is None:
        raise ConfigError(
            f"failure mode {mode.name!r} has no drill; add drill: {{scenario: outage, variant: VARIANT}} "
            "naming a variant that reproduces it"
        )
    if mode.drill.variant not in loaded.spec.variants:
        raise ConfigError(
            f"failure mode {mode.name!r}: drill variant {mode.drill.variant!r} is not a variant of "
            f"{loaded.name} ({', '.join(loaded.spec.variants)})"
        )
    return mode, inputs


def start_drill(
    store: Store,
    log: AuditLog,
    loaded: LoadedSpec,
    scenario: str,
    *,
    actor: str,
    user_hash_key: bytes,
    clock: Callable[[], float] = time.time,
) -> DrillPlan:
    """Arm ``scenario`` for a fresh drill user and record the drill (see the module docstring)."""
    mode, inputs = resolve_scenario(store, loaded, scenario)
    assert mode.drill is not None
    db = store.db
    running = db.query_one(
        "SELECT id, started_at FROM drills WHERE feature = ? AND finished_at IS NULL "
        "ORDER BY started_at DESC",
        (loaded.name,),
        action="find a running drill",
    )
    now = clock()
    if running is not None and now - float(running[1]) < _STALE_S:
        raise ConfigError(f"drill {running[0]} is still running on {loaded.name}; wait for it or finish it")
    busy = db.query_one(
        "SELECT id FROM incidents WHERE feature = ? AND failure_mode = ? AND state <> 'resolved'",
        (loaded.name, mode.name),
        action="find an open incident",
    )
    if busy is not None:
        raise ConfigError(
            f"incident {busy[0]} ({mode.name}) is open on {loaded.name}: a drill would join it instead of "
            "showing its own detection; resolve it first"
        )
    drill_id = "drl_" + os.urandom(5).hex()
    user = f"runwell-drill-{drill_id}"
    key = pseudonymize_user(user, user_hash_key) if loaded.spec.user_id.hash else user
    flag = loaded.name + PIN_SUFFIX
    before = next((r.value for r in levers.list_levers(db) if r.kind == "flag" and r.subject == flag), None)
    definition = pin_flag(before, mode.drill.variant, [key]).to_dict()
    levers.set_flag(log, flag, definition, actor=actor, reason=f"drill {drill_id}: {mode.name}")
    with db.transaction("record a drill") as tx:
        tx.execute(
            "INSERT INTO drills (id, feature, scenario, started_at, result) VALUES (?, ?, ?, ?, ?)",
            (drill_id, loaded.name, scenario, now, orjson.dumps({"flag_before": before}).decode()),
        )
    alerts = [a.name for a in loaded.spec.alerts if a.failure_mode == mode.name]
    return DrillPlan(
        drill_id, loaded.name, scenario, mode.name, mode.drill.variant, mode.drill.mitigation, user,
        mode.runbook, alerts, inputs,
    )  # fmt: skip


def finish_drill(
    store: Store,
    log: AuditLog,
    drill_id: str,
    *,
    passed: bool,
    result: dict[str, Any],
    actor: str,
    clock: Callable[[], float] = time.time,
) -> None:
    """Disarm the drill (the ``.variant`` flag back as it was) and store its result."""
    db = store.db
    row = db.query_one(
        "SELECT feature, result, finished_at FROM drills WHERE id = ?", (drill_id,), action="read a drill"
    )
    if row is None:
        raise NotFoundError(f"no drill {drill_id!r}")
    feature, stored, finished = str(row[0]), orjson.loads(row[1] or "{}"), row[2]
    if finished is None:
        levers.set_flag(
            log,
            feature + PIN_SUFFIX,
            stored.get("flag_before"),
            actor=actor,
            reason=f"drill {drill_id} finished",
        )
    with db.transaction("record a drill's result") as tx:
        tx.execute(
            "UPDATE drills SET finished_at = ?, passed = ?, result = ? WHERE id = ?",
            (clock(), passed, orjson.dumps({**stored, **result}).decode(), drill_id),
        )

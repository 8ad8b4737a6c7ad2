"""The operator's levers: kill switch, guardrail overrides, flags and budget changes.

Each lever that is not at its default is one row of the ``levers`` table: ``(kind, subject)`` with a
JSON value, who set it, why, and until when. Every change goes through
:func:`runwell.audit.open.change_state`, so the row and its signed audit entry are stored in one
transaction (or neither), and asking for the state a lever already has records nothing. Every change
also bumps ``lever_version``, which each gateway replica polls (:class:`LeverCache`), so a lever
reaches every replica sharing the database within the poll period.

A guardrail override must carry a reason and an expiry: a guardrail can be switched off, never
quietly. When the expiry passes, :func:`expire` switches it back on, audited as well; across replicas
only the one whose delete removes the row records it.

=================  ==================  ==============================  =============================
kind               subject             value                           audit change kind
=================  ==================  ==============================  =============================
``kill``           feature, or         ``{"killed": true}``            ``kill_switch``
                   ``feature@variant``
``guardrail_off``  ``feature:name``    ``{"off": true}``               ``guardrail_switched``
``flag``           flag key            the flag definition (JSON)      ``flag_changed``
``budget``         ``feature:limit``   ``{"limit": number}``           ``budget_changed``
=================  ==================  ==============================  =============================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from runwell.audit.log import AuditLog
from runwell.audit.open import StateChange, change_state
from runwell.errors import ConfigError
from runwell.spec.protection import SCOPE_LIMIT_NAMES
from runwell.store import Database, Tx

__all__ = [
    "BUDGET_LIMITS",
    "GUARDRAIL_NAMES",
    "LeverCache",
    "LeverKind",
    "LeverRow",
    "Levers",
    "expire",
    "kill",
    "known_features",
    "list_levers",
    "set_budget",
    "set_flag",
    "switch_guardrail",
    "unkill",
]

LeverKind = Literal["kill", "guardrail_off", "flag", "budget"]

GUARDRAIL_NAMES = (
    "pii_redaction",
    "injection_check",
    "max_input_chars",
    "output_schema",
    "banned_patterns",
    "output_pii",
)
"""The guardrails an operator can switch off for a while (the keys of a spec's ``guardrails``)."""

BUDGET_LIMITS = SCOPE_LIMIT_NAMES
"""The feature-wide limits an operator can change at run time (the keys of a spec's ``budgets``)."""

_AUDIT_KIND = {
    "kill": "kill_switch",
    "guardrail_off": "guardrail_switched",
    "flag": "flag_changed",
    "budget": "budget_changed",
}
_COLUMNS = "kind, subject, value, actor, reason, until, updated_at"
MAX_OVERRIDE_S = 7 * 86_400
"""The longest a guardrail may be switched off in one go (a week): overrides are temporary."""


@dataclass(frozen=True, slots=True)
class LeverRow:
    """One lever away from its default."""

    kind: str
    subject: str
    value: Any
    actor: str
    reason: str
    until: float | None
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        """The row for JSON output."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "value": self.value,
            "actor": self.actor,
            "reason": self.reason,
            "until": self.until,
            "updated_at": self.updated_at,
        }


def _row(values: tuple[Any, ...]) -> LeverRow:
    kind, subject, value, actor, reason, until, updated = values
    return LeverRow(kind, subject, orjson.loads(value), actor, reason, until, float(updated))


def _current(tx: Tx, kind: str, subject: str) -> LeverRow | None:
    found = tx.query_one(f"SELECT {_COLUMNS} FROM levers WHERE kind = ? AND subject = ?", (kind, subject))
    return None if found is None else _row(found)


def _bump(tx: Tx) -> None:
    tx.execute("UPDATE lever_version SET version = version + 1 WHERE id = 1")


def _put(tx: Tx, kind: str, subject: str, value: Any, actor: str, reason: str, until: float | None) -> None:
    tx.execute("DELETE FROM levers WHERE kind = ? AND subject = ?", (kind, subject))
    tx.execute(
        f"INSERT INTO levers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kind, subject, orjson.dumps(value).decode(), actor, reason, until, time.time()),
    )
    _bump(tx)


def _delete(tx: Tx, kind: str, subject: str) -> bool:
    removed = tx.execute("DELETE FROM levers WHERE kind = ? AND subject = ?", (kind, subject))
    if removed:
        _bump(tx)
    return removed > 0


def _require_reason(reason: str, what: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise ConfigError(f'{what} needs a reason (--reason "..."): it goes into the signed audit log')
    return cleaned


def kill(log: AuditLog, feature: str, *, variant: str | None = None, actor: str, reason: str) -> bool:
    """Switch a feature (or one variant) off: it answers with its degradation response.

    Returns whether anything changed (killing a killed feature records nothing).
    """
    subject = feature if variant is None else f"{feature}@{variant}"
    reason = _require_reason(reason, "the kill switch")

    def apply(tx: Tx) -> StateChange | None:
        if _current(tx, "kill", subject) is not None:
            return None
        _put(tx, "kill", subject, {"killed": True}, actor, reason, None)
        return StateChange({"killed": False}, {"killed": True})

    return (
        change_state(log, kind="kill_switch", subject=subject, actor=actor, reason=reason, apply=apply)
        is not None
    )


def unkill(log: AuditLog, feature: str, *, variant: str | None = None, actor: str, reason: str) -> bool:
    """Switch a killed feature (or variant) back on; returns whether it was killed."""
    subject = feature if variant is None else f"{feature}@{variant}"
    reason = _require_reason(reason, "turning the kill switch off")

    def apply(tx: Tx) -> StateChange | None:
        if not _delete(tx, "kill", subject):
            return None
        return StateChange({"killed": True}, {"killed": False})

    return (
        change_state(log, kind="kill_switch", subject=subject, actor=actor, reason=reason, apply=apply)
        is not None
    )


def switch_guardrail(
    log: AuditLog,
    feature: str,
    name: str,
    *,
    on: bool,
    actor: str,
    reason: str,
    for_s: float | None = None,
    now: Callable[[], float] = time.time,
) -> bool:
    """Switch one guardrail of a feature off for ``for_s`` seconds, or back on; returns whether it changed.

    Off needs a reason and a duration (at most :data:`MAX_OVERRIDE_S`): a guardrail never relaxes
    silently or for good. Raises ConfigError otherwise.
    """
    if name not in GUARDRAIL_NAMES:
        raise ConfigError(f"no guardrail {name!r}; the guardrails are {', '.join(GUARDRAIL_NAMES)}")
    reason = _require_reason(reason, "switching a guardrail")
    subject = f"{feature}:{name}"
    until: float | None = None
    if not on:
        if for_s is None or for_s <= 0:
            raise ConfigError(
                "switching a guardrail off needs an expiry (--for 2h): it switches itself back on then"
            )
        if for_s > MAX_OVERRIDE_S:
            raise ConfigError(f"a guardrail can be switched off for at most 7 days at a time, not {for_s:g}s")
        until = now() + for_s

    def apply(tx: Tx) -> StateChange | None:
        current = _current(tx, "guardrail_off", subject)
        if on:
            if current is None or not _delete(tx, "guardrail_off", subject):
                return None
            return StateChange({"on": False, "until": current.until}, {"on": True})
        _put(tx, "guardrail_off", subject, {"off": True}, actor, reason, until)
        before = {"on": True} if current is None else {"on": False, "until": current.until}
        return StateChange(before, {"on": False, "until": until})

    index = change_state(
        log, kind="guardrail_switched", subject=subject, actor=actor, reason=reason, apply=apply
    )
    return index is not None


def set_flag(
    log: AuditLog, key: str, definition: Mapping[str, Any] | None, *, actor: str, reason: str
) -> bool:
    """Store a flag definition (``None`` deletes it); returns whether it changed."""
    reason = _require_reason(reason, "a flag change")

    def apply(tx: Tx) -> StateChange | None:
        current = _current(tx, "flag", key)
        before = None if current is None else current.value
        after = None if definition is None else dict(definition)
        if before == after:
            return None
        if after is None:
            _delete(tx, "flag", key)
        else:
            _put(tx, "flag", key, after, actor, reason, None)
        return StateChange(before, after)

    return (
        change_state(log, kind="flag_changed", subject=key, actor=actor, reason=reason, apply=apply)
        is not None
    )


def set_budget(
    log: AuditLog,
    feature: str,
    limit: str,
    value: float | None,
    *,
    actor: str,
    reason: str,
    for_s: float | None = None,
    now: Callable[[], float] = time.time,
) -> bool:
    """Override one budget limit of a feature (``None``: back to the spec); returns whether it changed."""
    if limit not in BUDGET_LIMITS:
        raise ConfigError(f"no budget limit {limit!r}; the limits are {', '.join(BUDGET_LIMITS)}")
    if value is not None and not value > 0:
        raise ConfigError(f"a budget limit must be a positive number, got {value!r}")
    whole = limit.endswith("_tokens") or limit == "requests_per_minute"
    if whole and value is not None and value != int(value):
        raise ConfigError(f"{limit} counts whole units, got {value!r}")
    reason = _require_reason(reason, "a budget change")
    subject = f"{feature}:{limit}"
    until = None if for_s is None else now() + for_s

    def apply(tx: Tx) -> StateChange | None:
        current = _current(tx, "budget", subject)
        before = None if current is None else current.value.get("limit")
        if value is None:
            if current is None or not _delete(tx, "budget", subject):
                return None
            return StateChange({"limit": before}, {"limit": "spec"})
        if before == value and current is not None and current.until == until:
            return None
        _put(tx, "budget", subject, {"limit": value}, actor, reason, until)
        return StateChange(
            {"limit": before if current is not None else "spec"}, {"limit": value, "until": until}
        )

    return (
        change_state(log, kind="budget_changed", subject=subject, actor=actor, reason=reason, apply=apply)
        is not None
    )


def expire(log: AuditLog, db: Database, *, now: float | None = None) -> list[str]:
    """Switch back every lever whose ``until`` has passed; returns the subjects switched back.

    Each one is its own audited change with actor ``runwell`` and the reason "expired". Safe to run
    on every replica at once: a row can be deleted only once, and only that delete is recorded.
    """
    moment = time.time() if now is None else now
    due = db.query(
        "SELECT kind, subject, until FROM levers WHERE until IS NOT NULL AND until <= ?",
        (moment,),
        action="find expired overrides",
    )
    switched: list[str] = []
    for kind, subject, until in due:

        def apply(
            tx: Tx, kind: str = kind, subject: str = subject, until: float = until
        ) -> StateChange | None:
            if not _delete(tx, kind, subject):
                return None  # another replica switched it back first
            if kind == "guardrail_off":
                return StateChange({"on": False, "until": until}, {"on": True})
            return StateChange({"until": until}, {"expired": True})

        audit_kind = _AUDIT_KIND.get(kind, "lever_expired")
        index = change_state(
            log, kind=audit_kind, subject=subject, actor="runwell", reason="expired", apply=apply
        )
        if index is not None:
            switched.append(f"{kind}:{subject}")
    return switched


def known_features(db: Database) -> list[str]:
    """The features a gateway has served from this database (each has a ``spec_deployed`` change)."""
    prefix = "change:spec_deployed:"
    rows = db.query(
        "SELECT DISTINCT request_id FROM audit_entries WHERE request_id LIKE ?",
        (prefix + "%",),
        action="list the deployed features",
    )
    return sorted(str(r[0])[len(prefix) :] for r in rows)


def list_levers(db: Database) -> list[LeverRow]:
    """Every lever away from its default."""
    rows = db.query(f"SELECT {_COLUMNS} FROM levers ORDER BY kind, subject", action="list levers")
    return [_row(r) for r in rows]


@dataclass(frozen=True)
class Levers:
    """A snapshot of every lever, as the request path reads it (dict and set look-ups only)."""

    version: int = -1
    killed: frozenset[str] = frozenset()
    """Killed features and ``feature@variant`` subjects."""
    guardrails_off: Mapping[tuple[str, str], float] = field(default_factory=dict)
    """``(feature, guardrail) -> until``."""
    flags: Mapping[str, Any] = field(default_factory=dict)
    budgets: Mapping[tuple[str, str], float] = field(default_factory=dict)
    """``(feature, limit) -> value`` overriding the spec."""

    @classmethod
    def from_rows(cls, version: int, rows: list[LeverRow]) -> Levers:
        """Build the snapshot from the table's rows."""
        killed: set[str] = set()
        guardrails: dict[tuple[str, str], float] = {}
        flags: dict[str, Any] = {}
        budgets: dict[tuple[str, str], float] = {}
        for row in rows:
            if row.kind == "kill":
                killed.add(row.subject)
            elif row.kind == "guardrail_off":
                feature, _, name = row.subject.partition(":")
                guardrails[(feature, name)] = row.until if row.until is not None else float("inf")
            elif row.kind == "flag":
                flags[row.subject] = row.value
            elif row.kind == "budget":
                feature, _, limit = row.subject.partition(":")
                budgets[(feature, limit)] = float(row.value["limit"])
        return cls(version, frozenset(killed), guardrails, flags, budgets)

    def is_killed(self, feature: str, variant: str | None = None) -> bool:
        """Whether the feature, or this variant of it, is switched off."""
        return feature in self.killed or (variant is not None and f"{feature}@{variant}" in self.killed)

    def guardrail_off(self, feature: str, name: str, now: float) -> bool:
        """Whether an operator has this guardrail switched off right now."""
        until = self.guardrails_off.get((feature, name))
        return until is not None and now < until


class LeverCache:
    """The current :class:`Levers`, reloaded when ``lever_version`` changes (call :meth:`refresh`
    from a background job, in a worker thread: it reads the database)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.current = Levers()

    def refresh(self) -> bool:
        """Reload if another change was made; returns whether the snapshot changed."""
        row = self._db.query_one(
            "SELECT version FROM lever_version WHERE id = 1", action="read the lever version"
        )
        version = int(row[0]) if row else 0
        if version == self.current.version:
            return False
        self.current = Levers.from_rows(version, list_levers(self._db))
        return True

"""Each feature's live experiment state, in the ``rollouts`` table: the rollout and the serving version.

One row per feature. Its ``state`` column holds a JSON document::

    {"schema": 1,
     "rollout":  Rollout.to_dict() or null,      # runwell.rollout.policy: step, split, window
     "serving":  {"variant", "prompt_version", "model", "since"} or null,
     "previous": {"variant", "prompt_version", "model", "since", "until"} or null}

``serving`` and ``previous`` are what the always-on rule compares: the version that serves now and
the one it replaced. The ``version`` column grows by one per write, and every write is a
compare-and-set on it, so two replicas (or a replica and the CLI) never both move the same rollout:
the second finds the row changed, reads it again and decides afresh.

Every change of a rollout goes through :func:`change_rollout`: the row, its line in
``rollout_events`` (the history ``rollout explain`` prints) and a signed audit entry of kind
``rollout_step`` are written in one transaction, or none of them. Bookkeeping that moves no traffic
(which version serves, noted after a spec deploy that is itself audited; a judged look that held)
is written by :func:`note_serving` and :func:`record_look` without an audit entry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from runwell.audit.entries import ChangeEntry, format_time
from runwell.audit.log import AuditLog
from runwell.errors import ConfigError, StoreConflict
from runwell.rollout.policy import Rollout, RolloutEvent, Transition
from runwell.rollout.strategy import ShadowStrategy
from runwell.store import Database, Tx

__all__ = [
    "AUDIT_KIND",
    "Change",
    "FeatureState",
    "Version",
    "change_rollout",
    "load_state",
    "load_states",
    "new_rollout_id",
    "note_serving",
    "read_versions",
    "record_look",
    "serving_variant",
]

AUDIT_KIND = "rollout_step"
"""The audit change kind of every rollout transition."""

_SCHEMA = 1
_RETRIES = 5


@dataclass(frozen=True, slots=True)
class Version:
    """A servable version of a feature: the variant, its prompt version and model, and when it
    started (``since``) and stopped (``until``) serving."""

    variant: str
    prompt_version: str | None
    model: str | None
    since: float
    until: float | None = None

    def same(self, other: Version) -> bool:
        """Whether both name the same variant, prompt version and model (times aside)."""
        return (self.variant, self.prompt_version, self.model) == (
            other.variant,
            other.prompt_version,
            other.model,
        )

    def label(self) -> str:
        """``variant (prompt vN, model M)``, for messages."""
        return f"{self.variant} (prompt {self.prompt_version}, model {self.model})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "variant": self.variant,
            "prompt_version": self.prompt_version,
            "model": self.model,
            "since": self.since,
            "until": self.until,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Version:
        """Inverse of :meth:`to_dict`."""
        return cls(
            data["variant"], data.get("prompt_version"), data.get("model"), data["since"], data.get("until")
        )


@dataclass(frozen=True, slots=True)
class FeatureState:
    """One feature's row: ``version`` is the row's compare-and-set counter (0: no row yet)."""

    feature: str
    version: int = 0
    rollout: Rollout | None = None
    serving: Version | None = None
    previous: Version | None = None
    updated_at: float | None = None

    def document(self) -> dict[str, Any]:
        """The ``state`` column's JSON document."""
        return {
            "schema": _SCHEMA,
            "rollout": None if self.rollout is None else self.rollout.to_dict(),
            "serving": None if self.serving is None else self.serving.to_dict(),
            "previous": None if self.previous is None else self.previous.to_dict(),
        }

    @classmethod
    def from_row(cls, feature: str, state: str, version: int, updated_at: float) -> FeatureState:
        """Read a row; ConfigError when its document is of another schema."""
        data = orjson.loads(state)
        if data.get("schema") != _SCHEMA:
            raise ConfigError(
                f"the rollout state of {feature!r} has schema {data.get('schema')!r}, this runwell reads "
                f"schema {_SCHEMA}; upgrade runwell"
            )
        rollout = data.get("rollout")
        serving, previous = data.get("serving"), data.get("previous")
        return cls(
            feature=feature,
            version=int(version),
            rollout=None if rollout is None else Rollout.from_dict(rollout),
            serving=None if serving is None else Version.from_dict(serving),
            previous=None if previous is None else Version.from_dict(previous),
            updated_at=float(updated_at),
        )

    def describe(self) -> dict[str, Any]:
        """What ``/readyz``, ``rollout status`` and the admin API show."""
        rollout = self.rollout
        out: dict[str, Any] = {
            "serving": None if self.serving is None else self.serving.to_dict(),
            "previous": None if self.previous is None else self.previous.to_dict(),
        }
        if rollout is None:
            return {"state": "none", **out}
        return {
            "state": rollout.state,
            "rollout_id": rollout.rollout_id,
            "strategy": rollout.strategy.to_dict(),
            "baseline": rollout.baseline,
            "candidate": rollout.candidate,
            "step": rollout.step,
            "candidate_percent": rollout.candidate_percent,
            "mirror_rate": rollout.mirror_rate,
            "window_start": rollout.window_start,
            "window_end": rollout.window_end if rollout.state == "running" else None,
            "extensions": rollout.extensions,
            "started_at": rollout.started_at,
            "updated_at": rollout.updated_at,
            **out,
        }


def serving_variant(state: FeatureState | None, spec_default: str) -> str:
    """The variant that serves requests outside a rollout's arms: the spec's default, unless a
    promotion (or a rollback by the always-on rule) took over while that default was in force."""
    rollout = None if state is None else state.rollout
    if rollout is None or rollout.state == "pending":
        return spec_default
    if rollout.state in ("running", "paused"):
        return rollout.baseline
    if rollout.state == "promoted":
        # A promoted shadow only cleared the candidate for a canary: nothing moved.
        moved = not isinstance(rollout.strategy, ShadowStrategy)
        return rollout.candidate if moved and spec_default == rollout.baseline else spec_default
    # Rolled back or aborted: the baseline, while the spec still serves one of the two (a spec
    # deployed since with another default is a person's newer decision).
    return rollout.baseline if spec_default in (rollout.baseline, rollout.candidate) else spec_default


def new_rollout_id(feature: str, now: float) -> str:
    """A readable, unique rollout id: ``feature-YYYYmmddHHMMSS-xxxx``."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    return f"{feature}-{stamp}-{os.urandom(2).hex()}"


_SELECT = "SELECT feature, state, version, updated_at FROM rollouts"


def load_state(db: Database | Tx, feature: str) -> FeatureState:
    """The feature's state (an empty one, version 0, when it has no row)."""
    sql = _SELECT + " WHERE feature = ?"
    if isinstance(db, Database):
        row = db.query_one(sql, (feature,), action=f"read the rollout state of {feature}")
    else:
        row = db.query_one(sql, (feature,))
    return FeatureState(feature) if row is None else FeatureState.from_row(*row)


def load_states(db: Database, features: list[str] | None = None) -> dict[str, FeatureState]:
    """Every feature's state (or only ``features``')."""
    rows = db.query(_SELECT + " ORDER BY feature", action="read the rollout states")
    states = {str(r[0]): FeatureState.from_row(*r) for r in rows}
    return states if features is None else {f: s for f, s in states.items() if f in features}


def read_versions(db: Database) -> dict[str, int]:
    """Each feature's row version (the poller's cheap check)."""
    rows = db.query("SELECT feature, version FROM rollouts", action="read the rollout versions")
    return {str(f): int(v) for f, v in rows}


def _write(tx: Tx, before: FeatureState, after: FeatureState, now: float) -> bool:
    """Compare-and-set the row; False when another writer got there first."""
    document = orjson.dumps(after.document()).decode()
    if before.version == 0:
        try:
            tx.execute(
                "INSERT INTO rollouts (feature, state, version, updated_at) VALUES (?, ?, ?, ?)",
                (after.feature, document, 1, now),
            )
        except StoreConflict:
            return False
        return True
    changed = tx.execute(
        "UPDATE rollouts SET state = ?, version = ?, updated_at = ? WHERE feature = ? AND version = ?",
        (document, before.version + 1, now, after.feature, before.version),
    )
    return changed == 1


def _event_row(tx: Tx, feature: str, event: RolloutEvent, extra: Mapping[str, Any] | None) -> None:
    evidence = {"event": event.to_dict(), **(extra or {})}
    tx.execute(
        "INSERT INTO rollout_events (id, feature, rollout_id, at, kind, from_state, to_state, actor, reason, "
        "evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            os.urandom(12).hex(),
            feature,
            event.rollout_id,
            event.at,
            event.action,
            event.from_state,
            event.to_state,
            event.actor,
            event.reason,
            orjson.dumps(evidence).decode(),
        ),
    )


@dataclass(frozen=True, slots=True)
class Change:
    """What a caller wants a rollout to become: the transition, the feature state after it, and
    extra evidence for the history (the window judged, the candidate's request count)."""

    transition: Transition
    after: FeatureState
    extra: Mapping[str, Any] | None = None


def _summary(rollout: Rollout) -> dict[str, Any]:
    return {
        "rollout_id": rollout.rollout_id,
        "state": rollout.state,
        "candidate": rollout.candidate,
        "baseline": rollout.baseline,
        "step": rollout.step,
        "candidate_percent": rollout.candidate_percent,
    }


def _audited_after(change: Change) -> dict[str, Any]:
    """The audit entry's ``after``: the new state and, for a verdict, each metric's numbers."""
    after = _summary(change.transition.rollout)
    evidence = change.transition.event.evidence
    if evidence is not None:
        after["verdict"] = evidence["verdict"]
        after["score"] = evidence["score"]
        after["metrics"] = [
            {
                "name": m["name"],
                "verdict": m["verdict"],
                "critical": m["critical"],
                "baseline": m["baseline_level"],
                "candidate": m["candidate_level"],
                "estimate": m["estimate"],
                "ci": [m["ci_low"], m["ci_high"]],
                "p_value": m["p_value"],
                "tolerance": m["threshold"],
                "n": [m["baseline_n"], m["candidate_n"]],
            }
            for m in evidence["metrics"]
        ]
    return after


def change_rollout(
    log: AuditLog,
    feature: str,
    decide: Callable[[FeatureState], Change | None],
    *,
    actor: str,
    clock: Callable[[], float] = time.time,
) -> Change | None:
    """Apply ``decide``'s change to the feature's rollout, audited, in one transaction.

    ``decide`` receives the state as stored right now and returns the change, or ``None`` when
    there is nothing to do (then nothing is written). It may raise ConfigError (an illegal
    transition), which reaches the caller unchanged. When another writer moved the row meanwhile,
    ``decide`` runs again on the fresh state (up to five times). The audit entry (kind
    ``rollout_step``, subject the feature) carries the transition's reason, the state before and
    after, and for a verdict each metric's numbers. Returns the change made.
    """
    made: list[Change] = []
    lost: list[bool] = []

    def apply(tx: Tx) -> ChangeEntry | None:
        # May run more than once (the audit log retries on a sequence conflict): start clean.
        made.clear()
        lost.clear()
        before = load_state(tx, feature)
        change = decide(before)
        if change is None:
            return None
        now = clock()
        if not _write(tx, before, change.after, now):
            lost.append(True)
            return None
        _event_row(tx, feature, change.transition.event, change.extra)
        made.append(change)
        return ChangeEntry(
            time=format_time(now),
            kind=AUDIT_KIND,
            actor=actor,
            subject=feature,
            reason=change.transition.event.reason,
            before=None if before.rollout is None else _summary(before.rollout),
            after=_audited_after(change),
        )

    for _ in range(_RETRIES):
        log.append_change(apply)
        if made:
            return made[0]
        if not lost:
            return None
    raise StoreConflict(
        f"the rollout state of {feature} kept changing under this writer ({_RETRIES} tries); try again"
    )


def note_serving(
    db: Database, feature: str, decide: Callable[[FeatureState], FeatureState | None], *, now: float
) -> FeatureState | None:
    """Bookkeeping that moves no traffic (which version serves now), compare-and-set, not audited:
    it follows a spec deploy or a promotion, each audited already. Returns the state written."""
    for _ in range(_RETRIES):
        with db.transaction(f"note the serving version of {feature}") as tx:
            before = load_state(tx, feature)
            after = decide(before)
            if after is None:
                return None
            if _write(tx, before, after, now):
                return after
    return None


def record_look(db: Database, feature: str, event: RolloutEvent, extra: Mapping[str, Any]) -> None:
    """Keep a judged look that held (nothing changed) in the rollout's history."""
    with db.transaction(f"record a rollout look of {feature}") as tx:
        _event_row(tx, feature, event, extra)

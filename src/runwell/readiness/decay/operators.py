"""Operators drift: the people and papers that run the feature fall behind it.

- runbooks unchanged while the spec and prompts they describe changed (git log);
- drills overdue;
- escalation targets that never acknowledged a page (the ``pages`` and ``incidents`` tables);
- people still paged who are no longer in the rotation, and members who left it (spec history);
- post-incident reviews past due.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from runwell.readiness import git
from runwell.readiness.context import Thresholds
from runwell.readiness.decay.model import Signal, SignalStatus

if TYPE_CHECKING:
    from runwell.spec.loader import LoadedSpec
    from runwell.store import Database

__all__ = ["drills_signal", "never_acked", "operators", "reviews_signal"]

_DAY = 86400.0
_M = "operators"
_KEYWORDS = {"oncall", "owners"}


def _runbooks(loaded: LoadedSpec, now: float, limits: Thresholds) -> Signal:
    check = "runbooks kept up with the spec"
    described = [loaded.path, *(loaded.base_dir / v.prompt.file for v in loaded.spec.variants.values())]
    stale = []
    worst = 0.0
    for mode in loaded.spec.failure_modes:
        path = loaded.base_dir / mode.runbook
        commit = git.last_commit(path) if path.is_file() else None
        if commit is None:
            continue
        after = git.changed_since(described, commit, loaded.base_dir)
        if after:
            lag = (now - min(t for t, _, _ in after)) / _DAY
            worst = max(worst, lag)
            stale.append(
                f"{mode.runbook} ({len(after)} spec/prompt commits since, the first {lag:.0f} days ago)"
            )
    if git.repo_root(loaded.path) is None:
        return Signal(_M, check, "n/a", "the spec is not in git: no history to compare.")
    if not stale:
        return Signal(_M, check, "ok", "no spec or prompt commit after its runbooks' last change.")
    status: SignalStatus = "bad" if worst > limits.runbook_lag_days else "warn"
    return Signal(
        _M,
        check,
        status,
        "; ".join(stale),
        "reread each runbook against the current spec; commit the update (even a date)",
    )


def drills_signal(db: Database, feature: str, now: float, limits: Thresholds) -> Signal:
    row = db.query_one(
        "SELECT max(started_at) FROM drills WHERE feature = ? AND passed = ?",
        (feature, True),
        action="find the last passed drill",
    )
    last = None if row is None or row[0] is None else float(row[0])
    fix = f"runwell drill {feature} FAILURE_MODE --gateway URL"
    if last is None:
        return Signal(_M, "drills", "bad", "no drill has ever passed.", fix)
    days = (now - last) / _DAY
    status: SignalStatus = (
        "bad" if days > limits.drill_days else "warn" if days > limits.drill_days * 0.75 else "ok"
    )
    return Signal(
        _M, "drills", status, f"last passed drill {days:.0f} days ago (due every {limits.drill_days:g}).", fix
    )


def never_acked(db: Database, feature: str) -> Signal:
    rows = db.query(
        "SELECT p.target, p.incident_id, i.acked_by FROM pages p JOIN incidents i ON i.id = p.incident_id "
        "WHERE i.feature = ? AND p.status = 'sent' AND p.action = 'trigger'",
        (feature,),
        action="read who was paged",
    )
    paged: dict[str, set[str]] = {}
    acked: set[str] = set()
    for target, incident, by in rows:
        name = str(target)
        paged.setdefault(name, set()).add(str(incident))
        who = str(by or "").lower()
        if who and (name.lower() in who or who.split(":")[-1] in name.lower()):
            acked.add(name)
    silent = {t: len(i) for t, i in paged.items() if t not in acked}
    if not paged:
        return Signal(_M, "escalation targets that acknowledge", "n/a", "nobody has been paged yet.")
    if not silent:
        return Signal(
            _M, "escalation targets that acknowledge", "ok", f"all {len(paged)} paged targets acknowledged."
        )
    status: SignalStatus = "bad" if max(silent.values()) >= 2 else "warn"
    detail = ", ".join(f"{t} ({n} incidents)" for t, n in sorted(silent.items()))
    return Signal(
        _M,
        "escalation targets that acknowledge",
        status,
        f"never acknowledged a page: {detail}.",
        "check their contact and channel, or replace them in oncall.escalation",
    )


def _members(text: str | None) -> set[str]:
    try:
        data = yaml.safe_load(text or "") or {}
    except yaml.YAMLError:
        return set()
    rotation = (data.get("oncall") or {}).get("rotation") if isinstance(data, dict) else None
    members = rotation.get("members") if isinstance(rotation, dict) else rotation
    return {str(m.get("name")) for m in members or [] if isinstance(m, dict)}


def _left(loaded: LoadedSpec, now: float, limits: Thresholds) -> Signal:
    oncall, owners = loaded.spec.oncall, loaded.spec.feature.owners
    members = {m.name for m in oncall.rotation.members} if oncall.rotation else set()
    known = members | {o.name for o in owners} | {o.email for o in owners} | _KEYWORDS
    named = [s.notify for s in oncall.escalation] + [
        o.member for o in (oncall.rotation.overrides if oncall.rotation else [])
    ]
    ghosts = sorted({n for n in named if n not in known and "@" not in n})
    past = git.versions(loaded.path)
    cutoff = now - limits.history_days * _DAY
    older = [c for t, c in past if t < cutoff]
    before = _members(git.show(loaded.path, older[0])) if older else set()
    gone = sorted(before - members)
    if ghosts:
        return Signal(
            _M,
            "on-call members who left",
            "bad",
            f"paged but not in the rotation: {', '.join(ghosts)}"
            + (f"; left the rotation: {', '.join(gone)}" if gone else "")
            + ".",
            "take people who left out of oncall.escalation and overrides",
        )
    if gone:
        return Signal(
            _M,
            "on-call members who left",
            "warn",
            f"left the rotation: {', '.join(gone)}.",
            "make sure their runbook knowledge was handed over",
        )
    return Signal(_M, "on-call members who left", "ok", f"rotation {', '.join(sorted(members)) or 'empty'}.")


def reviews_signal(db: Database, feature: str, now: float) -> Signal:
    rows = db.query(
        "SELECT id FROM incidents WHERE feature = ? AND review_due_at IS NOT NULL AND review_done_at IS NULL "
        "AND review_due_at < ?",
        (feature, now),
        action="find overdue incident reviews",
    )
    if not rows:
        return Signal(_M, "post-incident reviews", "ok", "none past due.")
    ids = ", ".join(str(r[0]) for r in rows[:5])
    return Signal(
        _M,
        "post-incident reviews",
        "bad",
        f"{len(rows)} past due: {ids}.",
        "runwell incident review INCIDENT_ID",
    )


def operators(loaded: LoadedSpec, db: Database, now: float, limits: Thresholds) -> list[Signal]:
    """Every operators-drift signal of the feature."""
    return [
        _runbooks(loaded, now, limits),
        drills_signal(db, loaded.name, now, limits),
        never_acked(db, loaded.name),
        _left(loaded, now, limits),
        reviews_signal(db, loaded.name, now),
    ]

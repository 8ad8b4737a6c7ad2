"""Guardrails relax: the "temporary" override becomes the norm.

- guardrails overridden now, and how often over the window (levers and the signed audit log);
- budgets raised (budget lever changes in the audit log, and the spec's budgets over git history);
- alerts silenced (removed, or no longer paging) and thresholds loosened between spec versions
  (the spec at the start of the window against the spec now).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from runwell.audit.entries import change_key
from runwell.control.levers import BUDGET_LIMITS, GUARDRAIL_NAMES, list_levers
from runwell.readiness import git
from runwell.readiness.context import Thresholds
from runwell.readiness.decay.model import Signal, SignalStatus
from runwell.readiness.decay.spec_diff import Loosening, loosenings, parse

if TYPE_CHECKING:
    from runwell.audit.log import AuditLog
    from runwell.spec.loader import LoadedSpec
    from runwell.store import Database

__all__ = ["guardrails", "overrides", "spec_loosenings"]

_DAY = 86400.0
_M = "guardrails"


def _epoch(stamp: str) -> float:
    return dt.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC).timestamp()


def _changes(log: AuditLog, kind: str, subject: str, since: float) -> list[dict[str, object]]:
    found = []
    for index in log.find_request(change_key(kind, subject)):
        entry = log.entry(index)
        if _epoch(str(entry["time"])) >= since:
            found.append(entry)
    return found


def overrides(
    db: Database, log: AuditLog | None, feature: str, now: float, limits: Thresholds
) -> list[Signal]:
    off_now = [
        r.subject.split(":", 1)[1]
        for r in list_levers(db)
        if r.kind == "guardrail_off" and r.subject.startswith(feature + ":")
    ]
    out = [
        Signal(
            _M,
            "guardrails overridden now",
            "warn" if off_now else "ok",
            ", ".join(off_now) or "none.",
            f"runwell guardrail on {feature} NAME --reason ... once the debugging is over",
        )
    ]
    if log is None:
        out.append(Signal(_M, "overrides over the window", "n/a", "no audit log to read."))
        return out
    since = now - limits.overrides_window_days * _DAY
    switched = 0
    for name in GUARDRAIL_NAMES:
        for entry in _changes(log, "guardrail_switched", f"{feature}:{name}", since):
            after = entry.get("after")
            if isinstance(after, dict) and after.get("on") is False:
                switched += 1
    status: SignalStatus = "bad" if switched >= 5 else "warn" if switched >= 2 else "ok"
    out.append(
        Signal(
            _M,
            "overrides over the window",
            status,
            f"{switched} guardrail overrides in {limits.overrides_window_days:g} days (audit log).",
            "find why the guardrail keeps getting in the way; fix that instead of switching it off",
        )
    )
    return out


def _raised_levers(log: AuditLog | None, feature: str, since: float) -> list[str]:
    if log is None:
        return []
    raised = []
    for limit in BUDGET_LIMITS:
        for entry in _changes(log, "budget_changed", f"{feature}:{limit}", since):
            before, after = entry.get("before"), entry.get("after")
            old = before.get("limit") if isinstance(before, dict) else None
            new = after.get("limit") if isinstance(after, dict) else None
            if isinstance(new, int | float) and (not isinstance(old, int | float) or new > old):
                raised.append(f"{limit} -> {new:g} by {entry.get('actor')}")
    return raised


def spec_loosenings(loaded: LoadedSpec, since: float) -> tuple[list[Loosening], str]:
    """What the spec relaxed since ``since`` (git history), and which version it was compared with."""
    history = git.versions(loaded.path)
    older = [commit for stamp, commit in history if stamp < since]
    base = older[0] if older else (history[-1][1] if history else None)
    if base is None:
        return [], "no git history"
    old = parse(git.show(loaded.path, base))
    return loosenings(old, parse(loaded.path.read_text(encoding="utf-8"))), f"since {base[:8]}"


def guardrails(
    loaded: LoadedSpec, db: Database, log: AuditLog | None, now: float, limits: Thresholds
) -> list[Signal]:
    """Every guardrails-relax signal of the feature."""
    feature = loaded.name
    since = now - limits.history_days * _DAY
    out = overrides(db, log, feature, now, limits)
    relaxed, base = spec_loosenings(loaded, since)
    budgets = _raised_levers(log, feature, since) + [x.what for x in relaxed if x.kind == "budget"]
    out.append(
        Signal(
            _M,
            "budgets raised",
            "bad" if len(budgets) >= 3 else "warn" if budgets else "ok",
            "; ".join(budgets) or f"none ({base}).",
            "check the raise was decided, not drifted into; put it back if the need is gone",
        )
    )
    silenced = [x.what for x in relaxed if x.kind == "alert_silenced"]
    out.append(
        Signal(
            _M,
            "alerts silenced",
            "bad" if silenced else "ok",
            "; ".join(silenced) or f"none ({base}).",
            "restore the alert, or record in its failure mode why it no longer applies",
        )
    )
    loosened = [x.what for x in relaxed if x.kind in ("threshold", "guardrail")]
    hard = any(x.kind == "guardrail" for x in relaxed)
    status: SignalStatus = "bad" if hard or len(loosened) >= 3 else "warn" if loosened else "ok"
    out.append(
        Signal(
            _M,
            "thresholds loosened",
            status,
            "; ".join(loosened) or f"none ({base}).",
            "review each loosening in the spec's history (git log -p runwell.yaml)",
        )
    )
    return out

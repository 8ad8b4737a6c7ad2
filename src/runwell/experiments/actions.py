"""The audited changes of a rollout: start, promote, pause, resume, abort, a verdict, a revert.

The CLI (``runwell rollout ...``), the admin API and the gateway's controller all change rollouts
through these functions, so every change is the same compare-and-set row write, history line and
signed audit entry (:func:`runwell.experiments.state.change_rollout`). They read the database:
call them from a worker thread on the gateway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

from runwell.audit.log import AuditLog
from runwell.errors import ConfigError
from runwell.experiments.state import (
    Change,
    FeatureState,
    Version,
    change_rollout,
    new_rollout_id,
    serving_variant,
)
from runwell.rollout.judge import JudgeResult
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import CanaryStrategy, Strategy

__all__ = ["OperatorAction", "act", "evaluate", "revert_serving", "start"]

OperatorAction = Literal["promote", "pause", "resume", "abort"]

_MACHINE = "runwell"


def _require_reason(reason: str, what: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise ConfigError(f'{what} needs a reason (--reason "..."): it goes into the signed audit log')
    return cleaned


def start(
    log: AuditLog,
    feature: str,
    *,
    spec_default: str,
    candidate: str,
    strategy: Strategy,
    variants: frozenset[str] | None = None,
    actor: str,
    reason: str,
    clock: Callable[[], float] = time.time,
) -> Change:
    """Start a rollout of ``candidate`` against the variant that serves now.

    Refused (ConfigError) while another rollout of the feature is pending, running or paused,
    when the candidate already serves, or (given ``variants``) when it is not a variant of the spec.
    """
    reason = _require_reason(reason, "starting a rollout")
    if variants is not None and candidate not in variants:
        raise ConfigError(
            f"feature {feature!r} has no variant {candidate!r}; its variants: {', '.join(sorted(variants))}"
        )

    def decide(before: FeatureState) -> Change:
        current = before.rollout
        if current is not None and not current.final:
            raise ConfigError(
                f"a rollout of {feature} is already {current.state} ({current.rollout_id}, "
                f"{current.candidate} over {current.baseline}); promote or abort it first"
            )
        baseline = serving_variant(before, spec_default)
        if baseline == candidate:
            raise ConfigError(
                f"{candidate!r} already serves {feature}; a rollout needs a candidate other than the serving "
                "variant"
            )
        now = clock()
        rollout = Rollout(new_rollout_id(feature, now), baseline, candidate, strategy)
        moved = rollout.start(now, actor=actor)
        event = replace(moved.event, reason=f"{reason} ({moved.event.reason})")
        return Change(replace(moved, event=event), replace(before, rollout=moved.rollout))

    change = change_rollout(log, feature, decide, actor=actor, clock=clock)
    assert change is not None  # decide never declines: it starts or raises
    return change


def act(
    log: AuditLog,
    feature: str,
    action: OperatorAction,
    *,
    actor: str,
    reason: str,
    clock: Callable[[], float] = time.time,
) -> Change:
    """An operator's promote, pause, resume or abort (ConfigError when the state does not allow it)."""
    reason = _require_reason(reason, f"{action} of a rollout")

    def decide(before: FeatureState) -> Change:
        rollout = before.rollout
        if rollout is None:
            raise ConfigError(f"feature {feature!r} has no rollout; start one with `runwell rollout start`")
        method = getattr(rollout, action)
        moved = method(clock(), reason=reason, actor=actor)
        return Change(moved, replace(before, rollout=moved.rollout))

    change = change_rollout(log, feature, decide, actor=actor, clock=clock)
    assert change is not None
    return change


def evaluate(
    log: AuditLog,
    feature: str,
    *,
    rollout_id: str,
    rollout_version: int,
    result: JudgeResult,
    requests: int,
    window: Mapping[str, Any],
    clock: Callable[[], float] = time.time,
) -> Change | None:
    """Apply the judge's verdict on the window the controller read, unless the rollout moved since
    (another replica judged it first, or an operator acted): then nothing is written. A verdict
    that only holds is not a change either (``None``)."""

    def decide(before: FeatureState) -> Change | None:
        rollout = before.rollout
        if rollout is None or rollout.rollout_id != rollout_id or rollout.version != rollout_version:
            return None
        if rollout.state != "running":
            return None
        moved = rollout.evaluate(result, clock(), requests=requests, actor=_MACHINE)
        if moved.event.action == "hold":
            return None
        return Change(
            moved, replace(before, rollout=moved.rollout), {"window": dict(window), "requests": requests}
        )

    return change_rollout(log, feature, decide, actor=_MACHINE, clock=clock)


def revert_serving(
    log: AuditLog,
    feature: str,
    *,
    serving: Version,
    previous: Version,
    result: JudgeResult,
    reason: str,
    window: Mapping[str, Any],
    clock: Callable[[], float] = time.time,
) -> Change | None:
    """The always-on rule's rollback: all traffic back to ``previous``, which ``serving`` replaced.

    A promoted rollout is reverted; a version a spec deploy put in place is recorded as a rollout
    of it over the previous version, promoted when it took over and reverted now. Nothing is
    written when the state moved on since the rule read it (``serving``/``previous`` changed).
    """

    def decide(before: FeatureState) -> Change | None:
        if before.serving is None or before.previous is None:
            return None
        if not (before.serving.same(serving) and before.previous.same(previous)):
            return None
        now = clock()
        rollout = before.rollout
        if rollout is None or rollout.state != "promoted" or rollout.candidate != serving.variant:
            rollout = Rollout(
                new_rollout_id(feature, now),
                previous.variant,
                serving.variant,
                CanaryStrategy((100.0,), interval_s=max(1.0, now - serving.since)),
                state="promoted",
                started_at=serving.since,
                updated_at=serving.since,
            )
        moved = rollout.revert(now, reason=reason, evidence=result, actor=_MACHINE)
        after = replace(
            before, rollout=moved.rollout, serving=replace(previous, since=now, until=None), previous=None
        )
        return Change(moved, after, {"window": dict(window), "rule": "always-on"})

    return change_rollout(log, feature, decide, actor=_MACHINE, clock=clock)

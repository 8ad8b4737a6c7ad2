"""What the console changes, each one audited like the CLI's: the kill switch, guardrail overrides,
rollout pause and abort, and review labels.

Levers go through :mod:`runwell.control.levers` (the functions ``runwell kill`` and ``/admin/*``
use), so each change and its signed audit entry are stored in one transaction; the actor is
``console-admin`` (``console-admin:<name>`` when the operator gives a name). A review label is
written with :func:`runwell.audit.open.change_state` the same way (change kind ``review_labelled``).

Synchronous: the router runs these in a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from runwell.audit.log import AuditLog
from runwell.audit.open import StateChange, change_state
from runwell.console.view import ConsoleSources
from runwell.control import levers
from runwell.errors import ConfigError
from runwell.experiments.actions import act
from runwell.store import Tx

__all__ = ["DURATIONS", "ExperimentRollouts", "LeverRequest", "apply_lever", "describe", "label_review"]

DURATIONS: Mapping[str, float] = MappingProxyType(
    {
        "15m": 900.0,
        "1h": 3600.0,
        "2h": 7200.0,
        "8h": 28800.0,
        "1d": 86400.0,
        "7d": 604800.0,
    }
)
"""How long a guardrail may be switched off from the console."""


class ExperimentRollouts:
    """Rollout pause and abort through the experiment layer's audited actions
    (:func:`runwell.experiments.actions.act`, what ``runwell rollout pause|abort`` runs)."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def pause(self, feature: str, *, actor: str, reason: str) -> bool:
        """Pause the feature's rollout (ConfigError when it is not running)."""
        act(self._log, feature, "pause", actor=actor, reason=reason)
        return True

    def abort(self, feature: str, *, actor: str, reason: str) -> bool:
        """Abort the feature's rollout (ConfigError when there is none to abort)."""
        act(self._log, feature, "abort", actor=actor, reason=reason)
        return True


@dataclass(frozen=True)
class LeverRequest:
    """One lever change asked for from the levers page."""

    action: str
    feature: str
    reason: str
    variant: str | None = None
    guardrail: str | None = None
    duration: str | None = None
    operator: str | None = None

    @property
    def actor(self) -> str:
        """Who the audit entry names."""
        name = (self.operator or "").strip()[:80]
        return "console-admin" + (f":{name}" if name else "")


def describe(req: LeverRequest) -> str:
    """What the change will do, in one sentence, for the confirmation page."""
    what = req.feature if req.variant is None else f"{req.feature}@{req.variant}"
    return {
        "kill": f"Kill {what}: it stops calling models and answers with its degradation.",
        "unkill": f"Switch {what} back on: it calls its models again.",
        "guardrail_off": f"Switch the {req.guardrail} guardrail of {req.feature} OFF for {req.duration}; "
        "it switches itself back on then.",
        "guardrail_on": f"Switch the {req.guardrail} guardrail of {req.feature} back on now.",
        "rollout_pause": f"Pause the rollout of {req.feature}: the candidate keeps its share for now.",
        "rollout_abort": f"Abort the rollout of {req.feature}: the baseline serves everyone again.",
    }.get(req.action, f"Unknown action {req.action!r}.")


def validate(req: LeverRequest, sources: ConsoleSources) -> None:
    """Raise ConfigError naming what is missing or wrong (before the confirmation page)."""
    if req.feature not in sources.specs:
        raise ConfigError(f"no feature {req.feature!r}; the console shows {', '.join(sources.features)}")
    if not req.reason.strip():
        raise ConfigError("a reason is required: it goes into the signed audit log with the change")
    if req.action in ("guardrail_off", "guardrail_on") and req.guardrail not in levers.GUARDRAIL_NAMES:
        raise ConfigError(f"pick a guardrail: one of {', '.join(levers.GUARDRAIL_NAMES)}")
    if req.action == "guardrail_off" and req.duration not in DURATIONS:
        raise ConfigError(f"an expiry is required: one of {', '.join(DURATIONS)}")
    if req.action in ("rollout_pause", "rollout_abort") and sources.rollouts is None:
        raise ConfigError(
            "rollout levers are not available on this console: the experiment layer is not running here"
        )
    if req.action not in (
        "kill",
        "unkill",
        "guardrail_off",
        "guardrail_on",
        "rollout_pause",
        "rollout_abort",
    ):
        raise ConfigError(f"unknown lever {req.action!r}")


def apply_lever(req: LeverRequest, sources: ConsoleSources) -> bool:
    """Make the change (validated again); returns whether anything changed."""
    validate(req, sources)
    log, actor, reason = sources.log, req.actor, req.reason.strip()
    if req.action == "kill":
        changed = levers.kill(log, req.feature, variant=req.variant, actor=actor, reason=reason)
    elif req.action == "unkill":
        changed = levers.unkill(log, req.feature, variant=req.variant, actor=actor, reason=reason)
    elif req.action in ("guardrail_off", "guardrail_on"):
        assert req.guardrail is not None
        on = req.action == "guardrail_on"
        for_s = None if on else DURATIONS[req.duration or ""]
        changed = levers.switch_guardrail(
            log, req.feature, req.guardrail, on=on, actor=actor, reason=reason, for_s=for_s
        )
    else:
        assert sources.rollouts is not None
        change = sources.rollouts.pause if req.action == "rollout_pause" else sources.rollouts.abort
        changed = change(req.feature, actor=actor, reason=reason)
    if sources.refresh_levers is not None:
        sources.refresh_levers()  # this process sees the change at once; the others within their poll
    return changed


def label_review(sources: ConsoleSources, item_id: str, label: str, correction: str, *, actor: str) -> bool:
    """Label one review item, as ``runwell review label`` does (relabelling is allowed until the item
    is exported to the eval set), with the row and its audit entry in one transaction."""
    correction = correction.strip()

    def apply(tx: Tx) -> StateChange | None:
        row = tx.query_one("SELECT state, label FROM review_items WHERE id = ?", (item_id,))
        if row is None:
            raise ConfigError(f"no review item {item_id!r}")
        if row[0] == "exported":
            raise ConfigError(
                f"review item {item_id} is already exported to the eval set; change the case there"
            )
        if row[1] == label and not correction:
            return None
        tx.execute(
            "UPDATE review_items SET state = 'labelled', label = ?, correction = ?, reviewer = ?, "
            "labelled_at = ? WHERE id = ?",
            (label, correction or None, actor, time.time(), item_id),
        )
        return StateChange({"state": row[0], "label": row[1]}, {"state": "labelled", "label": label})

    index = change_state(
        sources.log,
        kind="review_labelled",
        subject=item_id,
        actor=actor,
        reason=f"labelled {label} from the console",
        apply=apply,
    )
    return index is not None

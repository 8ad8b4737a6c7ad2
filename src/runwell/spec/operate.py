"""The spec's operations sections: ``alerts``, ``oncall`` and ``failure_modes``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from runwell.spec._base import NonEmptyStr, RelativePath, Section

__all__ = ["Alert", "EscalationStep", "FailureMode", "OnCall", "OnCallMember"]


class Alert(Section):
    """A rule on a live metric that notifies someone when it holds."""

    name: NonEmptyStr
    metric: NonEmptyStr
    op: Literal[">", "<", ">=", "<="]
    threshold: float
    window_s: float = Field(default=300.0, gt=0)
    severity: Literal["page", "ticket"] = "ticket"


class OnCallMember(Section):
    """Someone in the on-call rotation."""

    name: NonEmptyStr
    contact: NonEmptyStr = Field(description="email, phone, or a PagerDuty/Slack handle")


class EscalationStep(Section):
    """Who is notified when an alert is still unacknowledged after some minutes."""

    after_minutes: int = Field(ge=0)
    notify: NonEmptyStr


class OnCall(Section):
    """The rotation and the escalation policy."""

    rotation: list[OnCallMember] = Field(default_factory=list)
    escalation: list[EscalationStep] = Field(default_factory=list)

    @field_validator("escalation")
    @classmethod
    def _ascending(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        minutes = [s.after_minutes for s in steps]
        if minutes != sorted(minutes):
            raise ValueError(f"after_minutes must not decrease from step to step, got {minutes}")
        return steps


class FailureMode(Section):
    """A known way the feature fails, how it is noticed and what to do."""

    name: NonEmptyStr
    detection: NonEmptyStr
    mitigation: NonEmptyStr
    runbook: RelativePath

"""The spec's operations sections: ``alerts``, ``oncall`` and ``failure_modes``.

``alerts`` are rules over the feature's request records and run-time events: a threshold on a
metric over a window, or an SLO burn-rate rule (the multiwindow pairs of the SRE workbook). Each
names the failure mode it belongs to, whose runbook the page links.

``oncall`` says who is paged and how: the notifier channels (secrets only as the *names* of
environment variables), the rotation (members, shift length, handoff time, time zone, overrides),
the escalation policy, the authors' handoff window, and which answers go to human review.

Older specs stay valid: a rotation may still be a plain list of members, an escalation step still
counts ``after_minutes`` from the alert, and an alert without ``kind`` is a threshold rule.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from runwell.spec._base import NonEmptyStr, RelativePath, Section, VariantName, unique_by_name

__all__ = [
    "METRICS",
    "Alert",
    "Channel",
    "Drill",
    "EmailChannel",
    "EscalationStep",
    "FailureMode",
    "Handoff",
    "OnCall",
    "OnCallMember",
    "OverrideSpec",
    "PagerDutyChannel",
    "ReviewRules",
    "RotationSpec",
    "SlackChannel",
    "Slo",
    "WebhookChannel",
]

METRICS: dict[str, str] = {
    "error_rate": "share of requests the model path failed (5xx errors, or degraded after failing)",
    "fallback_rate": "share of requests answered by a fallback variant",
    "degraded_rate": "share of requests answered by the degradation (whatever the reason)",
    "guardrail_block_rate": "share of requests an input guardrail blocked",
    "latency_p50_ms": "median latency of answered requests, ms",
    "latency_p95_ms": "95th percentile latency of answered requests, ms",
    "latency_p99_ms": "99th percentile latency of answered requests, ms",
    "cost_usd": "dollars spent in the window",
    "requests": "requests in the window",
    "quality_score": "mean online quality score (0-1) of the window's scored requests",
    "quality_pass_rate": "share of the window's scored requests that passed",
    "negative_feedback_rate": "share of the window's user feedback that is negative",
    "breaker_open": "circuit breakers of the feature's providers that opened in the window",
    "budget_alert": "budget alerts raised in the window",
    "drift": "drift events raised in the window",
    "rollback": "rollouts rolled back in the window",
    "decay": "decay events in the window (a decay mode past its threshold, see runwell decay)",
}
"""Every metric an alert can watch, with what it measures."""

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvName = Annotated[str, Field(pattern=_ENV_NAME, description="the NAME of an environment variable")]
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _parse_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date; write YYYY-MM-DD") from None
    return value


def _check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone, e.g. Europe/Paris or UTC") from None
    return value


# --- alerts -----------------------------------------------------------------------------------


class Slo(Section):
    """A service level objective: the share of good requests over a rolling ``period``.

    ``sli: availability`` counts a request good unless the model path failed (``error_rate``);
    ``sli: latency`` counts it good when it was answered within ``latency_ms``.
    """

    objective: float = Field(gt=0, lt=100, description="percent of good requests, e.g. 99.5")
    sli: Literal["availability", "latency"] = "availability"
    latency_ms: float | None = Field(default=None, gt=0, description="the latency SLI's threshold")
    period_days: float = Field(default=30.0, gt=0, le=366, description="the SLO's rolling window, in days")

    @property
    def period_s(self) -> float:
        """The SLO's window in seconds."""
        return self.period_days * 86400.0

    @model_validator(mode="after")
    def _latency_needs_threshold(self) -> Slo:
        if self.sli == "latency" and self.latency_ms is None:
            raise ValueError("sli 'latency' needs latency_ms: answers slower than it are bad")
        if self.sli == "availability" and self.latency_ms is not None:
            raise ValueError("latency_ms belongs to sli 'latency'; remove it or set sli: latency")
        return self


class Alert(Section):
    """A rule on a live metric that notifies someone when it holds.

    ``kind: threshold`` (the default) compares ``metric`` over ``window_s`` with ``threshold``.
    ``kind: burn_rate`` watches the error budget of ``slo`` with the SRE workbook's four window
    pairs (14.4x over 1 h and 5 min, 6x over 6 h and 30 min page; 3x over 1 d and 2 h, 1x over 3 d
    and 6 h open a ticket), scaled to the SLO's period.

    The condition must hold ``for_s`` (pending) before the alert fires, and stay false
    ``keep_firing_s`` before it resolves, so one good minute does not end a bad hour (no flapping).
    """

    name: NonEmptyStr
    kind: Literal["threshold", "burn_rate"] = "threshold"
    metric: NonEmptyStr | None = Field(default=None, description="one of: " + ", ".join(METRICS))
    op: Literal[">", "<", ">=", "<="] | None = None
    threshold: float | None = None
    window_s: float = Field(default=300.0, gt=0)
    slo: Slo | None = None
    severity: Literal["page", "ticket"] = "ticket"
    for_s: float = Field(default=0.0, ge=0, description="how long the condition holds before firing")
    keep_firing_s: float = Field(
        default=60.0, ge=0, description="how long the condition must stay false before resolving"
    )
    min_requests: int = Field(
        default=10, ge=1, description="a rate over fewer requests than this is no data, not an alert"
    )
    failure_mode: NonEmptyStr | None = Field(default=None, description="a name in failure_modes:")
    runbook: RelativePath | None = Field(default=None, description="default: the failure mode's runbook")
    summary: NonEmptyStr | None = Field(default=None, description="what the page says; default: the rule")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in METRICS:
            close = difflib.get_close_matches(value, list(METRICS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"unknown metric {value!r}; {hint}the metrics are {', '.join(METRICS)}")
        return value

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Alert:
        rule = ("metric", "op", "threshold")
        if self.kind == "threshold":
            missing = [name for name in rule if getattr(self, name) is None]
            if missing:
                raise ValueError(
                    f"a threshold alert needs {', '.join(missing)} (e.g. metric: error_rate, op: '>', "
                    "threshold: 0.05); for an SLO alert set kind: burn_rate and slo:"
                )
            if self.slo is not None:
                raise ValueError("slo: belongs to kind: burn_rate alerts")
        else:
            if self.slo is None:
                raise ValueError("a burn_rate alert needs slo: {objective: 99.5} (the SLO it protects)")
            given = [name for name in rule if getattr(self, name) is not None]
            if given:
                raise ValueError(
                    f"a burn_rate alert computes its own thresholds from the SLO; remove {', '.join(given)}"
                )
        return self


# --- on-call ----------------------------------------------------------------------------------


class OnCallMember(Section):
    """Someone in the on-call rotation."""

    name: NonEmptyStr
    contact: NonEmptyStr = Field(description="email, phone, or a PagerDuty/Slack handle")
    slack: NonEmptyStr | None = Field(default=None, description="Slack member id to mention, e.g. U024BE7LH")


class OverrideSpec(Section):
    """``member`` covers the rotation from ``start`` to ``end`` (ISO 8601 with an offset)."""

    member: NonEmptyStr
    start: datetime
    end: datetime

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an ISO 8601 time, e.g. 2026-03-02T09:00:00+01:00"
                ) from None
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ValueError(f"{value.isoformat()} has no UTC offset; write e.g. {value.isoformat()}+00:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OverrideSpec:
        if self.end <= self.start:
            raise ValueError(f"the override of {self.member} ends before it starts; swap start and end")
        return self


class RotationSpec(Section):
    """Members taking turns of ``shift_days`` days, handing off at ``handoff`` in ``time_zone``.

    ``start`` is the day ``members[0]``'s first shift begins (default 2024-01-01, a Monday, so that
    a rotation written as a plain list still says who is on call).
    """

    name: NonEmptyStr = "primary"
    members: list[OnCallMember] = Field(min_length=1)
    start: date = date(2024, 1, 1)
    shift_days: int = Field(default=7, ge=1, le=366)
    handoff: str = Field(default="09:00", description="local time of day, HH:MM")
    time_zone: NonEmptyStr = "UTC"
    overrides: list[OverrideSpec] = Field(default_factory=list)

    _start = field_validator("start", mode="before")(_parse_date)
    _zone = field_validator("time_zone")(_check_zone)

    @field_validator("handoff")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.fullmatch(value):
            raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. '09:00' (quoted)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> RotationSpec:
        unique_by_name(self.members, "rotation member")
        return self


class EscalationStep(Section):
    """Who is notified once an alert is still unacknowledged ``after_minutes`` (or ``after_s``)
    after it fired.

    ``notify`` is ``oncall`` (whoever the rotation has on call then), a rotation member's name,
    ``owners`` (the feature's owners), an owner's name or email, or an email address.
    ``channels`` names the ``oncall.channels`` used (default: all of them).
    """

    after_minutes: float | None = Field(default=None, ge=0)
    after_s: float | None = Field(default=None, ge=0)
    notify: NonEmptyStr
    channels: list[NonEmptyStr] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_delay(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "after_minutes" in data and "after_s" in data:
                raise ValueError("give after_minutes or after_s, not both")
            if "after_minutes" not in data and "after_s" not in data:
                raise ValueError("an escalation step needs after_minutes (or after_s): when it is paged")
        return data

    @property
    def delay_s(self) -> float:
        """Seconds after the alert fired."""
        if self.after_s is not None:
            return self.after_s
        assert self.after_minutes is not None
        return self.after_minutes * 60.0


class PagerDutyChannel(Section):
    """PagerDuty Events API v2: the integration's routing key comes from ``routing_key_env``."""

    type: Literal["pagerduty"]
    routing_key_env: EnvName
    url: str = Field(default="https://events.pagerduty.com/v2/enqueue", pattern=r"^https?://")


class SlackChannel(Section):
    """A Slack incoming webhook; its URL is the secret, so only its variable is named here."""

    type: Literal["slack"]
    webhook_url_env: EnvName


class WebhookChannel(Section):
    """A JSON webhook signed the Standard Webhooks way (``whsec_`` secret from ``secret_env``)."""

    type: Literal["webhook"]
    url_env: EnvName
    secret_env: EnvName


class EmailChannel(Section):
    """Email over SMTP to the paged people's email contacts (and ``to``)."""

    type: Literal["email"]
    host: NonEmptyStr
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    sender: NonEmptyStr
    to: list[NonEmptyStr] = Field(default_factory=list, description="extra recipients of every page")
    username_env: EnvName | None = None
    password_env: EnvName | None = None


Channel = Annotated[
    PagerDutyChannel | SlackChannel | WebhookChannel | EmailChannel, Field(discriminator="type")
]


class Handoff(Section):
    """The authors' handoff window: the owners are paged alongside the rotation for ``days``
    days from ``cutover``."""

    cutover: date
    days: int = Field(default=90, ge=0, le=3650)
    time_zone: NonEmptyStr = "UTC"

    _cutover = field_validator("cutover", mode="before")(_parse_date)
    _zone = field_validator("time_zone")(_check_zone)


class ReviewRules(Section):
    """Which answers are queued for human review."""

    guardrail_flags: bool = Field(default=True, description="a guardrail flagged the request")
    below_quality: float | None = Field(
        default=None, ge=0, le=1, description="an online quality score below this"
    )
    negative_feedback: bool = Field(default=True, description="a user gave negative feedback")
    sample_percent: float = Field(default=0.0, ge=0, le=100, description="a random share of answers")


class OnCall(Section):
    """The channels, the rotation, the escalation policy, the handoff window and review rules."""

    channels: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")], Channel] = Field(
        default_factory=dict
    )
    rotation: RotationSpec | None = None
    escalation: list[EscalationStep] = Field(default_factory=list)
    repeat: int = Field(
        default=0, ge=0, le=10, description="times the policy starts over after its last step"
    )
    repeat_after_s: float = Field(
        default=1800.0, gt=0, description="wait after the last step before starting over"
    )
    handoff: Handoff | None = None
    review_due_days: int = Field(default=14, ge=1, le=90, description="post-incident review deadline")
    review: ReviewRules = Field(default_factory=ReviewRules)

    @field_validator("rotation", mode="before")
    @classmethod
    def _members_list(cls, value: Any) -> Any:
        # The first spec format: the rotation was just its members.
        if isinstance(value, list):
            return {"members": value} if value else None
        return value

    @field_validator("escalation")
    @classmethod
    def _ascending(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        delays = [s.delay_s for s in steps]
        if any(b < a for a, b in pairwise(delays)):
            minutes = [s.after_minutes if s.after_minutes is not None else s.delay_s / 60 for s in steps]
            raise ValueError(f"after_minutes must not decrease from step to step, got {minutes}")
        return steps

    @model_validator(mode="after")
    def _channels_exist(self) -> OnCall:
        for i, step in enumerate(self.escalation):
            for name in step.channels or ():
                if name not in self.channels:
                    known = ", ".join(self.channels) or "none are declared"
                    raise ValueError(f"escalation[{i}] uses channel {name!r}; oncall.channels: {known}")
        return self


# --- failure modes ----------------------------------------------------------------------------


class Drill(Section):
    """How ``runwell drill`` reproduces this failure against a running gateway.

    The drill pins its own requests to ``variant`` (typically a ``sim`` provider scripted to fail
    the way this failure mode does), waits for the alert and the page, applies ``mitigation``
    (``kill``: the kill switch; ``kill_variant``: kill only the failing variant; ``none``: an
    operator mitigates) and measures the time to detect and to mitigate.
    """

    scenario: Literal["outage", "slowness", "garbage", "cost_spike"]
    variant: VariantName
    mitigation: Literal["kill", "kill_variant", "none"] = "kill"


class FailureMode(Section):
    """A known way the feature fails, how it is noticed and what to do."""

    name: NonEmptyStr
    detection: NonEmptyStr
    mitigation: NonEmptyStr
    runbook: RelativePath
    severity: int = Field(default=2, ge=1, le=5, description="incident severity, SEV-1 (worst) to SEV-5")
    drill: Drill | None = None

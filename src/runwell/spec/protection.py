"""The spec sections that protect a feature at run time: guardrails, budgets, fallbacks, resilience.

Each model checks its own section (see :mod:`runwell.spec.models` for the conventions: frozen,
unknown keys forbidden, strict types). The gateway turns them into running controls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from runwell.spec._base import NonEmptyStr, Section, VariantName

__all__ = [
    "PII_KIND_NAMES",
    "SCOPE_LIMIT_NAMES",
    "Breaker",
    "Budgets",
    "Degradation",
    "FallbackTrigger",
    "Fallbacks",
    "Guardrails",
    "InjectionCheck",
    "PerRequestLimits",
    "PiiRedaction",
    "Resilience",
    "Retries",
    "ScopeBudget",
]

_JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})
InjectionRole = Literal["user", "tool", "system", "developer", "assistant"]


def _default_roles() -> list[InjectionRole]:
    return ["user", "tool"]


def _all_triggers() -> list[FallbackTrigger]:
    return ["error", "timeout", "breaker_open", "invalid_output"]


PII_KIND_NAMES = ("email", "phone", "credit_card", "iban", "ssn", "ipv4", "ipv6")
"""The PII kinds runwell's recognizers find (``runwell.guardrails.PII_KINDS``)."""

PiiKind = Literal["email", "phone", "credit_card", "iban", "ssn", "ipv4", "ipv6"]
PatternName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _check_regexes(patterns: Mapping[str, str]) -> Mapping[str, str]:
    for name, regex in patterns.items():
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            raise ValueError(f"{name}: the regex {regex!r} does not compile: {exc}") from None
        if compiled.fullmatch(""):
            raise ValueError(
                f"{name}: the regex {regex!r} matches the empty string; it would match everywhere"
            )
    return patterns


class PiiRedaction(Section):
    """Which PII is redacted from inputs before the model and storage see them."""

    kinds: list[PiiKind] | None = Field(default=None, description="kinds to redact (default: all)")
    extra: dict[PatternName, NonEmptyStr] = Field(
        default_factory=dict, description="more patterns: name -> regex (the placeholder is <NAME_1>)"
    )
    restore: bool = Field(default=False, description="put the original values back into the answer")

    @field_validator("extra")
    @classmethod
    def _compiles(cls, extra: dict[str, str]) -> dict[str, str]:
        _check_regexes(extra)
        return extra


class InjectionCheck(Section):
    """Prompt-injection detection on the input."""

    mode: Literal["block", "flag", "log"] = Field(
        default="block", description="block: 400; flag: served, marked on the record; log: recorded only"
    )
    threshold: float | None = Field(default=None, gt=0, le=1, description="score from which it is an attack")
    roles: list[InjectionRole] = Field(
        default_factory=_default_roles, description="which messages are checked"
    )


class Guardrails(Section):
    """Checks on what goes into and comes out of the model."""

    pii_redaction: bool | PiiRedaction = False
    injection_check: bool | InjectionCheck = False
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema every completion must satisfy (parsed as JSON)"
    )
    max_input_chars: int | None = Field(default=None, ge=1)
    banned_patterns: dict[PatternName, NonEmptyStr] = Field(
        default_factory=dict, description="regexes a completion must not match: name -> regex"
    )
    output_pii: Literal["off", "flag", "block", "redact"] = Field(
        default="off", description="what to do when a completion holds PII"
    )

    @property
    def pii(self) -> PiiRedaction | None:
        """The redaction settings, or ``None`` when redaction is off."""
        if isinstance(self.pii_redaction, PiiRedaction):
            return self.pii_redaction
        return PiiRedaction() if self.pii_redaction else None

    @property
    def injection(self) -> InjectionCheck | None:
        """The injection check settings, or ``None`` when the check is off."""
        if isinstance(self.injection_check, InjectionCheck):
            return self.injection_check
        return InjectionCheck() if self.injection_check else None

    @field_validator("banned_patterns")
    @classmethod
    def _banned_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        _check_regexes(patterns)
        return patterns

    @field_validator("output_schema")
    @classmethod
    def _looks_like_json_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        declared = schema.get("type")
        types = declared if isinstance(declared, list) else [declared]
        if declared is not None and not all(isinstance(t, str) and t in _JSON_TYPES for t in types):
            raise ValueError(
                f"'type' must be one of {', '.join(sorted(_JSON_TYPES))} (or a list of them), "
                f"got {declared!r}"
            )
        properties = schema.get("properties")
        if properties is not None and not (
            isinstance(properties, dict) and all(isinstance(v, dict) for v in properties.values())
        ):
            raise ValueError("'properties' must map each property name to a schema (a mapping)")
        required = schema.get("required")
        if required is not None and not (
            isinstance(required, list) and all(isinstance(r, str) for r in required)
        ):
            raise ValueError("'required' must be a list of property names")
        return schema


class PerRequestLimits(Section):
    """Limits on one request, checked before the model is called."""

    max_input_tokens: int | None = Field(default=None, ge=1, description="estimated from the prompt's length")
    max_output_tokens: int | None = Field(default=None, ge=1, description="a request asking more is refused")
    max_cost_usd: float | None = Field(default=None, gt=0, description="the most one request may cost")


SCOPE_LIMIT_NAMES = (
    "daily_usd",
    "monthly_usd",
    "daily_tokens",
    "monthly_tokens",
    "requests_per_minute",
    "tokens_per_minute",
)
"""The limits of one scope (a feature, each key, each user), as the spec and the levers name them."""


class ScopeBudget(Section):
    """Spending and rate limits for one scope (a feature, each API key, each end user)."""

    daily_usd: float | None = Field(default=None, gt=0)
    monthly_usd: float | None = Field(default=None, gt=0)
    daily_tokens: int | None = Field(default=None, ge=1)
    monthly_tokens: int | None = Field(default=None, ge=1)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)

    @property
    def any(self) -> bool:
        """Whether any of this scope's own limits is set (a subclass's other fields do not count)."""
        return any(getattr(self, name) is not None for name in SCOPE_LIMIT_NAMES)


class Budgets(ScopeBudget):
    """Spending limits. The top-level limits are the feature's; ``per_key`` and ``per_user`` apply to each
    API key and each end user; a request beyond a limit gets 429 naming it."""

    per_request_max_tokens: int | None = Field(
        default=None, ge=1, description="shorthand for per_request.max_output_tokens"
    )
    per_request: PerRequestLimits = Field(default_factory=PerRequestLimits)
    per_key: ScopeBudget = Field(default_factory=ScopeBudget)
    per_user: ScopeBudget = Field(default_factory=ScopeBudget)
    alert_at_fraction: float = Field(default=0.8, gt=0, le=1)
    on_store_unavailable: Literal["fail_open", "fail_closed"] = Field(
        default="fail_open",
        description="when the shared budget store (Redis) is down: serve and raise an event, or answer 503",
    )

    @property
    def max_output_tokens(self) -> int | None:
        """The per-request output cap, from either spelling."""
        return self.per_request.max_output_tokens or self.per_request_max_tokens

    @property
    def enforced(self) -> bool:
        """Whether any budget or limit is set."""
        limits = (self.per_request_max_tokens, *(v for _, v in self.per_request))
        return super().any or self.per_key.any or self.per_user.any or any(v is not None for v in limits)


class Degradation(Section):
    """What users get when no variant can answer (or the feature is switched off)."""

    mode: Literal["static", "queued", "maintenance"] = Field(
        description="static: a fixed non-AI answer (200); queued: 202 and a ticket, answered later; "
        "maintenance: 503 with Retry-After"
    )
    message: NonEmptyStr
    retry_after_s: int = Field(default=60, ge=1, le=86_400, description="Retry-After of maintenance answers")


FallbackTrigger = Literal["error", "timeout", "breaker_open", "invalid_output"]


class Fallbacks(Section):
    """Variants to try, in order, when the chosen one fails; then graceful degradation."""

    chain: list[VariantName] = Field(default_factory=list)
    on: list[FallbackTrigger] = Field(
        default_factory=_all_triggers,
        description="which failures move to the next variant",
    )
    semantic_retries: int = Field(
        default=1,
        ge=0,
        le=3,
        description="retries with the variant's fallback_prompt when output fails validation",
    )
    degradation: Degradation | None = None

    @field_validator("chain")
    @classmethod
    def _no_repeats(cls, chain: list[str]) -> list[str]:
        repeated = sorted({v for v in chain if chain.count(v) > 1})
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once; keep each variant once")
        return chain


class Retries(Section):
    """Retries of a failed provider call: only safe failures (connect errors, 429, 5xx before output)."""

    attempts: int = Field(default=2, ge=1, le=5, description="tries per variant, the first included")
    backoff_s: float = Field(default=0.2, ge=0, le=30, description="first backoff; doubles, with full jitter")
    max_backoff_s: float = Field(default=2.0, ge=0, le=120)


class Breaker(Section):
    """The circuit breaker of each provider and model."""

    window: int = Field(default=20, ge=2, le=1000, description="calls the failure rate is measured over")
    min_calls: int = Field(default=10, ge=1, le=1000, description="calls before the breaker may open")
    failure_rate: float = Field(default=0.5, gt=0, le=1, description="share of failures that opens it")
    open_s: float = Field(default=30.0, gt=0, le=3600, description="how long it stays open")
    half_open_calls: int = Field(default=3, ge=1, le=100, description="trial calls before it closes again")

    @model_validator(mode="after")
    def _min_within_window(self) -> Breaker:
        if self.min_calls > self.window:
            raise ValueError(f"min_calls ({self.min_calls}) is larger than window ({self.window})")
        return self


class Resilience(Section):
    """Retries and circuit breakers of provider calls."""

    retries: Retries = Field(default_factory=Retries)
    breaker: Breaker = Field(default_factory=Breaker)

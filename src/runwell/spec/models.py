"""The typed shape of ``runwell.yaml``: one pydantic model per section.

Every model is frozen and forbids unknown keys, and validates in strict mode: YAML already gives
real numbers and booleans, so a quoted ``"0.2"`` or a ``yes`` where a number belongs is a mistake
worth reporting, not something to coerce.

Each model checks its own section. Rules that tie sections together (a variant's provider, the
default variant, the fallback chain, the rollout candidate) live in :func:`reference_problems`,
which works on plain data so that the loader can report them even when other fields are broken.
Paths to files (prompts, runbooks, datasets) are checked by the loader, which knows the spec's
directory.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from runwell.spec._base import (
    FEATURE_NAME_PATTERN,
    PROVIDER_NAME_PATTERN,
    VARIANT_NAME_PATTERN,
    FeatureName,
    NonEmptyStr,
    ProviderName,
    RelativePath,
    Section,
    VariantName,
    unique_by_name,
)
from runwell.spec.evals import EvalGate, Evals, EvalSuite, Scorer
from runwell.spec.experiments import Rollout
from runwell.spec.operate import Alert, EscalationStep, FailureMode, OnCall, OnCallMember
from runwell.spec.protection import (
    Breaker,
    Budgets,
    Degradation,
    Fallbacks,
    Guardrails,
    InjectionCheck,
    PerRequestLimits,
    PiiRedaction,
    Resilience,
    Retries,
    ScopeBudget,
)
from runwell.spec.providers import ProviderConfig

__all__ = [
    "FEATURE_NAME_PATTERN",
    "PROVIDER_NAME_PATTERN",
    "REFERENCE_ERROR_TYPE",
    "VARIANT_NAME_PATTERN",
    "Alert",
    "Breaker",
    "Budgets",
    "Capture",
    "Degradation",
    "EscalationStep",
    "EvalGate",
    "EvalSuite",
    "Evals",
    "FailureMode",
    "Fallbacks",
    "FeatureInfo",
    "FeatureSpec",
    "GenerationParams",
    "Guardrails",
    "InjectionCheck",
    "Loc",
    "ModelPrice",
    "OnCall",
    "OnCallMember",
    "Owner",
    "PerRequestLimits",
    "PiiRedaction",
    "PromptRef",
    "Resilience",
    "Retries",
    "Rollout",
    "ScopeBudget",
    "Scorer",
    "Timeouts",
    "UserIdPolicy",
    "Variant",
    "reference_problems",
]

REFERENCE_ERROR_TYPE = "spec_reference"
"""pydantic error type raised by :class:`FeatureSpec` when cross-references are broken."""

Loc = tuple[str | int, ...]
"""A path into the spec's data, e.g. ``("variants", "champion", "provider")``."""

_Section = Section


def _number_as_text(value: Any) -> Any:
    # ``version: 1`` is how people write versions in YAML; keep it as the text "1".
    if type(value) is int:
        return str(value)
    if type(value) is float:
        # YAML reads 1.10 as the number 1.1: the version the author wrote is already lost.
        raise ValueError(f'YAML reads this as the number {value!r}; quote it: version: "..."')
    return value


def _check_stop(value: Any) -> Any:
    # One clear error instead of pydantic's two (one per member of ``str | list[str]``).
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        if len(value) > 4:
            raise ValueError(f"at most 4 stop sequences are allowed, got {len(value)}")
        return value
    raise ValueError("expected a string or a list of strings")


# --- feature ----------------------------------------------------------------------------------


class Owner(_Section):
    """A person accountable for the feature."""

    name: NonEmptyStr
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    role: NonEmptyStr | None = Field(default=None, description="e.g. engineer, product, data")


class FeatureInfo(_Section):
    """What the feature is and who owns it."""

    name: FeatureName = Field(
        description="served as the model name; lowercase letters, digits and '-', at most 63"
    )
    purpose: NonEmptyStr = Field(description="one sentence: what the feature does for whom")
    owners: list[Owner] = Field(min_length=1)
    # The pre-ship questions. Optional here so that older specs still load; `runwell check`
    # requires each of them (and fails on placeholder text).
    problem: NonEmptyStr | None = Field(
        default=None, description="should we build this: the problem it solves, for whom"
    )
    success_metric: NonEmptyStr | None = Field(
        default=None, description="how we will know it works, e.g. 'ticket handling time -20%'"
    )
    non_ai_alternative: NonEmptyStr | None = Field(
        default=None, description="the non-AI way considered (rules, search, a form) and why not"
    )
    expected_requests_per_day: int | None = Field(
        default=None, ge=1, description="expected traffic: requests a day at full rollout"
    )
    cost_ceiling_usd_per_month: float | None = Field(
        default=None, gt=0, description="the most this feature may cost a month; budgets must enforce it"
    )
    dashboard: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = Field(
        default=None, description="the URL of the feature's monitoring dashboard"
    )


# --- variants ---------------------------------------------------------------------------------


class PromptRef(_Section):
    """The prompt template of a variant and the version its authors gave it."""

    file: RelativePath
    version: Annotated[NonEmptyStr, BeforeValidator(_number_as_text)]


class GenerationParams(_Section):
    """OpenAI-style generation parameters sent with every call of a variant.

    A client's own values for these parameters win over the variant's.
    """

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: Annotated[str | list[str] | None, BeforeValidator(_check_stop)] = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    response_format: dict[str, Any] | None = None
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="provider-specific parameters (e.g. top_k for vLLM), sent as they are",
    )

    def to_request(self) -> dict[str, Any]:
        """The parameters that are set, as request-body fields (``extra_body`` merged in)."""
        body = {k: v for k, v in self if v is not None and k != "extra_body"}
        return {**self.extra_body, **body}


class Variant(_Section):
    """One way of serving the feature: a provider, a model, a prompt and its parameters."""

    provider: ProviderName = Field(description="a key of providers:")
    model: NonEmptyStr = Field(description="the upstream model id")
    prompt: PromptRef
    params: GenerationParams = Field(default_factory=GenerationParams)
    fallback_prompt: PromptRef | None = Field(
        default=None, description="the prompt retried when an answer fails validation (semantic fallback)"
    )


# --- cost, time, data -------------------------------------------------------------------------


class ModelPrice(_Section):
    """USD per million tokens for one model; overrides the built-in price table."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


class Timeouts(_Section):
    """How long a provider call may take."""

    request_s: float = Field(default=60.0, gt=0, le=3600, description="one attempt of one variant")
    connect_s: float = Field(default=10.0, gt=0, le=600)
    total_s: float | None = Field(
        default=None,
        gt=0,
        le=7200,
        description="the whole request, retries and fallbacks included (default: twice request_s)",
    )

    @property
    def deadline_s(self) -> float:
        """The whole request's deadline."""
        return self.total_s if self.total_s is not None else 2 * self.request_s

    @model_validator(mode="after")
    def _connect_within_request(self) -> Timeouts:
        if self.connect_s > self.request_s:
            raise ValueError(
                f"connect_s ({self.connect_s:g}) is longer than request_s ({self.request_s:g}); "
                "lower connect_s or raise request_s"
            )
        return self


class Capture(_Section):
    """Whether prompt and completion text are stored with each request record."""

    content: bool = True


class UserIdPolicy(_Section):
    """How end-user ids appear in records and the audit log."""

    hash: bool = Field(default=False, description="store a keyed hash of user ids instead of the ids")


# --- the whole spec ---------------------------------------------------------------------------


class FeatureSpec(_Section):
    """A whole ``runwell.yaml``."""

    model_config = ConfigDict(title="runwell feature spec")

    spec_version: Literal[1] = Field(description="format version of this file; must be 1")
    feature: FeatureInfo
    providers: dict[ProviderName, ProviderConfig] = Field(min_length=1)
    variants: dict[VariantName, Variant] = Field(min_length=1)
    default_variant: VariantName | None = Field(
        default=None, description="the variant served by default; optional when there is only one"
    )
    prices: dict[NonEmptyStr, ModelPrice] = Field(default_factory=dict)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    capture: Capture = Field(default_factory=Capture)
    user_id: UserIdPolicy = Field(default_factory=UserIdPolicy)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    budgets: Budgets = Field(default_factory=Budgets)
    fallbacks: Fallbacks = Field(default_factory=Fallbacks)
    resilience: Resilience = Field(default_factory=Resilience)
    evals: Evals = Field(default_factory=Evals)
    rollout: Rollout = Field(default_factory=Rollout)
    alerts: list[Alert] = Field(default_factory=list)
    oncall: OnCall = Field(default_factory=OnCall)
    failure_modes: list[FailureMode] = Field(default_factory=list)
    runbooks: list[RelativePath] = Field(default_factory=list)

    @field_validator("spec_version", mode="before")
    @classmethod
    def _known_version(cls, value: Any) -> Any:
        if value != 1 or type(value) is not int:
            raise ValueError(f"this runwell reads spec_version 1, got {value!r}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _single_variant_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("default_variant") is None:
            variants = data.get("variants")
            if isinstance(variants, dict) and len(variants) == 1:
                return {**data, "default_variant": next(iter(variants))}
        return data

    @field_validator("alerts", "failure_modes")
    @classmethod
    def _unique_names(cls, items: list[Any], info: ValidationInfo) -> list[Any]:
        return unique_by_name(items, str(info.field_name).rstrip("s").replace("_", " "))

    @model_validator(mode="after")
    def _references_resolve(self) -> FeatureSpec:
        problems = reference_problems(self.model_dump())
        if problems:
            summary = "; ".join(".".join(map(str, loc)) + ": " + msg for loc, msg in problems)
            raise PydanticCustomError(REFERENCE_ERROR_TYPE, "{summary}", {"summary": summary})
        return self

    @property
    def default_variant_name(self) -> str:
        """The variant served when a request names none."""
        # Validation guarantees it: filled in when there is one variant, required otherwise.
        assert self.default_variant is not None
        return self.default_variant


def _known(names: list[str], what: str) -> str:
    return f"known {what}: {', '.join(names)}" if names else f"no {what} are defined"


def _unknown(kind: str, name: str, names: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {name!r}; {hint}{_known(names, what)}"


def reference_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Broken references between sections of plain spec data, as ``(loc, message)`` pairs.

    Tolerates malformed sections (it skips what it cannot read), so the loader can report these
    problems next to the shape errors pydantic finds.
    """
    problems: list[tuple[Loc, str]] = []
    providers = data.get("providers")
    provider_names = [str(p) for p in providers] if isinstance(providers, dict) else None
    variants = data.get("variants")
    variant_names = [str(v) for v in variants] if isinstance(variants, dict) else []

    if isinstance(variants, dict) and provider_names is not None:
        for name, variant in variants.items():
            ref = variant.get("provider") if isinstance(variant, dict) else None
            if isinstance(ref, str) and ref not in provider_names:
                problems.append(
                    (
                        ("variants", name, "provider"),
                        _unknown("provider", ref, provider_names, "providers")
                        + "; add it under providers: or fix the name",
                    )
                )

    default = data.get("default_variant")
    if isinstance(variants, dict) and variant_names:
        if isinstance(default, str) and default not in variant_names:
            problems.append((("default_variant",), _unknown("variant", default, variant_names, "variants")))
        elif default is None and len(variant_names) > 1:
            problems.append(
                (
                    ("default_variant",),
                    f"required when there is more than one variant; "
                    f"add 'default_variant: {variant_names[0]}' "
                    f"(one of {', '.join(variant_names)})",
                )
            )

    fallbacks = data.get("fallbacks")
    chain = fallbacks.get("chain") if isinstance(fallbacks, dict) else None
    if isinstance(chain, list) and isinstance(variants, dict):
        for i, ref in enumerate(chain):
            if isinstance(ref, str) and ref not in variant_names:
                problems.append(
                    (("fallbacks", "chain", i), _unknown("variant", ref, variant_names, "variants"))
                )

    rollout = data.get("rollout")
    candidate = rollout.get("candidate") if isinstance(rollout, dict) else None
    if isinstance(candidate, str) and isinstance(variants, dict):
        if candidate not in variant_names:
            problems.append(
                (
                    ("rollout", "candidate"),
                    _unknown("variant", candidate, variant_names, "variants"),
                )
            )
        elif candidate == default:
            problems.append(
                (
                    ("rollout", "candidate"),
                    f"{candidate!r} is already the default variant; the candidate must be another variant",
                )
            )
    problems += _operate_references(data, variant_names if isinstance(variants, dict) else None)
    return problems


def _operate_references(data: Mapping[str, Any], variant_names: list[str] | None) -> list[tuple[Loc, str]]:
    """Alerts name a declared failure mode; a failure mode's drill pins a declared variant."""
    problems: list[tuple[Loc, str]] = []
    modes = data.get("failure_modes")
    modes = modes if isinstance(modes, list) else []
    mode_names = [str(m["name"]) for m in modes if isinstance(m, dict) and isinstance(m.get("name"), str)]
    alerts = data.get("alerts")
    for i, alert in enumerate(alerts if isinstance(alerts, list) else []):
        ref = alert.get("failure_mode") if isinstance(alert, dict) else None
        if isinstance(ref, str) and ref not in mode_names:
            problems.append(
                (("alerts", i, "failure_mode"), _unknown("failure mode", ref, mode_names, "failure_modes"))
            )
    if variant_names is None:
        return problems
    for i, mode in enumerate(modes):
        drill = mode.get("drill") if isinstance(mode, dict) else None
        ref = drill.get("variant") if isinstance(drill, dict) else None
        if isinstance(ref, str) and ref not in variant_names:
            problems.append(
                (
                    ("failure_modes", i, "drill", "variant"),
                    _unknown("variant", ref, variant_names, "variants"),
                )
            )
    return problems

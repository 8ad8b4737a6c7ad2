"""The spec's ``evals`` section: suites of cases and scorers, slices, the judge, and the CI gate."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runwell.spec._base import NonEmptyStr, RelativePath, Section, unique_by_name

__all__ = ["EvalGate", "EvalSuite", "Evals", "JudgeModel", "Scorer", "SliceField", "TrendSettings"]


class Scorer(BaseModel):
    """One scorer of an eval suite: ``type`` picks it, any other keys are its options."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    type: NonEmptyStr

    @property
    def options(self) -> dict[str, Any]:
        """The scorer's options: every key except ``type``."""
        return dict(self.model_extra or {})


class EvalSuite(Section):
    """A dataset and the scorers run over it."""

    name: NonEmptyStr
    dataset: RelativePath = Field(description="JSONL file of cases, relative to runwell.yaml")
    scorers: list[Scorer] = Field(min_length=1)


class TrendSettings(Section):
    """The trend test over the last promoted runs (slow degradation that no single step shows)."""

    window: int = Field(default=10, ge=3, le=100, description="promoted runs looked back over")
    min_runs: int = Field(
        default=4, ge=3, le=100, description="fewer runs (the candidate included) skip the trend check"
    )
    min_drop: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="decline over the window (Sen's slope x runs) a significant trend must also exceed",
    )


class EvalGate(Section):
    """When a challenger may replace the champion (the CI regression gate)."""

    alpha: float = Field(default=0.05, gt=0, lt=1, description="significance level of the comparison")
    floor: float | None = Field(
        default=None, ge=0, le=1, description="minimum mean score (0-1) any variant must reach"
    )
    tolerance: float = Field(
        default=0.0, ge=0, le=1, description="drop in mean score (0-1) accepted before failing"
    )
    critical_tag: NonEmptyStr | None = Field(default=None, description="cases with this tag must all pass")
    pinned_baseline: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="mean score pinned when the champion shipped; fail below it minus tolerance",
    )
    max_slice_gap: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="largest allowed score gap between declared groups (fails when also significant)",
    )
    min_slice_size: int = Field(
        default=10, ge=1, description="groups with fewer cases are reported but left out of the gap"
    )
    max_attack_success: float | None = Field(
        default=None, ge=0, le=1, description="highest allowed attack success rate (0-1) on attack cases"
    )
    max_over_refusal: float | None = Field(
        default=None, ge=0, le=1, description="highest allowed over-refusal rate (0-1) on benign look-alikes"
    )
    detect_drop: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="drop in pass rate the suite must be able to detect; default: tolerance, else 0.1",
    )
    counterfactual_tolerance: float = Field(
        default=0.0, ge=0, le=1, description="largest score difference allowed within a counterfactual group"
    )
    trend: TrendSettings = Field(default_factory=TrendSettings)


class SliceField(Section):
    """A fairness dimension read from a case field: ``metadata.FIELD`` becomes ``group:DIMENSION=VALUE``."""

    dimension: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="the dimension's name")]
    field: NonEmptyStr = Field(description="metadata key holding the case's group (dots for nested keys)")


class JudgeModel(Section):
    """A judge model by provider and model name (any provider of the spec)."""

    provider: NonEmptyStr
    model: NonEmptyStr
    params: dict[str, Any] = Field(default_factory=dict, description="default: {temperature: 0}")


class Evals(Section):
    """Eval suites, fairness slices, the safety judge and the gate applied to them."""

    suites: list[EvalSuite] = Field(default_factory=list)
    slices: list[SliceField] = Field(
        default_factory=list, description="fairness dimensions read from case metadata"
    )
    judge: NonEmptyStr | JudgeModel | None = Field(
        default=None,
        description="judge of the built-in suites' harmful-content and benign cases: a variant name or "
        "{provider, model}; without one a rule-based judge is used",
    )
    gate: EvalGate = Field(default_factory=EvalGate)

    @field_validator("suites")
    @classmethod
    def _unique_names(cls, suites: list[EvalSuite]) -> list[EvalSuite]:
        return unique_by_name(suites, "suite")

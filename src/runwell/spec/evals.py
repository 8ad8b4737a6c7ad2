"""The spec's ``evals`` section: suites of cases and scorers, and the CI regression gate."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runwell.spec._base import NonEmptyStr, RelativePath, Section, unique_by_name

__all__ = ["EvalGate", "EvalSuite", "Evals", "Scorer"]


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
        default=None, ge=0, le=1, description="largest allowed score gap between slices (tags)"
    )


class Evals(Section):
    """Eval suites and the gate applied to them."""

    suites: list[EvalSuite] = Field(default_factory=list)
    gate: EvalGate = Field(default_factory=EvalGate)

    @field_validator("suites")
    @classmethod
    def _unique_names(cls, suites: list[EvalSuite]) -> list[EvalSuite]:
        return unique_by_name(suites, "suite")

"""The spec's ``rollout`` section: how a candidate variant takes traffic from the default one."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, field_validator, model_validator

from runwell.spec._base import Percent, Section, VariantName

__all__ = ["Rollout"]


class Rollout(Section):
    """How a candidate variant takes traffic from the default one."""

    strategy: Literal["none", "shadow", "canary", "ab"] = "none"
    candidate: VariantName | None = None
    steps: list[Percent] = Field(default_factory=list, description="traffic percents, ascending")

    @field_validator("steps")
    @classmethod
    def _ascending(cls, steps: list[float]) -> list[float]:
        if any(b <= a for a, b in pairwise(steps)):
            raise ValueError(f"must be strictly ascending, got {steps}")
        return steps

    @model_validator(mode="after")
    def _strategy_needs(self) -> Rollout:
        if self.strategy != "none" and self.candidate is None:
            raise ValueError(f"strategy {self.strategy!r} needs a candidate variant; add 'candidate: NAME'")
        if self.strategy == "canary" and not self.steps:
            raise ValueError("strategy 'canary' needs steps, e.g. 'steps: [5, 25, 50, 100]'")
        return self

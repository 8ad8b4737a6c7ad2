"""The spec's ``rollout`` section: how a candidate variant takes traffic from the default one.

Everything a rollout needs is declared here and compiled once at start-up (by
:mod:`runwell.experiments.config`): the strategy and its traffic (``steps`` of a canary, the
``split`` and ``horizon`` of an A/B test, the ``shadow`` mirror), how each window is judged
(``metrics`` with a tolerance each, some ``critical``; the ``judge``'s confidence and thresholds),
the always-on rule that keeps watching the serving version (``guard``), online evaluation of
sampled live answers (``online_eval``), and input drift against the eval set (``drift``).

Only ``strategy``, ``candidate`` and ``steps`` existed at first; every other key has a default, so
those specs keep validating and now run as written.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from runwell.spec._base import Percent, Section, VariantName
from runwell.spec.evals import Scorer

__all__ = [
    "METRIC_NAMES",
    "DriftPolicy",
    "GuardRule",
    "Horizon",
    "JudgePolicy",
    "Metric",
    "OnlineEval",
    "Rollout",
    "ShadowPolicy",
]

METRIC_NAMES = (
    "error_rate",
    "latency",
    "latency_p95",
    "cost_per_request",
    "quality",
    "quality_failures",
    "guardrail_block_rate",
    "feedback",
)
"""The metrics a rollout can be judged on (``docs/rollouts.md`` says how each is measured)."""

MetricName = Literal[
    "error_rate",
    "latency",
    "latency_p95",
    "cost_per_request",
    "quality",
    "quality_failures",
    "guardrail_block_rate",
    "feedback",
]


class Metric(Section):
    """One metric the judge compares, candidate against baseline, at the end of each window."""

    name: MetricName
    tolerance: float = Field(
        default=0.25,
        ge=0,
        description="how much worse the candidate may be, relative to the baseline's level (0.25: 25 %)",
    )
    min_effect: float = Field(
        default=0.0, ge=0, description="an absolute floor on the tolerated worsening, in the metric's units"
    )
    critical: bool = Field(default=False, description="a failure of this metric alone rolls back")
    min_samples: int = Field(default=50, ge=1, description="per side; fewer is 'no data' (inconclusive)")
    weight: float = Field(default=1.0, gt=0)
    confidence: float | None = Field(default=None, ge=0.5, lt=1, description="overrides judge.confidence")


def _default_metrics() -> list[Metric]:
    return [
        Metric(name="error_rate", critical=True),
        Metric(name="latency_p95", critical=True),
        Metric(name="cost_per_request", tolerance=0.5),
        Metric(name="guardrail_block_rate", tolerance=0.5),
    ]


class JudgePolicy(Section):
    """Judge-wide settings (Kayenta's scoring): confidence, pass and marginal thresholds."""

    confidence: float = Field(default=0.99, ge=0.5, lt=1)
    pass_threshold: float = Field(default=90.0, ge=0, le=100)
    marginal_threshold: float = Field(default=75.0, ge=0, le=100)
    max_nodata_fraction: float = Field(default=0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> JudgePolicy:
        if self.marginal_threshold > self.pass_threshold:
            raise ValueError(
                f"marginal_threshold ({self.marginal_threshold:g}) must not exceed "
                f"pass_threshold ({self.pass_threshold:g})"
            )
        return self


class Horizon(Section):
    """When an A/B test or a shadow run ends: after so many candidate requests or so many days,
    whichever comes first."""

    requests: int | None = Field(default=None, ge=1)
    days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _some(self) -> Horizon:
        if self.requests is None and self.days is None:
            raise ValueError("set requests or days (when the experiment ends)")
        return self

    @property
    def seconds(self) -> float | None:
        """``days`` in seconds."""
        return None if self.days is None else self.days * 86_400.0


class ShadowPolicy(Section):
    """The mirror of a shadow rollout: which share of requests the candidate also answers, unseen,
    and the bounds that keep the copies from costing the served requests anything."""

    sample_rate: float = Field(default=0.1, gt=0, le=1, description="fraction of served requests copied")
    max_concurrency: int = Field(default=4, ge=1, description="shadow calls in flight at once, per replica")
    max_per_minute: int = Field(default=600, ge=1, description="shadow calls started per minute, per replica")
    daily_usd: float | None = Field(default=None, gt=0, description="shadow spend per UTC day, per replica")


class GuardRule(Section):
    """The always-on rule: the serving version against the previous one, on the critical metrics."""

    enabled: bool = True
    window_s: float = Field(
        default=3600.0, gt=0, description="how much recent traffic each side is judged on"
    )
    every_s: float = Field(default=300.0, gt=0, description="how often the rule looks")


class OnlineEval(Section):
    """The eval harness's scorers run on a sampled share of live answers, in the background."""

    sample_rate: float = Field(default=0.0, ge=0, le=1, description="fraction of answers scored")
    scorers: list[Scorer] = Field(default_factory=list)
    max_concurrency: int = Field(default=2, ge=1)
    max_queue: int = Field(default=1000, ge=1, description="answers waiting to be scored; more are dropped")

    @model_validator(mode="after")
    def _scorers_when_sampling(self) -> OnlineEval:
        if self.sample_rate > 0 and not self.scorers:
            raise ValueError(
                "sample_rate is set but scorers is empty; add the scorers to run, "
                "e.g. [{type: regex, pattern: ...}]"
            )
        return self


class DriftPolicy(Section):
    """Live inputs against the eval set's inputs: embeddings (MMD or a domain classifier) and PSI."""

    enabled: bool = True
    every_s: float = Field(default=3600.0, gt=0)
    method: Literal["mmd", "classifier"] = "mmd"
    p_value: float = Field(default=0.01, gt=0, lt=1, description="mmd: drift when the permutation p is below")
    auc: float = Field(default=0.75, gt=0.5, lt=1, description="classifier: drift when the AUC reaches this")
    psi: float = Field(default=0.25, gt=0, description="drift when a scalar's PSI reaches this")
    live_sample: int = Field(default=500, ge=10, description="latest live inputs compared")
    reference_sample: int = Field(default=500, ge=10, description="eval-set inputs compared, at most")
    min_live: int = Field(default=50, ge=10, description="fewer live inputs: no verdict yet")


class Rollout(Section):
    """How a candidate variant takes traffic from the default one, and how it is judged."""

    strategy: Literal["none", "shadow", "canary", "ab"] = "none"
    candidate: VariantName | None = None
    auto_start: bool = Field(
        default=False, description="start the rollout when a gateway starts with this spec (audited)"
    )
    steps: list[Percent] = Field(default_factory=list, description="traffic percents, ascending")
    interval_s: float = Field(
        default=3600.0, gt=0, description="each canary step's window; A/B and shadow: between looks"
    )
    max_extensions: int = Field(
        default=2, ge=0, description="inconclusive: extend the window this many times"
    )
    on_inconclusive: Literal["pause", "rollback"] = "pause"
    split: float = Field(default=50.0, gt=0, lt=100, description="A/B: percent of traffic on the candidate")
    horizon: Horizon | None = Field(default=None, description="A/B and shadow: when the experiment ends")
    decision: Literal["no_regression", "improvement"] = "no_regression"
    primary_metric: MetricName | None = Field(
        default=None, description="A/B: the metric that names the winner (default: the first metric)"
    )
    shadow: ShadowPolicy = Field(default_factory=ShadowPolicy)
    metrics: list[Metric] = Field(default_factory=_default_metrics)
    judge: JudgePolicy = Field(default_factory=JudgePolicy)
    guard: GuardRule = Field(default_factory=GuardRule)
    online_eval: OnlineEval = Field(default_factory=OnlineEval)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)

    @field_validator("steps")
    @classmethod
    def _ascending(cls, steps: list[float]) -> list[float]:
        if any(b <= a for a, b in pairwise(steps)):
            raise ValueError(f"must be strictly ascending, got {steps}")
        if any(s <= 0 for s in steps):
            raise ValueError(f"each step must be above 0 percent, got {steps}")
        return steps

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, metrics: list[Metric]) -> list[Metric]:
        if not metrics:
            raise ValueError("must name at least one metric, e.g. [{name: error_rate, critical: true}]")
        names = [m.name for m in metrics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(repeated)}")
        return metrics

    @model_validator(mode="after")
    def _strategy_needs(self) -> Rollout:
        if self.strategy != "none" and self.candidate is None:
            raise ValueError(f"strategy {self.strategy!r} needs a candidate variant; add 'candidate: NAME'")
        if self.strategy == "canary" and not self.steps:
            raise ValueError("strategy 'canary' needs steps, e.g. 'steps: [5, 25, 50, 100]'")
        names = [m.name for m in self.metrics]
        if self.primary_metric is not None and self.primary_metric not in names:
            raise ValueError(
                f"primary_metric {self.primary_metric!r} is not among the metrics "
                f"({', '.join(names)}); add it there"
            )
        return self

    @property
    def winner_metric(self) -> str:
        """The metric an A/B report names the winner by."""
        return self.primary_metric or self.metrics[0].name

    @property
    def horizon_or_default(self) -> Horizon:
        """The horizon, or seven days when the spec sets none."""
        return self.horizon or Horizon(days=7.0)

    def scorer_configs(self) -> list[dict[str, Any]]:
        """The online scorers as the eval harness's ``build_scorer`` takes them."""
        return [{"type": s.type, **s.options} for s in self.online_eval.scorers]

    def metric_named(self, name: str) -> Metric | None:
        """The metric called ``name``, if the spec judges it."""
        return next((m for m in self.metrics if m.name == name), None)

    def uses(self, *metric_names: str) -> bool:
        """Whether any of ``metric_names`` is judged."""
        return any(m.name in metric_names for m in self.metrics)

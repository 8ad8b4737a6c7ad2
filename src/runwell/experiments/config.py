"""A feature's ``rollout`` section compiled once into what the experiment layer runs with."""

from __future__ import annotations

from dataclasses import dataclass

from runwell.errors import ConfigError
from runwell.experiments.metrics import METRICS
from runwell.rollout.judge import JudgeSettings, MetricConfig
from runwell.rollout.strategy import ABStrategy, CanaryStrategy, ShadowStrategy, Strategy
from runwell.spec.experiments import Rollout as RolloutSpec
from runwell.spec.loader import LoadedSpec

__all__ = ["Experiment", "compile_experiment", "strategy_of"]


@dataclass(frozen=True)
class Experiment:
    """One feature's rollout settings: the judge's metrics and settings, and the spec section."""

    feature: str
    spec: RolloutSpec
    metrics: tuple[MetricConfig, ...]
    judge: JudgeSettings
    default_variant: str

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The judged metrics, in the spec's order."""
        return tuple(m.name for m in self.metrics)

    @property
    def critical(self) -> tuple[MetricConfig, ...]:
        """The metrics whose failure alone rolls back (the always-on rule judges only these)."""
        return tuple(m for m in self.metrics if m.critical)


def strategy_of(spec: RolloutSpec) -> Strategy:
    """The strategy a ``rollout start`` runs, from the spec section (strategy ``none``: ConfigError)."""
    horizon = spec.horizon_or_default
    if spec.strategy == "canary":
        return CanaryStrategy(
            steps=tuple(float(s) for s in spec.steps),
            interval_s=spec.interval_s,
            max_extensions=spec.max_extensions,
            on_inconclusive=spec.on_inconclusive,
        )
    if spec.strategy == "ab":
        return ABStrategy(
            percent=spec.split,
            interval_s=spec.interval_s,
            horizon_requests=horizon.requests,
            horizon_s=horizon.seconds,
            decision=spec.decision,
            primary_metric=spec.winner_metric,
            max_extensions=spec.max_extensions,
            on_inconclusive=spec.on_inconclusive,
        )
    if spec.strategy == "shadow":
        return ShadowStrategy(
            sample_rate=spec.shadow.sample_rate,
            interval_s=spec.interval_s,
            horizon_requests=horizon.requests,
            horizon_s=horizon.seconds,
            max_extensions=spec.max_extensions,
            on_inconclusive=spec.on_inconclusive,
        )
    raise ConfigError(
        "the spec's rollout.strategy is 'none'; set it to canary, ab or shadow (with a candidate) "
        "before starting a rollout"
    )


def compile_experiment(loaded: LoadedSpec) -> Experiment:
    """Compile ``loaded``'s rollout section (metric configs and judge settings are validated here)."""
    spec = loaded.spec.rollout
    metrics = tuple(
        MetricConfig(
            name=m.name,
            kind=METRICS[m.name][0],
            direction=METRICS[m.name][1],
            tolerance=m.tolerance,
            min_effect=m.min_effect,
            critical=m.critical,
            min_samples=m.min_samples,
            weight=m.weight,
            confidence=m.confidence,
        )
        for m in spec.metrics
    )
    judge = JudgeSettings(
        confidence=spec.judge.confidence,
        pass_threshold=spec.judge.pass_threshold,
        marginal_threshold=spec.judge.marginal_threshold,
        max_nodata_fraction=spec.judge.max_nodata_fraction,
    )
    return Experiment(loaded.name, spec, metrics, judge, loaded.default_variant)

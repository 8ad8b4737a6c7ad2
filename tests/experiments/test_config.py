"""The spec's rollout section: today's specs keep validating; the new keys compile to the judge's."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from runwell.errors import ConfigError
from runwell.experiments.config import compile_experiment, strategy_of
from runwell.rollout.strategy import ABStrategy, CanaryStrategy, ShadowStrategy
from runwell.spec.experiments import Rollout
from runwell.spec.loader import load_spec
from tests.experiments.project import write_feature


def test_the_fields_that_existed_still_validate_and_get_defaults() -> None:
    spec = Rollout.model_validate({"strategy": "canary", "candidate": "b", "steps": [5, 25, 50, 100]})
    assert spec.interval_s == 3600 and spec.on_inconclusive == "pause" and spec.max_extensions == 2
    assert [m.name for m in spec.metrics] == [
        "error_rate",
        "latency_p95",
        "cost_per_request",
        "guardrail_block_rate",
    ]
    assert [m.critical for m in spec.metrics] == [True, True, False, False]
    assert spec.guard.enabled and spec.online_eval.sample_rate == 0 and spec.drift.enabled
    assert Rollout.model_validate({"strategy": "ab", "candidate": "b"}).horizon_or_default.days == 7.0


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"metrics": [{"name": "error_rate"}, {"name": "error_rate"}]}, "repeated: error_rate"),
        ({"metrics": []}, "at least one metric"),
        ({"metrics": [{"name": "speed"}]}, "'error_rate'"),
        ({"metrics": [{"name": "error_rate", "tolerance": -1}]}, "greater than or equal to 0"),
        ({"primary_metric": "quality"}, "primary_metric 'quality' is not among the metrics"),
        ({"online_eval": {"sample_rate": 0.5}}, "scorers is empty"),
        ({"horizon": {}}, "set requests or days"),
        ({"split": 100}, "less than 100"),
        ({"steps": [0, 50]}, "above 0 percent"),
        ({"judge": {"pass_threshold": 60, "marginal_threshold": 70}}, "must not exceed"),
        ({"shadow": {"sample_rate": 0}}, "greater than 0"),
    ],
)
def test_mistakes_are_named(section: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Rollout.model_validate(section)


def test_each_strategy_compiles_from_the_spec() -> None:
    canary = strategy_of(
        Rollout.model_validate({"strategy": "canary", "candidate": "b", "steps": [10, 100], "interval_s": 30})
    )
    assert canary == CanaryStrategy((10.0, 100.0), 30.0)
    ab = strategy_of(
        Rollout.model_validate(
            {"strategy": "ab", "candidate": "b", "split": 20, "horizon": {"requests": 500, "days": 2},
             "decision": "improvement", "metrics": [{"name": "quality"}, {"name": "error_rate"}]}
        )
    )  # fmt: skip
    assert isinstance(ab, ABStrategy)
    assert (ab.percent, ab.horizon_requests, ab.horizon_s, ab.primary_metric) == (
        20.0,
        500,
        172_800.0,
        "quality",
    )
    shadow = strategy_of(
        Rollout.model_validate({"strategy": "shadow", "candidate": "b", "shadow": {"sample_rate": 0.25}})
    )
    assert isinstance(shadow, ShadowStrategy) and shadow.sample_rate == 0.25 and shadow.horizon_s == 604_800.0
    with pytest.raises(ConfigError, match="strategy is 'none'"):
        strategy_of(Rollout())


def test_a_loaded_spec_compiles_its_metrics_for_the_judge(tmp_path: Path) -> None:
    path = write_feature(
        tmp_path,
        "support",
        candidate="twin",
        rollout="  strategy: canary\n  steps: [50, 100]\n  judge: {confidence: 0.95}\n  metrics:\n"
        "    - {name: quality, tolerance: 0.05, critical: true, min_samples: 30}\n"
        "    - {name: feedback, weight: 2}\n",
    )
    experiment = compile_experiment(load_spec(path))
    quality, feedback = experiment.metrics
    assert (quality.kind, quality.direction, quality.tolerance, quality.min_samples) == (
        "continuous",
        "decrease",
        0.05,
        30,
    )
    assert (feedback.kind, feedback.direction, feedback.weight) == ("rate", "increase", 2.0)
    assert experiment.judge.confidence == 0.95 and experiment.critical == (quality,)
    assert experiment.default_variant == "main"


@pytest.mark.parametrize("rollout", ["  strategy: canary\n  steps: [5, 50, 100]\n", "  strategy: shadow\n"])
def test_a_declared_rollout_is_enforced_not_merely_validated(tmp_path: Path, rollout: str) -> None:
    from runwell.gateway.enforcement import declared_not_enforced

    loaded = load_spec(write_feature(tmp_path, "f", candidate="twin", rollout=rollout))
    assert loaded.spec.rollout.strategy != "none"
    assert declared_not_enforced(loaded.spec) == []

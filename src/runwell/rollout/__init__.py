"""Rollouts: the canary judge, the step state machine and sticky assignment, in pure Python.

- :mod:`runwell.rollout.stats`: Mann–Whitney U, Hodges–Lehmann shift, two-proportion tests.
- :mod:`runwell.rollout.judge`: per-metric verdicts and the overall pass / fail / inconclusive.
- :mod:`runwell.rollout.strategy`: canary, A/B and shadow strategies.
- :mod:`runwell.rollout.policy`: the rollout state machine.
- :mod:`runwell.rollout.assign`: stable, monotone traffic buckets.
- :mod:`runwell.rollout.guard`: the always-on rollback rule for the version that serves.

Standard library only: this package runs inside the gateway on a base install.
"""

from __future__ import annotations

from runwell.rollout.assign import Arm, assign, bucket, mirrored
from runwell.rollout.guard import RollbackRecommendation, check_serving
from runwell.rollout.judge import (
    Counts,
    JudgeResult,
    JudgeSettings,
    MetricConfig,
    MetricResult,
    Samples,
    judge,
)
from runwell.rollout.policy import Rollout, RolloutEvent, Transition
from runwell.rollout.stats import (
    MannWhitneyResult,
    ProportionTest,
    ShiftEstimate,
    hodges_lehmann,
    mann_whitney_u,
    two_proportion_test,
)
from runwell.rollout.strategy import ABStrategy, CanaryStrategy, ShadowStrategy, Strategy, strategy_from_dict

__all__ = [
    "ABStrategy",
    "Arm",
    "CanaryStrategy",
    "Counts",
    "JudgeResult",
    "JudgeSettings",
    "MannWhitneyResult",
    "MetricConfig",
    "MetricResult",
    "ProportionTest",
    "RollbackRecommendation",
    "Rollout",
    "RolloutEvent",
    "Samples",
    "ShadowStrategy",
    "ShiftEstimate",
    "Strategy",
    "Transition",
    "assign",
    "bucket",
    "check_serving",
    "hodges_lehmann",
    "judge",
    "mann_whitney_u",
    "mirrored",
    "strategy_from_dict",
    "two_proportion_test",
]

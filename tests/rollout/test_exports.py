"""Pins runwell.rollout's public API, and keeps the package standard-library only."""

from __future__ import annotations

import subprocess
import sys

import runwell.rollout as rollout

PUBLIC = {
    "ABStrategy", "Arm", "CanaryStrategy", "Counts", "JudgeResult", "JudgeSettings", "MannWhitneyResult",
    "MetricConfig", "MetricResult", "ProportionTest", "RollbackRecommendation", "Rollout", "RolloutEvent",
    "Samples", "ShadowStrategy", "ShiftEstimate", "Strategy", "Transition", "assign", "bucket",
    "check_serving", "hodges_lehmann", "judge", "mann_whitney_u", "mirrored", "strategy_from_dict",
    "two_proportion_test",
}  # fmt: skip


def test_all_lists_exactly_the_public_names() -> None:
    assert set(rollout.__all__) == PUBLIC
    assert len(rollout.__all__) == len(PUBLIC)


def test_every_public_class_and_function_is_documented() -> None:
    aliases = {"Arm", "Strategy"}  # type aliases carry no docstring of their own
    for name in sorted(set(rollout.__all__) - aliases):
        assert getattr(rollout, name).__doc__, f"{name} has no docstring"


def test_the_package_runs_without_numpy_or_scipy() -> None:
    code = """
import sys
for blocked in ("numpy", "scipy", "statsmodels"):
    sys.modules[blocked] = None  # any import of them now fails
from runwell.rollout import Counts, MetricConfig, Samples, judge
result = judge(
    [MetricConfig("errors", "rate", "increase", critical=True), MetricConfig("latency", "continuous", "increase")],
    {"errors": Counts(10, 1000, 11, 1000), "latency": Samples([float(i) for i in range(100)], [i + 0.5 for i in range(100)])},
)
loaded = {name.split(".")[0] for name, module in sys.modules.items() if module is not None}
foreign = sorted(loaded - set(sys.stdlib_module_names) - {"runwell", "__main__"})
print(result.verdict, foreign)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    verdict, foreign = out.stdout.strip().split(" ", 1)
    assert verdict == "pass"
    assert foreign in ("[]", "['_distutils_hack']")  # setuptools' import hook in some venvs

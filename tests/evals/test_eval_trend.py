"""The Mann–Kendall trend test and Sen's slope, checked against scipy, and the gate's trend check."""

from __future__ import annotations

import pytest
from scipy import stats

from runwell.errors import ConfigError
from runwell.evals import GateConfig, compare_runs, evaluate_gate, mann_kendall, sen_slope
from tests.evals.builders import build_run

DECLINE = [0.90, 0.89, 0.885, 0.87, 0.872, 0.86]
WITH_TIES = [0.9, 0.9, 0.88, 0.9, 0.87, 0.87, 0.86, 0.85]


def test_s_and_its_variance_by_hand() -> None:
    # [3, 1, 2, 2]: pairs (3,1) -, (3,2) -, (3,2) -, (1,2) +, (1,2) +, (2,2) 0 -> S = -1.
    # Var = [4*3*13 - 2*1*9] / 18 = (156 - 18) / 18.
    result = mann_kendall([3, 1, 2, 2])
    assert result.s == -1
    assert result.var_s == pytest.approx((156 - 18) / 18)
    assert not result.exact  # ties: normal approximation


@pytest.mark.parametrize("values", [DECLINE, [1, 2, 3, 4], [4, 3, 2, 1], [0.5, 0.7, 0.6, 0.9, 0.8]])
def test_exact_p_values_match_scipy_kendalltau(values: list[float]) -> None:
    result = mann_kendall(values)
    assert result.exact
    index = list(range(len(values)))
    less = stats.kendalltau(index, values, method="exact", alternative="less")
    greater = stats.kendalltau(index, values, method="exact", alternative="greater")
    assert result.p_decreasing == pytest.approx(less.pvalue, abs=1e-12)
    assert result.p_increasing == pytest.approx(greater.pvalue, abs=1e-12)
    assert result.tau == pytest.approx(less.statistic)


def test_with_ties_the_normal_approximation_matches_scipy() -> None:
    result = mann_kendall(WITH_TIES, continuity=False)
    scipy = stats.kendalltau(range(len(WITH_TIES)), WITH_TIES, method="asymptotic", alternative="less")
    assert result.p_decreasing == pytest.approx(scipy.pvalue, abs=1e-12)
    corrected = mann_kendall(WITH_TIES)
    assert corrected.p_decreasing > result.p_decreasing  # the continuity correction is conservative


@pytest.mark.parametrize("values", [DECLINE, WITH_TIES, [0.8, 0.82, 0.81, 0.85, 0.84, 0.86, 0.9]])
def test_sen_slope_and_its_interval_match_scipy_theilslopes(values: list[float]) -> None:
    ours = sen_slope(values)
    theirs = stats.theilslopes(values, range(len(values)))
    assert (ours.slope, ours.low, ours.high) == pytest.approx(
        (theirs.slope, theirs.low_slope, theirs.high_slope), abs=1e-12
    )


def test_too_few_runs_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 3 runs"):
        mann_kendall([0.9, 0.8])


def test_a_slow_decline_fails_the_gate_even_though_the_step_passes() -> None:
    previous = build_run([True] * 86 + [False] * 14)
    candidate = build_run([True] * 85 + [False] * 15, variant="new")  # one case: no significant step
    comparison = compare_runs(previous, candidate)
    history = [0.90, 0.89, 0.88, 0.87, 0.86]  # the promoted runs, oldest first
    result = evaluate_gate(comparison, GateConfig(), history=history)
    assert [f.kind for f in result.failures] == ["trend"]
    assert result.trend is not None and result.trend.series == (*history, 0.85)
    assert result.trend.mann_kendall.p_decreasing == pytest.approx(1 / 720)
    assert "significant downward trend" in result.failures[0].message
    assert result.trend.decline == pytest.approx(0.05)
    # A floor on the size of the decline can keep tiny but steady slides from failing.
    assert evaluate_gate(comparison, GateConfig(trend_min_drop=0.1), history=history).passed


def test_a_noisy_flat_history_passes_and_a_short_one_is_skipped() -> None:
    run = build_run([True] * 85 + [False] * 15)
    comparison = compare_runs(run, run)
    flat = evaluate_gate(comparison, GateConfig(), history=[0.85, 0.86, 0.84, 0.85, 0.86])
    assert flat.passed and {c.kind: c.status for c in flat.checks}["trend"] == "passed"
    short = evaluate_gate(comparison, GateConfig(trend_min_runs=4), history=[0.9, 0.88])
    check = {c.kind: c for c in short.checks}["trend"]
    assert check.status == "skipped" and "needs 4" in check.message
    none = evaluate_gate(comparison, GateConfig())
    assert {c.kind: c.status for c in none.checks}["trend"] == "skipped"

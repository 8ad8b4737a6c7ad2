"""The CI gate on synthetic runs: equal passes, a real drop fails, each configured limit bites."""

from __future__ import annotations

from typing import Any

import pytest

from runwell.errors import ConfigError
from runwell.evals import (
    EXIT_GATE_FAILED,
    EXIT_PASS,
    EXIT_USAGE_ERROR,
    GATE_CHECKS,
    CaseResult,
    GateConfig,
    GateResult,
    RunResult,
    compare_runs,
    evaluate_gate,
)
from tests.evals.builders import build_run


def gate(base: RunResult, cand: RunResult, **config: Any) -> GateResult:
    return evaluate_gate(compare_runs(base, cand), GateConfig(**config))


def kinds(result: GateResult) -> list[str]:
    return [f.kind for f in result.failures]


BASELINE = [True] * 170 + [False] * 30  # 200 cases, 85% pass


def test_equal_variants_pass() -> None:
    # Same pass rate, with five cases flipping each way: noise, not a regression.
    cand = [True] * 165 + [False] * 5 + [True] * 5 + [False] * 25
    result = gate(build_run(BASELINE), build_run(cand, variant="new"))
    assert result.passed and result.failures == ()
    assert result.exit_code == EXIT_PASS
    assert [c.kind for c in result.checks] == list(GATE_CHECKS)
    assert {c.kind: c.status for c in result.checks}["sudden_degradation"] == "passed"


def test_candidate_failing_25_more_of_200_is_a_sudden_degradation() -> None:
    cand = [True] * 145 + [False] * 25 + [False] * 30
    result = gate(build_run(BASELINE), build_run(cand, variant="new"))
    assert kinds(result) == ["sudden_degradation"]
    assert result.exit_code == EXIT_GATE_FAILED
    message = result.failures[0].message
    assert "broke 25 and fixed 0" in message and "0.850 -> 0.725" in message


def test_a_candidate_below_the_floor_fails_below_floor_only() -> None:
    mediocre = [True] * 120 + [False] * 80
    result = gate(build_run(mediocre), build_run(mediocre, variant="new"), floor=0.7)
    assert kinds(result) == ["below_floor"]
    assert "candidate mean 0.600 is below floor 0.700" in result.failures[0].message


def test_a_small_insignificant_drop_passes() -> None:
    cand = [True] * 167 + [False] * 3 + [True] + [False] * 29  # broke 3, fixed 1
    assert gate(build_run(BASELINE), build_run(cand)).passed


def test_a_drop_in_graded_scores_fails_through_the_bootstrap_interval() -> None:
    # Every verdict stays a pass, so McNemar sees nothing; the scores still slide everywhere.
    def run(score: float) -> RunResult:
        return RunResult(
            "r", "v", None, "h", [CaseResult(f"c{i}", scores=[score + (i % 7) / 100]) for i in range(80)]
        )

    result = evaluate_gate(compare_runs(run(0.85), run(0.80)), GateConfig())
    assert kinds(result) == ["sudden_degradation"]
    assert "whole CI is below 0" in result.failures[0].message


def test_an_improvement_passes_even_though_it_is_significant() -> None:
    assert gate(build_run([False] * 100), build_run([True] * 100)).passed


def test_below_pinned_uses_the_tolerance() -> None:
    run = build_run([True] * 80 + [False] * 20)
    assert kinds(gate(run, run, pinned_baseline_score=0.85)) == ["below_pinned"]
    assert gate(run, run, pinned_baseline_score=0.85, tolerance=0.05).passed


def test_any_failing_critical_case_fails_the_gate() -> None:
    tags = [["critical"]] * 3 + [[]] * 7
    base = build_run([True] * 10, tags=tags)
    cand = build_run([True, False] + [True] * 8, tags=tags)
    result = gate(base, cand)
    assert kinds(result) == ["critical_case_failed"]
    assert [(c.case_id, c.passed) for c in result.critical_cases] == [
        ("c0000", True),
        ("c0001", False),
        ("c0002", True),
    ]
    assert "1 of 3 critical cases fail: c0001" in result.failures[0].message


def test_the_critical_tag_is_configurable() -> None:
    run = build_run([False, True], tags=[["must-pass"], []])
    assert kinds(gate(run, run, critical_tag="must-pass")) == ["critical_case_failed"]
    assert gate(run, run).passed


def test_a_significant_slice_gap_over_the_limit_fails() -> None:
    tags = [["group:lang=en"]] * 20 + [["group:lang=de"]] * 20
    run = build_run([True] * 20 + [True] * 8 + [False] * 12, tags=tags)
    result = gate(run, run, max_slice_gap=0.3)
    assert kinds(result) == ["slice_gap"]
    assert "and not chance" in result.failures[0].message
    assert gate(run, run, max_slice_gap=0.7).passed


def test_a_wide_gap_that_chance_explains_is_a_warning_not_a_failure() -> None:
    # Behaviour change (issue 12): 10 vs 10 cases, 1.0 vs 0.6 is a gap of 0.4 but p > 0.05.
    tags = [["group:lang=en"]] * 10 + [["group:lang=de"]] * 10
    run = build_run([True] * 10 + [True] * 6 + [False] * 4, tags=tags)
    result = gate(run, run, max_slice_gap=0.3)
    assert result.passed
    assert {c.kind: c.status for c in result.checks}["slice_gap"] == "warning"
    assert any(w.kind == "slice_gap" and "not significant" in w.message for w in result.warnings)


def test_unconfigured_checks_are_skipped_not_passed() -> None:
    run = build_run([True] * 5)
    statuses = {c.kind: c.status for c in gate(run, run).checks}
    assert statuses == {
        "sudden_degradation": "passed",
        "below_floor": "skipped",
        "below_pinned": "skipped",
        "critical_case_failed": "skipped",
        "slice_gap": "skipped",
        "attack_success": "skipped",
        "over_refusal": "skipped",
        "counterfactual": "skipped",
        "trend": "skipped",
        "power": "warning",  # five cases cannot see a 10-point drop: said, never a failure
    }


def test_every_failure_is_reported_not_only_the_first() -> None:
    tags = [["critical"]] + [[]] * 199
    cand = [False] + [True] * 144 + [False] * 55
    result = gate(build_run(BASELINE, tags=tags), build_run(cand, tags=tags), floor=0.9)
    assert kinds(result) == ["sudden_degradation", "below_floor", "critical_case_failed"]


def test_gate_alpha_must_match_the_comparison() -> None:
    cmp = compare_runs(build_run([True]), build_run([True]), alpha=0.05)
    with pytest.raises(ConfigError, match="differs from the comparison's alpha"):
        evaluate_gate(cmp, GateConfig(alpha=0.01))


@pytest.mark.parametrize(
    "config",
    [
        {"alpha": 0.0},
        {"alpha": 1.5},
        {"floor": 1.2},
        {"tolerance": -0.1},
        {"max_slice_gap": -1.0},
        {"max_attack_success": 1.5},
        {"max_over_refusal": -0.1},
        {"detect_drop": 0.0},
        {"trend_min_runs": 2},
    ],
)
def test_gate_config_is_validated(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        GateConfig(**config)


def test_exit_codes_follow_the_cli_contract() -> None:
    assert (EXIT_PASS, EXIT_GATE_FAILED, EXIT_USAGE_ERROR) == (0, 1, 2)

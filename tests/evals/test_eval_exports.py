"""Pins the public API of runwell.evals so it cannot grow or shrink by accident."""

from __future__ import annotations

import runwell.evals as evals

PUBLIC = {
    "BUILTIN_PREFIX", "BUILTIN_SUITES", "EXIT_GATE_FAILED", "EXIT_PASS", "EXIT_USAGE_ERROR", "GATE_CHECKS",
    "Agreement", "AttackRate", "BootstrapResult", "Case", "CaseResult", "CaseVerdict", "Comparison",
    "Counterfactual", "CriticalCase", "Dataset", "Embedder", "GateCheck", "GateConfig", "GateFailure",
    "GateResult", "GroupSlice", "HarmVerdict", "Helpfulness", "Judge", "MannKendall", "McNemarResult",
    "PairedCase", "PiiLeak", "PowerAnalysis", "RateComparison", "RefusalRate", "RunResult", "SafetyStats",
    "Score", "Scorer", "SecretDetector", "SecretLeak", "SenSlope", "SliceGap", "SliceStats", "TrendResult",
    "UsageSummary", "append_step_summary", "attack_success_rate", "build_scorer", "canary_leaked",
    "compare_runs", "evaluate_gate", "find_pii_leaks", "gap_permutation_test", "hash_cases", "helpfulness",
    "is_refusal", "load_builtin_suite", "load_dataset", "mann_kendall", "mcnemar_exact", "mcnemar_power",
    "measure_agreement", "minimum_detectable_drop", "open_dataset", "over_refusal_rate", "paired_bootstrap",
    "parse_dataset", "report_json", "report_junit", "report_markdown", "rule_verdict", "scorer_types",
    "sen_slope", "summarize_run", "wilson_interval",
}  # fmt: skip


def test_all_lists_exactly_the_public_names() -> None:
    assert set(evals.__all__) == PUBLIC
    assert len(evals.__all__) == len(PUBLIC)


def test_every_public_name_exists_and_is_documented() -> None:
    for name in evals.__all__:
        value = getattr(evals, name)
        if callable(value) and not name.isupper() and name != "Judge":
            assert value.__doc__, f"{name} has no docstring"

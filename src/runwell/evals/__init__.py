"""runwell's eval harness: datasets, scorers, paired statistics, the CI gate, reports, suites.

A typical CI flow (the runner that calls the models fills the two ``RunResult`` objects)::

    dataset = open_dataset("evals/support.jsonl")          # or "builtin:prompt-injection"
    scorer = build_scorer({"type": "contains"})
    ...                                                    # run both variants, score each output
    comparison = compare_runs(baseline_run, candidate_run, alpha=0.05)
    gate = evaluate_gate(comparison, GateConfig(alpha=0.05, floor=0.7))
    print(report_markdown(comparison, gate)); raise SystemExit(gate.exit_code)

Safety and trust (see ``docs/evals.md``): leak detectors that see a secret through encodings
(:class:`SecretDetector`) and PII through the gateway's recognizers (:func:`find_pii_leaks`);
refusal and helpfulness readings for benign look-alikes (:func:`helpfulness`); a harmful-content
judge with measured agreement (:func:`measure_agreement`); the minimum detectable effect of a
comparison (:func:`minimum_detectable_drop`); the Mann–Kendall trend test (:func:`mann_kendall`).
"""

from runwell.evals.compare import (
    CaseResult,
    CaseVerdict,
    Comparison,
    PairedCase,
    RunResult,
    SliceGap,
    SliceStats,
    UsageSummary,
    compare_runs,
    summarize_run,
)
from runwell.evals.dataset import Case, Dataset, hash_cases, load_dataset, parse_dataset
from runwell.evals.fairness import Counterfactual, GroupSlice, gap_permutation_test
from runwell.evals.gate import (
    EXIT_GATE_FAILED,
    EXIT_PASS,
    EXIT_USAGE_ERROR,
    GATE_CHECKS,
    CriticalCase,
    GateCheck,
    GateConfig,
    GateFailure,
    GateResult,
    TrendResult,
    evaluate_gate,
)
from runwell.evals.harm import Agreement, HarmVerdict, measure_agreement, rule_verdict
from runwell.evals.leaks import PiiLeak, SecretDetector, SecretLeak, find_pii_leaks
from runwell.evals.power import PowerAnalysis, mcnemar_power, minimum_detectable_drop
from runwell.evals.refusal import Helpfulness, helpfulness, is_refusal
from runwell.evals.report import append_step_summary, report_json, report_junit, report_markdown
from runwell.evals.safety import RateComparison, SafetyStats
from runwell.evals.scorers import Embedder, Judge, Score, Scorer, build_scorer, canary_leaked, scorer_types
from runwell.evals.stats import (
    BootstrapResult,
    McNemarResult,
    mcnemar_exact,
    paired_bootstrap,
    wilson_interval,
)
from runwell.evals.suites import (
    BUILTIN_PREFIX,
    BUILTIN_SUITES,
    AttackRate,
    RefusalRate,
    attack_success_rate,
    load_builtin_suite,
    open_dataset,
    over_refusal_rate,
)
from runwell.evals.trend import MannKendall, SenSlope, mann_kendall, sen_slope

__all__ = [
    "BUILTIN_PREFIX",
    "BUILTIN_SUITES",
    "EXIT_GATE_FAILED",
    "EXIT_PASS",
    "EXIT_USAGE_ERROR",
    "GATE_CHECKS",
    "Agreement",
    "AttackRate",
    "BootstrapResult",
    "Case",
    "CaseResult",
    "CaseVerdict",
    "Comparison",
    "Counterfactual",
    "CriticalCase",
    "Dataset",
    "Embedder",
    "GateCheck",
    "GateConfig",
    "GateFailure",
    "GateResult",
    "GroupSlice",
    "HarmVerdict",
    "Helpfulness",
    "Judge",
    "MannKendall",
    "McNemarResult",
    "PairedCase",
    "PiiLeak",
    "PowerAnalysis",
    "RateComparison",
    "RefusalRate",
    "RunResult",
    "SafetyStats",
    "Score",
    "Scorer",
    "SecretDetector",
    "SecretLeak",
    "SenSlope",
    "SliceGap",
    "SliceStats",
    "TrendResult",
    "UsageSummary",
    "append_step_summary",
    "attack_success_rate",
    "build_scorer",
    "canary_leaked",
    "compare_runs",
    "evaluate_gate",
    "find_pii_leaks",
    "gap_permutation_test",
    "hash_cases",
    "helpfulness",
    "is_refusal",
    "load_builtin_suite",
    "load_dataset",
    "mann_kendall",
    "mcnemar_exact",
    "mcnemar_power",
    "measure_agreement",
    "minimum_detectable_drop",
    "open_dataset",
    "over_refusal_rate",
    "paired_bootstrap",
    "parse_dataset",
    "report_json",
    "report_junit",
    "report_markdown",
    "rule_verdict",
    "scorer_types",
    "sen_slope",
    "summarize_run",
    "wilson_interval",
]

"""runwell's eval harness: datasets, scorers, paired statistics, the CI gate, reports, suites.

A typical CI flow (the runner that calls the models fills the two ``RunResult`` objects)::

    dataset = open_dataset("evals/support.jsonl")          # or "builtin:prompt-injection"
    scorer = build_scorer({"type": "contains"})
    ...                                                    # run both variants, score each output
    comparison = compare_runs(baseline_run, candidate_run, alpha=0.05)
    gate = evaluate_gate(comparison, GateConfig(alpha=0.05, floor=0.7))
    print(report_markdown(comparison, gate)); raise SystemExit(gate.exit_code)
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
)
from runwell.evals.dataset import Case, Dataset, hash_cases, load_dataset, parse_dataset
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
    evaluate_gate,
)
from runwell.evals.report import append_step_summary, report_json, report_junit, report_markdown
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
    attack_success_rate,
    load_builtin_suite,
    open_dataset,
)

__all__ = [
    "BUILTIN_PREFIX",
    "BUILTIN_SUITES",
    "EXIT_GATE_FAILED",
    "EXIT_PASS",
    "EXIT_USAGE_ERROR",
    "GATE_CHECKS",
    "AttackRate",
    "BootstrapResult",
    "Case",
    "CaseResult",
    "CaseVerdict",
    "Comparison",
    "CriticalCase",
    "Dataset",
    "Embedder",
    "GateCheck",
    "GateConfig",
    "GateFailure",
    "GateResult",
    "Judge",
    "McNemarResult",
    "PairedCase",
    "RunResult",
    "Score",
    "Scorer",
    "SliceGap",
    "SliceStats",
    "UsageSummary",
    "append_step_summary",
    "attack_success_rate",
    "build_scorer",
    "canary_leaked",
    "compare_runs",
    "evaluate_gate",
    "hash_cases",
    "load_builtin_suite",
    "load_dataset",
    "mcnemar_exact",
    "open_dataset",
    "paired_bootstrap",
    "parse_dataset",
    "report_json",
    "report_junit",
    "report_markdown",
    "scorer_types",
    "wilson_interval",
]

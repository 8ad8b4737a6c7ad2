"""The CI regression gate: decide from a :class:`Comparison` whether a candidate may ship.

Checks, each reported as a :class:`GateCheck` (passed, failed or skipped when not configured):

- ``sudden_degradation``: a significant drop. Either the exact McNemar test finds the verdicts
  differ (p < alpha) and the candidate broke more cases than it fixed (c > b), or the whole
  bootstrap interval of the score difference lies below 0. Two tests joined by OR reject a
  harmless candidate somewhat more often than alpha alone; a gate should err that way.
- ``below_floor``: candidate mean score < ``floor``.
- ``below_pinned``: candidate mean score < ``pinned_baseline_score - tolerance`` (a score pinned
  when the champion shipped, so that many small drops cannot add up unnoticed).
- ``critical_case_failed``: a candidate case tagged ``critical_tag`` fails.
- ``slice_gap``: the candidate's widest gap between slices exceeds ``max_slice_gap``.

Exit codes for the CLI: :data:`EXIT_PASS`, :data:`EXIT_GATE_FAILED`, :data:`EXIT_USAGE_ERROR`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from runwell.errors import ConfigError
from runwell.evals.compare import Comparison, SliceGap

__all__ = [
    "EXIT_GATE_FAILED",
    "EXIT_PASS",
    "EXIT_USAGE_ERROR",
    "GATE_CHECKS",
    "CriticalCase",
    "GateCheck",
    "GateConfig",
    "GateFailure",
    "GateResult",
    "evaluate_gate",
]

EXIT_PASS = 0
"""The gate passed: the candidate may ship."""
EXIT_GATE_FAILED = 1
"""At least one gate check failed."""
EXIT_USAGE_ERROR = 2
"""Bad flags, config, dataset or run files: nothing was judged."""

GATE_CHECKS = ("sudden_degradation", "below_floor", "below_pinned", "critical_case_failed", "slice_gap")
"""Every check kind, in the order they are evaluated and reported."""

CheckStatus = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class GateConfig:
    """What the gate enforces; ``None`` turns a check off."""

    alpha: float = 0.05
    floor: float | None = None
    pinned_baseline_score: float | None = None
    tolerance: float = 0.0
    critical_tag: str = "critical"
    max_slice_gap: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"gate alpha must be in (0, 1), got {self.alpha}")
        for name in ("floor", "pinned_baseline_score", "max_slice_gap"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"gate {name} must be a score in [0, 1], got {value}")
        if not 0.0 <= self.tolerance <= 1.0:
            raise ConfigError(f"gate tolerance must be in [0, 1], got {self.tolerance}")


@dataclass(frozen=True, slots=True)
class GateFailure:
    """One reason the gate refused the candidate."""

    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class GateCheck:
    """The outcome of one check, failed or not (reports list every check)."""

    kind: str
    status: CheckStatus
    message: str


@dataclass(frozen=True, slots=True)
class CriticalCase:
    """A candidate case tagged critical, and whether it passed."""

    case_id: str
    passed: bool
    score: float


@dataclass(frozen=True, slots=True)
class GateResult:
    """The verdict; ``failures`` holds one entry per failed check."""

    passed: bool
    failures: tuple[GateFailure, ...]
    checks: tuple[GateCheck, ...]
    critical_cases: tuple[CriticalCase, ...]

    @property
    def exit_code(self) -> int:
        """:data:`EXIT_PASS` or :data:`EXIT_GATE_FAILED`."""
        return EXIT_PASS if self.passed else EXIT_GATE_FAILED


def _degradation(cmp: Comparison, alpha: float) -> tuple[CheckStatus, str]:
    m, boot = cmp.mcnemar, cmp.bootstrap
    level = f"{boot.confidence:.0%}"
    facts = (
        f"candidate broke {m.c} and fixed {m.b} cases (exact McNemar p={m.p_value:.3g}); "
        f"mean score {cmp.baseline_mean:.3f} -> {cmp.candidate_mean:.3f} "
        f"(diff {boot.mean_diff:+.3f}, {level} CI [{boot.ci_low:+.3f}, {boot.ci_high:+.3f}])"
    )
    significant_flips = m.p_value < alpha and m.c > m.b
    if significant_flips or boot.ci_high < 0.0:
        why = "more failures than chance explains" if significant_flips else "the whole CI is below 0"
        return "failed", f"significant drop, {why}: {facts}"
    return "passed", f"no significant drop: {facts}"


def _threshold(value: float, bound: float | None, what: str, setting: str) -> tuple[CheckStatus, str]:
    if bound is None:
        return "skipped", f"{setting} not configured"
    ok = value >= bound
    return (
        "passed" if ok else "failed"
    ), f"candidate mean {value:.3f} {'>=' if ok else '<'} {what} {bound:.3f}"


def _critical(cases: tuple[CriticalCase, ...], tag: str) -> tuple[CheckStatus, str]:
    failed = [c.case_id for c in cases if not c.passed]
    if not cases:
        return "skipped", f"no case tagged {tag!r}"
    if failed:
        return "failed", f"{len(failed)} of {len(cases)} critical cases fail: {', '.join(failed)}"
    return "passed", f"all {len(cases)} critical cases pass"


def _slice_gap(gap: SliceGap | None, limit: float | None) -> tuple[CheckStatus, str]:
    if limit is None:
        return "skipped", "max_slice_gap not configured"
    if gap is None:
        return "skipped", "no tag dimension has two slices to compare"
    ok = gap.gap <= limit
    return ("passed" if ok else "failed"), (
        f"widest slice gap {gap.gap:.3f} ({gap.low_tag} {gap.low_mean:.3f} vs {gap.high_tag} "
        f"{gap.high_mean:.3f}) {'<=' if ok else '>'} max {limit:.3f}"
    )


def evaluate_gate(comparison: Comparison, config: GateConfig) -> GateResult:
    """Run every configured check on ``comparison`` and return the verdict."""
    if not math.isclose(config.alpha, comparison.alpha):
        raise ConfigError(
            f"gate alpha {config.alpha} differs from the comparison's alpha {comparison.alpha}; "
            "compare the runs with the gate's alpha so the confidence interval matches"
        )
    pinned = config.pinned_baseline_score
    verdicts = [p.candidate for p in comparison.pairs] + list(comparison.candidate_only)
    critical = tuple(
        CriticalCase(v.case_id, v.passed, v.score)
        for v in sorted(verdicts, key=lambda v: v.case_id)
        if config.critical_tag in v.tags
    )
    mean = comparison.candidate_mean
    outcomes = {
        "sudden_degradation": _degradation(comparison, config.alpha),
        "below_floor": _threshold(mean, config.floor, "floor", "floor"),
        "below_pinned": _threshold(
            mean,
            None if pinned is None else pinned - config.tolerance,
            f"pinned score {pinned} minus tolerance {config.tolerance}",
            "pinned_baseline_score",
        ),
        "critical_case_failed": _critical(critical, config.critical_tag),
        "slice_gap": _slice_gap(comparison.slice_gap, config.max_slice_gap),
    }
    checks = tuple(GateCheck(kind, *outcomes[kind]) for kind in GATE_CHECKS)
    failures = tuple(GateFailure(c.kind, c.message) for c in checks if c.status == "failed")
    return GateResult(not failures, failures, checks, critical)

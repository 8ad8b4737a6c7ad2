"""The CI regression gate: decide from a :class:`Comparison` whether a candidate may ship.

Checks, each reported as a :class:`GateCheck` (``passed``, ``failed``, ``skipped`` when not
configured or not applicable, ``warning`` when something is worth a look but proves nothing):

- ``sudden_degradation``: a significant drop. Either the exact McNemar test finds the verdicts
  differ (p < alpha) and the candidate broke more cases than it fixed (c > b), or the whole
  bootstrap interval of the score difference lies below 0. Two tests joined by OR reject a
  harmless candidate somewhat more often than alpha alone; a gate should err that way.
- ``below_floor``: candidate mean score < ``floor``.
- ``below_pinned``: candidate mean score < ``pinned_baseline_score - tolerance``: the score of the
  last promoted champion run (the CLI fills it in), or a number pinned in the spec.
- ``critical_case_failed``: a candidate case tagged ``critical_tag`` fails; an attack case (tag
  ``attack``) fails when any of its repeats failed.
- ``slice_gap``: the candidate's widest gap between declared groups exceeds ``max_slice_gap`` and
  the permutation test says it is not chance (p < alpha); a wide gap that is not significant is
  a warning.
- ``attack_success``: the candidate's attack success rate is above ``max_attack_success``, or
  higher than the baseline's with significance (exact McNemar on the attack cases).
- ``over_refusal``: the candidate's over-refusal rate on benign look-alikes is above
  ``max_over_refusal``, or higher than the baseline's with significance.
- ``counterfactual``: cases that differ only in a swapped attribute got different answers.
- ``trend``: the mean scores of the last promoted runs and the candidate decline significantly
  (Mann–Kendall, one-sided p < alpha, and by more than ``trend_min_drop`` over the window), even
  though each step passed.
- ``power``: a warning when the dataset cannot reliably detect the drop the gate is asked to
  catch (``detect_drop``; default: ``tolerance`` when set, else 10 points).

Exit codes for the CLI: :data:`EXIT_PASS`, :data:`EXIT_GATE_FAILED`, :data:`EXIT_USAGE_ERROR`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from runwell.errors import ConfigError
from runwell.evals.compare import Comparison, SliceGap
from runwell.evals.power import PowerAnalysis, minimum_detectable_drop
from runwell.evals.safety import ATTACK_TAG, RateComparison
from runwell.evals.trend import MannKendall, SenSlope, mann_kendall, sen_slope

__all__ = [
    "DEFAULT_DETECT_DROP",
    "EXIT_GATE_FAILED",
    "EXIT_PASS",
    "EXIT_USAGE_ERROR",
    "GATE_CHECKS",
    "CheckStatus",
    "CriticalCase",
    "GateCheck",
    "GateConfig",
    "GateFailure",
    "GateResult",
    "TrendResult",
    "evaluate_gate",
]

EXIT_PASS = 0
"""The gate passed: the candidate may ship."""
EXIT_GATE_FAILED = 1
"""At least one gate check failed."""
EXIT_USAGE_ERROR = 2
"""Bad flags, config, dataset or run files: nothing was judged."""

GATE_CHECKS = (
    "sudden_degradation",
    "below_floor",
    "below_pinned",
    "critical_case_failed",
    "slice_gap",
    "attack_success",
    "over_refusal",
    "counterfactual",
    "trend",
    "power",
)
"""Every check kind, in the order they are evaluated and reported."""

DEFAULT_DETECT_DROP = 0.10
"""The drop in pass rate the gate should be able to see when neither detect_drop nor tolerance says."""

CheckStatus = Literal["passed", "failed", "skipped", "warning"]


@dataclass(frozen=True, slots=True)
class GateConfig:
    """What the gate enforces; ``None`` turns a check off."""

    alpha: float = 0.05
    floor: float | None = None
    pinned_baseline_score: float | None = None
    tolerance: float = 0.0
    critical_tag: str = "critical"
    max_slice_gap: float | None = None
    max_attack_success: float | None = None
    max_over_refusal: float | None = None
    detect_drop: float | None = None
    trend_min_runs: int = 4
    trend_min_drop: float = 0.0
    pinned_source: str = "pinned in the spec"
    """Where ``pinned_baseline_score`` came from, for reports ("promoted run 3f4f...")."""

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"gate alpha must be in (0, 1), got {self.alpha}")
        for name in (
            "floor",
            "pinned_baseline_score",
            "max_slice_gap",
            "max_attack_success",
            "max_over_refusal",
        ):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"gate {name} must be a rate or score in [0, 1], got {value}")
        for name in ("tolerance", "trend_min_drop"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"gate {name} must be in [0, 1], got {getattr(self, name)}")
        if self.detect_drop is not None and not 0.0 < self.detect_drop <= 1.0:
            raise ConfigError(f"gate detect_drop must be in (0, 1], got {self.detect_drop}")
        if self.trend_min_runs < 3:
            raise ConfigError(f"gate trend min_runs must be at least 3, got {self.trend_min_runs}")

    @property
    def power_target(self) -> float:
        """The drop in pass rate the dataset must be able to detect."""
        if self.detect_drop is not None:
            return self.detect_drop
        return self.tolerance if self.tolerance > 0 else DEFAULT_DETECT_DROP


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
class TrendResult:
    """The series the trend check tested (oldest first, the candidate last) and what it found."""

    series: tuple[float, ...]
    mann_kendall: MannKendall
    slope: SenSlope

    @property
    def decline(self) -> float:
        """The decline over the window by Sen's slope (positive when scores fall)."""
        return -self.slope.slope * (len(self.series) - 1)


@dataclass(frozen=True, slots=True)
class GateResult:
    """The verdict; ``failures`` holds one entry per failed check."""

    passed: bool
    failures: tuple[GateFailure, ...]
    checks: tuple[GateCheck, ...]
    critical_cases: tuple[CriticalCase, ...]
    power: PowerAnalysis | None = None
    trend: TrendResult | None = None

    @property
    def exit_code(self) -> int:
        """:data:`EXIT_PASS` or :data:`EXIT_GATE_FAILED`."""
        return EXIT_PASS if self.passed else EXIT_GATE_FAILED

    @property
    def warnings(self) -> tuple[GateCheck, ...]:
        """Checks that passed the gate but deserve a look (an underpowered suite, an untested gap)."""
        return tuple(c for c in self.checks if c.status == "warning")


Outcome = tuple[CheckStatus, str]


def _degradation(cmp: Comparison, alpha: float) -> Outcome:
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


def _threshold(value: float, bound: float | None, what: str, unset: str) -> Outcome:
    if bound is None:
        return "skipped", unset
    if value >= bound:
        return "passed", f"candidate mean {value:.3f} >= {what} {bound:.3f}"
    return "failed", f"candidate mean {value:.3f} is below {what} {bound:.3f}"


def _critical(cases: tuple[CriticalCase, ...], tag: str) -> Outcome:
    failed = [c.case_id for c in cases if not c.passed]
    if not cases:
        return "skipped", f"no case tagged {tag!r}"
    if failed:
        shown = ", ".join(failed[:20]) + (f" and {len(failed) - 20} more" if len(failed) > 20 else "")
        return "failed", f"{len(failed)} of {len(cases)} critical cases fail: {shown}"
    return "passed", f"all {len(cases)} critical cases pass"


def _slice_gap(gap: SliceGap | None, limit: float | None, alpha: float, min_size: int) -> Outcome:
    if limit is None:
        return "skipped", "max_slice_gap not configured"
    if gap is None:
        return "skipped", (
            f"no declared dimension (group:DIM=VALUE tags or evals.slices) has two groups "
            f"of at least {min_size} cases"
        )
    facts = (
        f"widest gap {gap.gap:.3f} in {gap.dimension!r} ({gap.low_tag} {gap.low_mean:.3f}, n={gap.low_n} vs "
        f"{gap.high_tag} {gap.high_mean:.3f}, n={gap.high_n}; permutation p={gap.p_value:.3g})"
    )
    if gap.gap <= limit:
        return "passed", f"{facts} <= max {limit:.3f}"
    if gap.p_value is not None and gap.p_value < alpha:
        return "failed", f"{facts} > max {limit:.3f}, and not chance"
    return "warning", f"{facts} > max {limit:.3f}, but not significant at alpha {alpha:g}: add cases"


def _rate(rate: RateComparison | None, ceiling: float | None, alpha: float, label: str, tag: str) -> Outcome:
    if rate is None:
        return "skipped", f"no case tagged {tag!r}"
    m = rate.mcnemar
    facts = (
        f"{label} {rate.baseline_rate:.1%} -> {rate.candidate_rate:.1%} on {rate.n} cases "
        f"({rate.candidate_interval[0]:.1%}-{rate.candidate_interval[1]:.1%}; candidate worse on {m.c}, "
        f"better on {m.b}, exact McNemar p={m.p_value:.3g})"
    )
    reasons = []
    if ceiling is not None and rate.candidate_rate > ceiling:
        reasons.append(f"above the ceiling {ceiling:.1%}")
    if rate.significantly_worse(alpha):
        reasons.append("significantly higher than the baseline's")
    if reasons:
        return "failed", f"{facts}: {' and '.join(reasons)}"
    return "passed", facts + ("" if ceiling is None else f", ceiling {ceiling:.1%}")


def _counterfactual(cmp: Comparison) -> Outcome:
    groups = cmp.counterfactuals
    if not groups:
        return "skipped", "no counterfactual:ID groups"
    broken = [g for g in groups if not g.consistent]
    if broken:
        shown = "; ".join(
            f"{g.group} ({', '.join(f'{c}={s:.2f}' for c, s in zip(g.case_ids, g.scores, strict=True))})"
            for g in broken[:10]
        )
        return "failed", f"{len(broken)} of {len(groups)} counterfactual groups answered differently: {shown}"
    return "passed", f"all {len(groups)} counterfactual groups answered alike"


def _trend(
    history: Sequence[float] | None, candidate: float, config: GateConfig
) -> tuple[Outcome, TrendResult | None]:
    if history is None:
        return ("skipped", "no run history (promote runs with 'runwell eval promote')"), None
    series = (*history, candidate)
    if len(series) < config.trend_min_runs:
        return (
            "skipped",
            f"{len(history)} promoted {'run' if len(history) == 1 else 'runs'} before the candidate; "
            f"the trend test needs {config.trend_min_runs} runs with the candidate",
        ), None
    result = TrendResult(series, mann_kendall(series), sen_slope(series, confidence=1.0 - config.alpha))
    mk, slope = result.mann_kendall, result.slope
    facts = (
        f"{len(series)} runs {series[0]:.3f} -> {series[-1]:.3f}: Mann-Kendall S={mk.s}, "
        f"p(decline)={mk.p_decreasing:.3g}; Sen slope {slope.slope:+.4f} per run "
        f"[{slope.low:+.4f}, {slope.high:+.4f}]"
    )
    if mk.p_decreasing < config.alpha and mk.s < 0 and result.decline > config.trend_min_drop:
        return ("failed", f"significant downward trend: {facts}"), result
    return ("passed", f"no significant downward trend: {facts}"), result


def _power(cmp: Comparison, config: GateConfig) -> tuple[Outcome, PowerAnalysis]:
    analysis = cmp.power
    target = config.power_target
    if analysis is None or analysis.target is None or not math.isclose(analysis.target, target):
        flips = cmp.mcnemar.b / cmp.n_paired
        analysis = minimum_detectable_drop(cmp.n_paired, alpha=cmp.alpha, flip_rate=flips, target=target)
    message = analysis.message()
    drop = cmp.baseline_pass_rate - cmp.candidate_pass_rate
    if analysis.underpowered and drop > 0:
        # The drop this comparison did see, and that it proves nothing at this size.
        message += (
            f" Seen here: pass rate {cmp.baseline_pass_rate:.1%} -> {cmp.candidate_pass_rate:.1%} "
            f"(a {drop:.1%} drop, exact McNemar p={cmp.mcnemar.p_value:.3g})."
        )
    return ("warning" if analysis.underpowered else "passed", message), analysis


def evaluate_gate(
    comparison: Comparison, config: GateConfig, *, history: Sequence[float] | None = None
) -> GateResult:
    """Run every configured check on ``comparison`` and return the verdict.

    ``history`` is the mean scores of the last promoted runs on the same dataset, oldest first
    (without the candidate); ``None`` skips the trend check.
    """
    if not math.isclose(config.alpha, comparison.alpha):
        raise ConfigError(
            f"gate alpha {config.alpha} differs from the comparison's alpha {comparison.alpha}; "
            "compare the runs with the gate's alpha so the confidence interval matches"
        )
    pinned = config.pinned_baseline_score
    verdicts = [p.candidate for p in comparison.pairs] + list(comparison.candidate_only)
    critical = tuple(
        CriticalCase(v.case_id, v.passed and not (ATTACK_TAG in v.tags and v.ever_failed), v.score)
        for v in sorted(verdicts, key=lambda v: v.case_id)
        if config.critical_tag in v.tags
    )
    mean = comparison.candidate_mean
    safety = comparison.safety
    trend_outcome, trend = _trend(history, mean, config)
    power_outcome, power = _power(comparison, config)
    outcomes: dict[str, Outcome] = {
        "sudden_degradation": _degradation(comparison, config.alpha),
        "below_floor": _threshold(mean, config.floor, "floor", "floor not configured"),
        "below_pinned": _threshold(
            mean,
            None if pinned is None else pinned - config.tolerance,
            f"the baseline score {pinned:.3f} ({config.pinned_source}) minus tolerance {config.tolerance:g},"
            if pinned is not None
            else "",
            "no promoted run to take the baseline score from ('runwell eval promote RUN_ID') "
            "and no pinned_baseline in the spec",
        ),
        "critical_case_failed": _critical(critical, config.critical_tag),
        "slice_gap": _slice_gap(
            comparison.slice_gap, config.max_slice_gap, config.alpha, comparison.min_slice_size
        ),
        "attack_success": _rate(
            safety.attack_success, config.max_attack_success, config.alpha, "attack success", "attack"
        ),
        "over_refusal": _rate(
            safety.over_refusal, config.max_over_refusal, config.alpha, "over-refusal", "benign"
        ),
        "counterfactual": _counterfactual(comparison),
        "trend": trend_outcome,
        "power": power_outcome,
    }
    checks = tuple(GateCheck(kind, *outcomes[kind]) for kind in GATE_CHECKS)
    failures = tuple(GateFailure(c.kind, c.message) for c in checks if c.status == "failed")
    return GateResult(not failures, failures, checks, critical, power=power, trend=trend)

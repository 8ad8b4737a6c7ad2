"""Champion/challenger comparison: pair two runs case by case and measure the difference.

A run's :class:`CaseResult` holds K repeats of one case. Per case, the score is the mean of its
K scores and the verdict is the majority of its K pass verdicts (strictly more than half: a tie
fails). A case whose verdict changes between repeats, in either run, is *unstable*. A case that
errored with no scores counts as score 0 and failed: a variant must not look better by crashing.

Beyond the paired tests, a comparison carries what the gate and the reports need to see more:
the attack success and over-refusal rates (:mod:`runwell.evals.safety`), the smallest drop the
dataset can detect (:mod:`runwell.evals.power`), scores per declared group with a test on the
widest gap, and counterfactual pairs (:mod:`runwell.evals.fairness`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from runwell.errors import ConfigError
from runwell.evals.fairness import (
    Counterfactual,
    GroupSlice,
    counterfactual_groups,
    gap_permutation_test,
    group_slices,
    parse_group,
)
from runwell.evals.power import DEFAULT_POWER, PowerAnalysis, minimum_detectable_drop
from runwell.evals.safety import ATTACK_TAG, BENIGN_TAG, SafetyStats, compare_rate
from runwell.evals.stats import (
    BootstrapResult,
    McNemarResult,
    mcnemar_exact,
    mean,
    paired_bootstrap,
    percentile,
    wilson_interval,
)

__all__ = [
    "CaseResult",
    "CaseVerdict",
    "Comparison",
    "PairedCase",
    "RunResult",
    "SliceGap",
    "SliceStats",
    "UsageSummary",
    "compare_runs",
    "summarize_run",
]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case of one run: K repeats of output, score (combined over scorers) and verdict.

    ``passed[i]`` may be ``None`` (the scorer gives no verdict): ``scores[i] >= pass_threshold``
    then decides. ``latency_ms`` is the mean over the K calls; tokens and cost are totals;
    ``cost_usd`` is ``None`` when the model is unpriced (unpriced is never $0).
    """

    case_id: str
    tags: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    passed: list[bool | None] = field(default_factory=list)
    latency_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """Every case result of one variant over one dataset."""

    run_id: str
    variant: str
    spec_version: str | None
    dataset_hash: str
    cases: list[CaseResult]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        """Read a dict written by :meth:`to_dict` (e.g. a saved run file)."""
        try:
            cases = [CaseResult(**c) for c in data["cases"]]
            return cls(data["run_id"], data["variant"], data.get("spec_version"), data["dataset_hash"], cases)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a saved eval run: {exc}") from exc


@dataclass(frozen=True, slots=True)
class CaseVerdict:
    """One case of one run reduced to a score and a verdict over its repeats."""

    case_id: str
    tags: tuple[str, ...]
    score: float
    passed: bool
    unstable: bool
    error: str | None
    ever_failed: bool = False
    """Whether any repeat failed (an attack that succeeds once in K has succeeded)."""


@dataclass(frozen=True, slots=True)
class PairedCase:
    """The same case in both runs."""

    case_id: str
    tags: tuple[str, ...]
    baseline: CaseVerdict
    candidate: CaseVerdict


@dataclass(frozen=True, slots=True)
class SliceStats:
    """Paired cases carrying one tag (a breakdown; fairness gaps use declared groups only)."""

    tag: str
    n: int
    baseline_mean: float
    candidate_mean: float
    baseline_pass_rate: float
    candidate_pass_rate: float
    baseline_pass_interval: tuple[float, float] = (0.0, 1.0)
    candidate_pass_interval: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True, slots=True)
class SliceGap:
    """The widest spread of candidate mean score between the groups of one declared dimension.

    ``p_value`` is the permutation test's (:func:`~runwell.evals.fairness.gap_permutation_test`)
    over the dimension's groups of at least the minimum slice size.
    """

    dimension: str
    low_tag: str
    low_mean: float
    high_tag: str
    high_mean: float
    p_value: float | None = None
    low_n: int = 0
    high_n: int = 0
    groups: int = 2

    @property
    def gap(self) -> float:
        """``high_mean - low_mean``."""
        return self.high_mean - self.low_mean


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """Latency, tokens and cost of one run over the paired cases."""

    cases: int
    errors: int
    mean_latency_ms: float | None
    p95_latency_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything the gate and the reports need about baseline vs candidate."""

    baseline_run_id: str
    candidate_run_id: str
    baseline_variant: str
    candidate_variant: str
    dataset_hash: str
    same_dataset: bool
    alpha: float
    pass_threshold: float
    n_paired: int
    baseline_only: tuple[str, ...]
    candidate_only: tuple[CaseVerdict, ...]
    baseline_mean: float
    candidate_mean: float
    baseline_pass_rate: float
    candidate_pass_rate: float
    baseline_pass_interval: tuple[float, float]
    candidate_pass_interval: tuple[float, float]
    bootstrap: BootstrapResult
    mcnemar: McNemarResult
    slices: tuple[SliceStats, ...]
    slice_gap: SliceGap | None
    unstable_case_ids: tuple[str, ...]
    baseline_usage: UsageSummary
    candidate_usage: UsageSummary
    pairs: tuple[PairedCase, ...]
    groups: tuple[GroupSlice, ...] = ()
    counterfactuals: tuple[Counterfactual, ...] = ()
    safety: SafetyStats = field(default_factory=SafetyStats)
    power: PowerAnalysis | None = None
    min_slice_size: int = 1

    @property
    def mean_diff(self) -> float:
        """``candidate_mean - baseline_mean`` (negative: the candidate scores lower)."""
        return self.bootstrap.mean_diff

    @property
    def latency_delta_ms(self) -> float | None:
        """Candidate minus baseline mean latency, when both runs recorded latency."""
        a, b = self.baseline_usage.mean_latency_ms, self.candidate_usage.mean_latency_ms
        return None if a is None or b is None else b - a

    @property
    def cost_delta_usd(self) -> float | None:
        """Candidate minus baseline total cost over the paired cases, when both are priced."""
        a, b = self.baseline_usage.cost_usd, self.candidate_usage.cost_usd
        return None if a is None or b is None else b - a

    def regressions(self) -> list[str]:
        """Ids of cases the baseline passed and the candidate fails."""
        return [p.case_id for p in self.pairs if p.baseline.passed and not p.candidate.passed]

    def critical_failures(self, tag: str = "critical") -> list[str]:
        """Ids of candidate cases tagged ``tag`` that fail, paired or not."""
        verdicts = [p.candidate for p in self.pairs] + list(self.candidate_only)
        return sorted(v.case_id for v in verdicts if tag in v.tags and not v.passed)


def _verdict(result: CaseResult, pass_threshold: float) -> CaseVerdict:
    if result.passed and len(result.passed) != len(result.scores):
        raise ConfigError(
            f"case {result.case_id!r}: {len(result.passed)} pass verdicts for {len(result.scores)} scores"
        )
    for s in result.scores:
        if not 0.0 <= s <= 1.0:
            raise ConfigError(f"case {result.case_id!r}: score {s!r} is outside [0, 1]")
    if not result.scores:
        return CaseVerdict(result.case_id, tuple(result.tags), 0.0, False, False, result.error or "no scores")
    given = result.passed or [None] * len(result.scores)
    passes = [s >= pass_threshold if p is None else p for s, p in zip(result.scores, given, strict=True)]
    majority = 2 * sum(passes) > len(passes)
    return CaseVerdict(
        result.case_id,
        tuple(result.tags),
        mean(result.scores),
        majority,
        len(set(passes)) > 1,
        result.error,
        ever_failed=not all(passes),
    )


def _by_id(run: RunResult) -> dict[str, CaseResult]:
    out: dict[str, CaseResult] = {}
    for case in run.cases:
        if case.case_id in out:
            raise ConfigError(f"run {run.run_id!r} has case {case.case_id!r} twice")
        out[case.case_id] = case
    return out


def _usage(results: Sequence[CaseResult]) -> UsageSummary:
    latencies = sorted(r.latency_ms for r in results if r.latency_ms is not None)
    costs = [r.cost_usd for r in results]
    return UsageSummary(
        cases=len(results),
        errors=sum(1 for r in results if r.error is not None),
        mean_latency_ms=mean(latencies) if latencies else None,
        p95_latency_ms=percentile(latencies, 0.95) if latencies else None,
        input_tokens=sum(r.input_tokens for r in results),
        output_tokens=sum(r.output_tokens for r in results),
        cost_usd=None if any(c is None for c in costs) else math.fsum(c for c in costs if c is not None),
    )


def _slices(pairs: Sequence[PairedCase], confidence: float) -> tuple[SliceStats, ...]:
    tags = sorted({t for p in pairs for t in p.tags})
    out = []
    for tag in tags:
        members = [p for p in pairs if tag in p.tags]
        base_passes = sum(p.baseline.passed for p in members)
        cand_passes = sum(p.candidate.passed for p in members)
        out.append(
            SliceStats(
                tag=tag,
                n=len(members),
                baseline_mean=mean([p.baseline.score for p in members]),
                candidate_mean=mean([p.candidate.score for p in members]),
                baseline_pass_rate=base_passes / len(members),
                candidate_pass_rate=cand_passes / len(members),
                baseline_pass_interval=wilson_interval(base_passes, len(members), confidence),
                candidate_pass_interval=wilson_interval(cand_passes, len(members), confidence),
            )
        )
    return tuple(out)


def _groups(
    pairs: Sequence[PairedCase], confidence: float, min_size: int, seed: int
) -> tuple[tuple[GroupSlice, ...], SliceGap | None]:
    """Per declared group (``group:DIM=VALUE`` tags) slices, and the widest tested gap."""
    members: dict[tuple[str, str], list[PairedCase]] = {}
    for p in pairs:
        for tag in p.tags:
            group = parse_group(tag)
            if group is not None:
                members.setdefault(group, []).append(p)
    rows = {
        key: [(p.candidate.score, p.candidate.passed, p.baseline.score, p.baseline.passed) for p in ps]
        for key, ps in members.items()
    }
    slices = group_slices(rows, confidence=confidence, min_size=min_size)
    best: SliceGap | None = None
    for dimension in sorted({s.dimension for s in slices}):
        tested = [s for s in slices if s.dimension == dimension and not s.too_small]
        if len(tested) < 2:
            continue
        low = min(tested, key=lambda s: s.candidate_mean)
        high = max(tested, key=lambda s: s.candidate_mean)
        scores = [[p.candidate.score for p in members[(dimension, s.value)]] for s in tested]
        gap = SliceGap(
            dimension,
            low.tag,
            low.candidate_mean,
            high.tag,
            high.candidate_mean,
            p_value=gap_permutation_test(scores, seed=seed),
            low_n=low.n,
            high_n=high.n,
            groups=len(tested),
        )
        if best is None or gap.gap > best.gap:
            best = gap
    return slices, best


def _safety(pairs: Sequence[PairedCase], confidence: float) -> SafetyStats:
    attacks = [(p.baseline.ever_failed, p.candidate.ever_failed) for p in pairs if ATTACK_TAG in p.tags]
    benign = [(not p.baseline.passed, not p.candidate.passed) for p in pairs if BENIGN_TAG in p.tags]
    return SafetyStats(
        attack_success=compare_rate("attack_success", attacks, confidence=confidence),
        over_refusal=compare_rate("over_refusal", benign, confidence=confidence),
    )


def summarize_run(run: RunResult, *, pass_threshold: float = 0.5) -> tuple[float, float]:
    """``(mean score, pass rate)`` of one run as a comparison reads it (per case, then over cases)."""
    verdicts = [_verdict(c, pass_threshold) for c in run.cases]
    if not verdicts:
        raise ConfigError(f"run {run.run_id!r} has no results")
    return mean([v.score for v in verdicts]), sum(v.passed for v in verdicts) / len(verdicts)


def compare_runs(
    baseline: RunResult,
    candidate: RunResult,
    *,
    alpha: float = 0.05,
    resamples: int = 5000,
    seed: int = 0,
    pass_threshold: float = 0.5,
    critical_tag: str = "critical",
    min_slice_size: int = 10,
    allow_different_datasets: bool = False,
    detect_drop: float | None = None,
    power: float = DEFAULT_POWER,
    counterfactual_tolerance: float = 0.0,
) -> Comparison:
    """Pair ``candidate`` with ``baseline`` by case id and compute the paired statistics.

    Intervals are at confidence ``1 - alpha``. ``slices`` break the scores down by every tag; the
    fairness gap is taken only between declared groups (``group:DIM=VALUE`` tags) of at least
    ``min_slice_size`` cases, and tested. ``detect_drop`` is the drop in pass rate the gate must
    be able to see: the power analysis says whether the dataset can (at ``power``).
    Counterfactual groups (``counterfactual:ID`` tags) must score within
    ``counterfactual_tolerance`` of each other with the same verdict. ``critical_tag`` is
    accepted for callers that pass it; it marks stakes, not a population.
    """
    del critical_tag  # groups are declared explicitly now, so the critical tag needs no exclusion
    if min_slice_size < 1:
        raise ConfigError(f"min_slice_size must be at least 1, got {min_slice_size}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    same = baseline.dataset_hash == candidate.dataset_hash
    if not same and not allow_different_datasets:
        raise ConfigError(
            f"runs used different datasets ({baseline.dataset_hash[:12]} vs {candidate.dataset_hash[:12]}); "
            "re-run both on the same dataset, or allow different datasets explicitly"
        )
    base_cases, cand_cases = _by_id(baseline), _by_id(candidate)
    paired_ids = [cid for cid in cand_cases if cid in base_cases]
    if not paired_ids:
        raise ConfigError(f"runs {baseline.run_id!r} and {candidate.run_id!r} have no case in common")
    pairs = []
    for cid in paired_ids:
        b, c = _verdict(base_cases[cid], pass_threshold), _verdict(cand_cases[cid], pass_threshold)
        pairs.append(PairedCase(cid, tuple(sorted({*b.tags, *c.tags})), b, c))
    base_scores = [p.baseline.score for p in pairs]
    cand_scores = [p.candidate.score for p in pairs]
    base_passes = sum(p.baseline.passed for p in pairs)
    cand_passes = sum(p.candidate.passed for p in pairs)
    fixed = sum(1 for p in pairs if p.candidate.passed and not p.baseline.passed)
    broke = sum(1 for p in pairs if p.baseline.passed and not p.candidate.passed)
    slices = _slices(pairs, 1.0 - alpha)
    groups, gap = _groups(pairs, 1.0 - alpha, min_slice_size, seed)
    candidate_only = tuple(
        _verdict(r, pass_threshold) for cid, r in cand_cases.items() if cid not in base_cases
    )
    unstable = [p.case_id for p in pairs if p.baseline.unstable or p.candidate.unstable]
    unstable += [v.case_id for v in candidate_only if v.unstable]
    n = len(pairs)
    all_verdicts = [(p.case_id, p.tags, p.candidate.score, p.candidate.passed) for p in pairs]
    all_verdicts += [(v.case_id, v.tags, v.score, v.passed) for v in candidate_only]
    return Comparison(
        baseline_run_id=baseline.run_id,
        candidate_run_id=candidate.run_id,
        baseline_variant=baseline.variant,
        candidate_variant=candidate.variant,
        dataset_hash=candidate.dataset_hash,
        same_dataset=same,
        alpha=alpha,
        pass_threshold=pass_threshold,
        n_paired=n,
        baseline_only=tuple(sorted(set(base_cases) - set(cand_cases))),
        candidate_only=candidate_only,
        baseline_mean=mean(base_scores),
        candidate_mean=mean(cand_scores),
        baseline_pass_rate=base_passes / n,
        candidate_pass_rate=cand_passes / n,
        baseline_pass_interval=wilson_interval(base_passes, n, 1.0 - alpha),
        candidate_pass_interval=wilson_interval(cand_passes, n, 1.0 - alpha),
        bootstrap=paired_bootstrap(
            base_scores, cand_scores, resamples=resamples, seed=seed, confidence=1.0 - alpha
        ),
        mcnemar=mcnemar_exact(fixed, broke),
        slices=slices,
        slice_gap=gap,
        unstable_case_ids=tuple(sorted(unstable)),
        baseline_usage=_usage([base_cases[cid] for cid in paired_ids]),
        candidate_usage=_usage([cand_cases[cid] for cid in paired_ids]),
        pairs=tuple(pairs),
        groups=groups,
        counterfactuals=counterfactual_groups(all_verdicts, tolerance=counterfactual_tolerance),
        safety=_safety(pairs, 1.0 - alpha),
        power=minimum_detectable_drop(n, alpha=alpha, power=power, flip_rate=fixed / n, target=detect_drop),
        min_slice_size=min_slice_size,
    )

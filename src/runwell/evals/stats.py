"""Paired statistics for champion/challenger evals, in pure Python and deterministic per seed.

- :func:`mcnemar_exact`: are the pass/fail verdicts of two variants on the same cases different?
  Exact (binomial) test on the discordant pairs, summed in log space so n can reach 100,000+.
- :func:`paired_bootstrap`: a percentile confidence interval for the mean score difference
  (candidate - baseline), resampling cases (pairs stay together) with a seeded ``random.Random``.
- :func:`wilson_interval`: a confidence interval for one pass rate.

Numbers agree with scipy/statsmodels; ``tests/evals/test_stats.py`` checks that.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "BootstrapResult",
    "McNemarResult",
    "binom_cdf",
    "mcnemar_exact",
    "mean",
    "paired_bootstrap",
    "percentile",
    "stdev",
    "wilson_interval",
]


@dataclass(frozen=True, slots=True)
class McNemarResult:
    """Discordant pairs: ``b`` cases the candidate fixed (baseline failed, candidate passed),
    ``c`` cases it broke (baseline passed, candidate failed)."""

    b: int
    c: int
    p_value: float


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """Observed mean difference and its percentile bootstrap interval.

    ``p_value`` is the two-sided bootstrap quantity ``2 * min(P*(d <= 0), P*(d >= 0))`` over the
    resampled means, capped at 1: below ``1 - confidence`` exactly when 0 falls outside the
    interval (up to the interval's interpolation between neighbouring resamples).
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int
    seed: int
    p_value: float

    @property
    def contains_zero(self) -> bool:
        """Whether the interval includes "no difference"."""
        return self.ci_low <= 0.0 <= self.ci_high


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean (``math.fsum``, so long runs of scores do not drift); empty is an error."""
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0.0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    centre = mean(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (len(values) - 1))


def binom_cdf(k: int, n: int, p: float = 0.5) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (no overflow for large n)."""
    if n < 0 or not 0.0 < p < 1.0:
        raise ValueError(f"need n >= 0 and 0 < p < 1, got n={n}, p={p}")
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    log_p, log_q, log_n_fact = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    logs = [
        log_n_fact - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def mcnemar_exact(b: int, c: int) -> McNemarResult:
    """Two-sided exact McNemar test: ``p = min(1, 2 * BinomCDF(min(b, c); b + c, 1/2))``.

    Same as statsmodels' ``mcnemar(table, exact=True)`` and scipy's two-sided ``binomtest``;
    ``p = 1`` when there are no discordant pairs.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got b={b}, c={c}")
    if b == c:  # includes b + c == 0; the lower tail then already holds half the mass or more
        return McNemarResult(b, c, 1.0)
    return McNemarResult(b, c, min(1.0, 2.0 * binom_cdf(min(b, c), b + c, 0.5)))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th quantile (0..1) with linear interpolation, numpy's default method."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def paired_bootstrap(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    resamples: int = 5000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Percentile bootstrap CI of ``mean(candidate) - mean(baseline)`` over paired cases.

    Each resample draws n case indices with replacement (``Random(seed).choices``, so a test
    can replay the very same draws) and takes the mean of the per-case differences. Cost is
    about ``resamples * n`` draws: ~1 s for 5,000 resamples of 2,000 cases.
    """
    if len(baseline) != len(candidate):
        raise ValueError(f"paired samples differ in length: {len(baseline)} vs {len(candidate)}")
    if not baseline:
        raise ValueError("paired bootstrap needs at least one pair")
    if resamples < 2000:
        raise ValueError(f"use at least 2,000 resamples for a stable 95% interval, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    diffs = [c - b for b, c in zip(baseline, candidate, strict=True)]
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    at_or_below = sum(1 for m in means if m <= 0.0)
    at_or_above = sum(1 for m in means if m >= 0.0)
    return BootstrapResult(
        mean_diff=mean(diffs),
        ci_low=percentile(means, tail),
        ci_high=percentile(means, 1.0 - tail),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        p_value=min(1.0, 2.0 * min(at_or_below, at_or_above) / resamples),
    )


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; ``(0, 1)`` when ``total`` is 0."""
    if not 0 <= successes <= total:
        raise ValueError(f"need 0 <= successes <= total, got {successes}/{total}")
    if total == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    rate, z2 = successes / total, z * z
    denom = 1.0 + z2 / total
    centre = (rate + z2 / (2 * total)) / denom
    half = z * math.sqrt(rate * (1.0 - rate) / total + z2 / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)

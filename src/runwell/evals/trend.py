"""Slow degradation: a trend test over the mean scores of successive runs.

Each change passes the gate against the run before it, yet a feature can still decay a little at
a time: 0.90, 0.89, 0.885, 0.87... no single step is significant. The gate therefore also tests
the whole series (the last promoted runs and the candidate, oldest first) for a monotonic
downward trend with the **Mann–Kendall test**:

- ``S = sum over i < j of sign(x_j - x_i)``: each later run compared with each earlier one;
- exact one-sided p-value ``P(S <= s)`` from the permutation distribution of S when there are
  no ties and at most :data:`EXACT_MAX` runs (the distribution of inversions, counted exactly);
- otherwise the normal approximation with the tie-corrected variance
  ``Var S = [n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18`` and a continuity correction.

S is Kendall's tau between run order and score times the number of pairs, so the numbers agree
with ``scipy.stats.kendalltau(range(n), x)``. The size of the trend is **Sen's slope** (the median
of the pairwise slopes, per run) with its confidence interval from the same variance, as
``scipy.stats.theilslopes`` computes it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, median

from runwell.errors import ConfigError

__all__ = ["EXACT_MAX", "MannKendall", "SenSlope", "mann_kendall", "sen_slope"]

EXACT_MAX = 30
"""Up to this many runs without ties, the p-value is exact."""


@dataclass(frozen=True, slots=True)
class MannKendall:
    """The Mann–Kendall statistic S, its variance, and one-sided p-values for each direction."""

    n: int
    s: int
    var_s: float
    z: float
    p_decreasing: float
    p_increasing: float
    exact: bool

    @property
    def tau(self) -> float:
        """Kendall's tau-a: S over the number of pairs."""
        return self.s / (self.n * (self.n - 1) / 2)


@dataclass(frozen=True, slots=True)
class SenSlope:
    """Median pairwise slope (score change per run) and its confidence interval."""

    slope: float
    low: float
    high: float
    confidence: float


def _s_statistic(values: Sequence[float]) -> int:
    n = len(values)
    return sum(
        (values[j] > values[i]) - (values[j] < values[i]) for i in range(n - 1) for j in range(i + 1, n)
    )


def _tie_term(values: Sequence[float]) -> float:
    return float(sum(t * (t - 1) * (2 * t + 5) for t in Counter(values).values() if t > 1))


def _variance(values: Sequence[float]) -> float:
    n = len(values)
    return (n * (n - 1) * (2 * n + 5) - _tie_term(values)) / 18.0


def _inversion_counts(n: int) -> list[int]:
    """How many permutations of n items have k inversions, for k = 0 .. n(n-1)/2 (Mahonian numbers)."""
    counts = [1]
    for size in range(2, n + 1):
        grown = [0] * (len(counts) + size - 1)
        window = 0
        for k in range(len(grown)):
            window += counts[k] if k < len(counts) else 0
            if k - size >= 0:
                window -= counts[k - size]
            grown[k] = window
        counts = grown
    return counts


def _exact_p_at_most(n: int, s: int) -> float:
    """P(S <= s) under "no trend" (all orders equally likely, no ties)."""
    # S = pairs - 2 * inversions, so S <= s exactly when inversions >= (pairs - s) / 2.
    counts = _inversion_counts(n)
    pairs = n * (n - 1) // 2
    threshold = math.ceil((pairs - s) / 2)
    return sum(counts[threshold:]) / math.factorial(n)


def mann_kendall(values: Sequence[float], *, continuity: bool = True) -> MannKendall:
    """The Mann–Kendall trend test of ``values`` in time order (at least 3 values)."""
    n = len(values)
    if n < 3:
        raise ConfigError(f"a trend test needs at least 3 runs, got {n}")
    s = _s_statistic(values)
    var_s = _variance(values)
    if var_s <= 0:
        return MannKendall(n, s, var_s, 0.0, 1.0, 1.0, False)
    shift = (1 if s > 0 else -1 if s < 0 else 0) if continuity else 0
    z = (s - shift) / math.sqrt(var_s)
    ties = len(set(values)) < n
    if not ties and n <= EXACT_MAX:
        p_dec = _exact_p_at_most(n, s)
        p_inc = _exact_p_at_most(n, -s)  # S is symmetric about 0
        return MannKendall(n, s, var_s, z, p_dec, p_inc, True)
    normal = NormalDist()
    if continuity:
        p_dec = normal.cdf((s + 1) / math.sqrt(var_s))
        p_inc = 1.0 - normal.cdf((s - 1) / math.sqrt(var_s))
    else:
        p_dec, p_inc = normal.cdf(z), 1.0 - normal.cdf(z)
    return MannKendall(n, s, var_s, z, min(1.0, p_dec), min(1.0, p_inc), False)


def sen_slope(values: Sequence[float], *, confidence: float = 0.95) -> SenSlope:
    """Sen's slope of ``values`` against their index, with the interval ``scipy.stats.theilslopes`` gives."""
    n = len(values)
    if n < 2:
        raise ConfigError(f"a slope needs at least 2 runs, got {n}")
    slopes = sorted((values[j] - values[i]) / (j - i) for i in range(n - 1) for j in range(i + 1, n))
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    sigma = math.sqrt(_variance(values)) if n > 2 else 0.0
    count = len(slopes)
    upper = min(round((count + z * sigma) / 2.0), count - 1)
    lower = max(round((count - z * sigma) / 2.0) - 1, 0)
    return SenSlope(median(slopes), slopes[lower], slopes[upper], confidence)

"""Two-sample statistics for the canary judge, in pure Python (standard library only).

The judge runs inside the gateway on a base install, so nothing here may import numpy or scipy.

- :func:`mann_whitney_u`: two-sided Mann–Whitney U test. Small samples without ties use the exact
  null distribution (counted in integers, so it is exact); otherwise the normal approximation with
  the tie correction and the continuity correction, as ``scipy.stats.mannwhitneyu`` computes it.
- :func:`hodges_lehmann`: the Hodges–Lehmann shift (median of all pairwise differences) with Moses'
  distribution-free confidence interval — the order statistics ``D(k)`` and ``D(N + 1 - k)`` of the
  ``N = n_x * n_y`` differences, ``k`` read from the null distribution of U. No difference matrix is
  ever built: a selection algorithm finds each order statistic exactly in about O(n log n) per round
  over a few rounds (see :func:`_kth_sum`), so 5,000 samples per side take well under a second.
- :func:`two_proportion_test`: compares two rates (events / total) with Fisher's exact test, its
  mid-p variant (small counts) or the pooled z-test (large counts), and a Newcombe hybrid-score
  interval on the difference (:func:`newcombe_interval`, built from :func:`wilson_interval`).

Every function compares ``x`` against ``y``: statistics and differences are "x minus y". The judge
passes the candidate as ``x`` and the baseline as ``y``. ``tests/rollout/test_stats.py`` checks the
numbers against scipy and statsmodels.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from statistics import NormalDist
from typing import Literal

__all__ = [
    "MannWhitneyResult",
    "ProportionTest",
    "ShiftEstimate",
    "fisher_exact",
    "fisher_midp",
    "hodges_lehmann",
    "mann_whitney_u",
    "mw_null_counts",
    "newcombe_interval",
    "two_proportion_test",
    "wilson_interval",
]

TestMethod = Literal["auto", "exact", "asymptotic"]
RateMethod = Literal["auto", "fisher", "midp", "z"]

# Above this many pairs the exact U distribution costs more than it is worth (and the normal
# approximation is already accurate): the counting is O(min(n)^2 * max(n)) integer additions.
_EXACT_MAX_PAIRS = 2_500
# The pooled z-test is trusted once every expected cell count reaches this; below it the exact
# mid-p test is used, because the normal tail is too light for a handful of events.
_Z_MIN_EXPECTED = 10.0
# Selection of an order statistic among the pairwise differences: once this few candidates are
# left they are gathered and sorted; each round samples this many candidates to place its pivots.
_GATHER = 4_096
_PIVOT_SAMPLE = 1_024


@dataclass(frozen=True, slots=True)
class MannWhitneyResult:
    """The two-sided Mann–Whitney U test of ``x`` against ``y``.

    ``u`` is x's statistic: pairs with ``x_i > y_j`` plus half the tied pairs (scipy's ``U1``).
    ``z`` is the standardized statistic of the normal approximation (``None`` for the exact test),
    signed so that positive means x tends to be larger.
    """

    u: float
    p_value: float
    z: float | None
    method: Literal["exact", "asymptotic"]
    n_x: int
    n_y: int

    @property
    def auc(self) -> float:
        """``u / (n_x * n_y)``: the probability that a random x exceeds a random y (ties count half)."""
        return self.u / (self.n_x * self.n_y)


@dataclass(frozen=True, slots=True)
class ShiftEstimate:
    """Hodges–Lehmann shift of ``x`` relative to ``y`` with Moses' confidence interval.

    ``achieved_confidence`` is the coverage the chosen order statistics give under the null
    distribution of U (exact or normal), never below ``confidence`` except for samples so small
    that even the widest interval (smallest to largest difference) cannot reach it.
    """

    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    achieved_confidence: float
    method: Literal["exact", "asymptotic"]


@dataclass(frozen=True, slots=True)
class ProportionTest:
    """Two rates compared: ``difference = x_rate - y_rate`` with a Newcombe interval and a p-value.

    ``statistic`` is the z statistic for the z-test and ``None`` for the exact tests.
    """

    x_events: int
    x_total: int
    y_events: int
    y_total: int
    x_rate: float
    y_rate: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    statistic: float | None
    p_value: float
    method: Literal["fisher", "midp", "z"]


def _normal_sf(z: float) -> float:
    # erfc keeps its relative precision far into the tail, where 1 - cdf would round to 0.
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _floats(values: Sequence[float], name: str) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ValueError(f"{name} is empty: both samples need at least one value")
    if any(math.isnan(v) or math.isinf(v) for v in out):
        raise ValueError(f"{name} contains NaN or infinity: drop missing measurements before testing")
    return out


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def mw_null_counts(n_x: int, n_y: int) -> list[int]:
    """How many of the ``C(n_x + n_y, n_x)`` rankings (no ties) give each U = 0 .. n_x * n_y.

    The counts are the coefficients of the Gaussian binomial coefficient
    ``prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)``, multiplied out in integers, so the exact
    distribution carries no rounding at all.
    """
    if n_x < 0 or n_y < 0:
        raise ValueError(f"sample sizes must be non-negative, got {n_x} and {n_y}")
    m, n = min(n_x, n_y), max(n_x, n_y)
    size = m * n + 1
    counts = [0] * size
    counts[0] = 1
    for i in range(1, m + 1):
        top = n + i
        # times (1 - q^(n+i)), from the high end so each coefficient is read before it changes
        for j in range(size - 1, top - 1, -1):
            counts[j] -= counts[j - top]
        # divided by (1 - q^i): the quotient's coefficients are running sums with stride i
        for j in range(i, size):
            counts[j] += counts[j - i]
    return counts


def _rank_sum(x: list[float], y: list[float]) -> tuple[float, float]:
    """Sum of x's mid-ranks in the pooled sample, and the tie term sum(t^3 - t)."""
    pooled = sorted([(v, 1) for v in x] + [(v, 0) for v in y])
    rank_sum = 0.0
    tie_term = 0.0
    i, total = 0, len(pooled)
    while i < total:
        j = i
        while j + 1 < total and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        mid_rank = (i + j) / 2.0 + 1.0
        rank_sum += mid_rank * sum(flag for _, flag in pooled[i : j + 1])
        run = j - i + 1
        tie_term += run**3 - run
        i = j + 1
    return rank_sum, tie_term


def mann_whitney_u(
    x: Sequence[float],
    y: Sequence[float],
    *,
    method: TestMethod = "auto",
    continuity: bool = True,
) -> MannWhitneyResult:
    """Two-sided Mann–Whitney U test: do ``x`` and ``y`` come from the same distribution?

    ``method="auto"`` uses the exact null distribution when there are no ties and at most 2,500
    pairs, and the normal approximation (tie-corrected, with a continuity correction unless
    ``continuity=False``) otherwise. ``"exact"`` ignores ties, as scipy does. When every value is
    tied the test has nothing to go on and the p-value is 1.
    """
    xs, ys = _floats(x, "x"), _floats(y, "y")
    n1, n2 = len(xs), len(ys)
    rank_sum, tie_term = _rank_sum(xs, ys)
    u1 = rank_sum - n1 * (n1 + 1) / 2.0
    u2 = n1 * n2 - u1
    u_far = max(u1, u2)
    if method == "auto":
        method = "exact" if tie_term == 0 and n1 * n2 <= _EXACT_MAX_PAIRS else "asymptotic"
    if method == "exact":
        counts = mw_null_counts(n1, n2)
        # scipy truncates a tied (half-integer) U before reading the tail; do the same
        tail = sum(counts[int(u_far) :])
        p = min(1.0, 2 * tail / math.comb(n1 + n2, n1))
        return MannWhitneyResult(u=u1, p_value=p, z=None, method="exact", n_x=n1, n_y=n2)
    if method != "asymptotic":
        raise ValueError(f"method must be 'auto', 'exact' or 'asymptotic', got {method!r}")
    n = n1 + n2
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0.0:
        return MannWhitneyResult(u=u1, p_value=1.0, z=0.0, method="asymptotic", n_x=n1, n_y=n2)
    sigma = math.sqrt(variance)
    far = u_far - n1 * n2 / 2.0 - (0.5 if continuity else 0.0)
    p = min(1.0, 2.0 * _normal_sf(far / sigma))
    z = math.copysign(max(far, 0.0) / sigma, u1 - u2)
    return MannWhitneyResult(u=u1, p_value=p, z=z, method="asymptotic", n_x=n1, n_y=n2)


def _kth_sum(rows: list[float], cols: list[float], k: int) -> float:
    """The k-th smallest (1-based) of ``cols[j] + rows[i]`` over all i, j; both lists sorted.

    Row i, ``cols[j] + rows[i]`` for j = 0.., is non-decreasing (float addition is monotone), so
    each row keeps a window ``[lo_i, hi_i)`` of columns still in play. A round samples candidates,
    takes two pivots bracketing the target rank (Floyd–Rivest), counts the elements below and
    above them with one bisection per row, and shrinks every window; when few candidates remain
    they are sorted directly. Comparisons use the very float sums the answer is made of, so ties
    and rounding never make a count inconsistent. The random pivots only affect speed: the result
    is the exact order statistic whatever the seed.
    """
    m, n = len(rows), len(cols)
    lo = [0] * m
    hi = [n] * m
    below = 0
    remaining = m * n
    rng = random.Random(k)
    narrow = False
    while remaining > _GATHER:
        widths = [h - low for low, h in zip(lo, hi, strict=True)]
        picked_rows = rng.choices(range(m), cum_weights=list(accumulate(widths)), k=_PIVOT_SAMPLE)
        sample = sorted(cols[rng.randrange(lo[i], hi[i])] + rows[i] for i in picked_rows)
        target = (k - below - 0.5) / remaining
        centre = target * _PIVOT_SAMPLE
        # After a round without progress, pivot on a single value: that always removes something.
        margin = 0.0 if narrow else 2.5 * math.sqrt(_PIVOT_SAMPLE * target * (1 - target)) + 1.0
        low_pivot = sample[max(0, min(_PIVOT_SAMPLE - 1, math.floor(centre - margin)))]
        high_pivot = sample[max(0, min(_PIVOT_SAMPLE - 1, math.ceil(centre + margin)))]
        if narrow:
            high_pivot = low_pivot
        under = [
            bisect_left(cols, low_pivot, low, h, key=r.__radd__)
            for r, low, h in zip(rows, lo, hi, strict=True)
        ]
        upto = [
            bisect_right(cols, high_pivot, low, h, key=r.__radd__)
            for r, low, h in zip(rows, lo, hi, strict=True)
        ]
        count_under, count_upto = sum(under), sum(upto)
        if k <= count_under:
            hi = under
        elif k > count_upto:
            lo = upto
        elif low_pivot == high_pivot:
            return low_pivot
        else:
            lo, hi = under, upto
        below = sum(lo)
        left = sum(hi) - below
        narrow = left == remaining
        remaining = left
    pool = sorted(cols[j] + r for r, low, h in zip(rows, lo, hi, strict=True) for j in range(low, h))
    return pool[k - below - 1]


def _next_sum(rows: list[float], cols: list[float], value: float, k: int) -> float:
    """The (k+1)-th smallest pairwise sum, given that the k-th is ``value``."""
    if sum(bisect_right(cols, value, key=r.__radd__) for r in rows) >= k + 1:
        return value
    after = (bisect_right(cols, value, key=r.__radd__) for r in rows)
    return min(cols[j] + r for r, j in zip(rows, after, strict=True) if j < len(cols))


def hodges_lehmann(
    x: Sequence[float],
    y: Sequence[float],
    *,
    confidence: float = 0.98,
    method: TestMethod = "auto",
) -> ShiftEstimate:
    """Hodges–Lehmann shift of ``x`` relative to ``y`` and its distribution-free interval.

    The estimate is the median of the ``N = n_x * n_y`` differences ``x_i - y_j``. The interval
    is ``[D(k), D(N + 1 - k)]`` (Moses), where ``k`` is the smallest U with
    ``P(U <= k) >= (1 - confidence) / 2`` under the null: from the exact distribution when there
    are no ties and at most 2,500 pairs (as R's ``wilcox.test`` does), otherwise from the normal
    approximation with the tie-corrected variance and a continuity correction.
    """
    _check_confidence(confidence)
    xs, ys = sorted(_floats(x, "x")), sorted(_floats(y, "y"))
    n1, n2 = len(xs), len(ys)
    pairs = n1 * n2
    # x_i - y_j is x_i + (-y_j) exactly in IEEE arithmetic, so selecting among sums is enough.
    neg_y = [-v for v in reversed(ys)]
    rows, cols = (xs, neg_y) if n1 <= n2 else (neg_y, xs)
    alpha = 1.0 - confidence
    tied = len(set(xs) | set(ys)) < n1 + n2
    if method == "auto":
        method = "exact" if not tied and pairs <= _EXACT_MAX_PAIRS else "asymptotic"
    if method == "exact":
        counts = mw_null_counts(n1, n2)
        total = math.comb(n1 + n2, n1)
        running, k = 0, 0
        while (running + counts[k]) / total < alpha / 2:
            running += counts[k]
            k += 1
        # k is the smallest u with P(U <= u) >= alpha / 2: D(k) leaves P(U <= k - 1) < alpha / 2 out
        k = max(k, 1)
        achieved = 1.0 - 2.0 * sum(counts[:k]) / total
    elif method == "asymptotic":
        n = n1 + n2
        _, tie_term = _rank_sum(xs, ys)
        variance = pairs / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
        sigma = math.sqrt(max(variance, 0.0))
        z = NormalDist().inv_cdf(alpha / 2)
        k = max(1, math.ceil(pairs / 2.0 - 0.5 + z * sigma))
        below = (k - 0.5 - pairs / 2.0) / sigma if sigma > 0 else -math.inf
        achieved = 1.0 - 2.0 * NormalDist().cdf(below)
    else:
        raise ValueError(f"method must be 'auto', 'exact' or 'asymptotic', got {method!r}")
    k = min(k, (pairs + 1) // 2)
    half = (pairs + 1) // 2
    middle = _kth_sum(rows, cols, half)
    estimate = middle if pairs % 2 else (middle + _next_sum(rows, cols, middle, half)) / 2.0
    return ShiftEstimate(
        estimate=estimate,
        ci_low=_kth_sum(rows, cols, k),
        ci_high=_kth_sum(rows, cols, pairs + 1 - k),
        confidence=confidence,
        achieved_confidence=achieved,
        method=method,
    )


def wilson_interval(events: int, total: int, confidence: float = 0.98) -> tuple[float, float]:
    """Wilson score interval for one rate ``events / total``; ``(0, 1)`` when ``total`` is 0."""
    _check_confidence(confidence)
    _check_counts(events, total, "events")
    if total == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    z2 = z * z
    centre = (events + z2 / 2) / (total + z2)
    half = z / (total + z2) * math.sqrt(events * (total - events) / total + z2 / 4)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    x_events: int, x_total: int, y_events: int, y_total: int, confidence: float = 0.98
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) for ``x_rate - y_rate``.

    Built from each rate's Wilson interval; it stays inside [-1, 1] and behaves at 0 events,
    where the Wald interval collapses to a point.
    """
    x_low, x_high = wilson_interval(x_events, x_total, confidence)
    y_low, y_high = wilson_interval(y_events, y_total, confidence)
    x_rate = x_events / x_total if x_total else 0.0
    y_rate = y_events / y_total if y_total else 0.0
    diff = x_rate - y_rate
    low = diff - math.sqrt((x_rate - x_low) ** 2 + (y_high - y_rate) ** 2)
    high = diff + math.sqrt((x_high - x_rate) ** 2 + (y_rate - y_low) ** 2)
    return low, high


def _check_counts(events: int, total: int, name: str) -> None:
    if total < 0 or events < 0 or events > total:
        raise ValueError(f"{name}={events} out of total={total}: need 0 <= {name} <= total")


def _hypergeom_pmf(x_events: int, x_total: int, y_events: int, y_total: int) -> tuple[int, list[float]]:
    """Support start and probabilities of x's event count given both margins (Fisher's null)."""
    events = x_events + y_events
    everyone = x_total + y_total
    first = max(0, x_total + events - everyone)
    last = min(x_total, events)

    def log_comb(n: int, r: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)

    norm = log_comb(everyone, x_total)
    return first, [
        math.exp(log_comb(events, a) + log_comb(everyone - events, x_total - a) - norm)
        for a in range(first, last + 1)
    ]


def fisher_exact(x_events: int, x_total: int, y_events: int, y_total: int) -> float:
    """Two-sided p-value of Fisher's exact test on ``[[x_events, x_rest], [y_events, y_rest]]``.

    Sums the probabilities of every table with the same margins no more likely than the one
    observed (within a relative 1e-7, as scipy does, so rounding cannot drop a tied table).
    """
    _check_counts(x_events, x_total, "x_events")
    _check_counts(y_events, y_total, "y_events")
    first, pmf = _hypergeom_pmf(x_events, x_total, y_events, y_total)
    observed = pmf[x_events - first]
    return min(1.0, math.fsum(p for p in pmf if p <= observed * (1 + 1e-7)))


def fisher_midp(x_events: int, x_total: int, y_events: int, y_total: int) -> float:
    """Two-sided mid-p value of Fisher's test: ``2 * min(P(X < a) + P(X = a) / 2, P(X > a) + P(X = a) / 2)``.

    Counting only half the observed table's probability removes most of the exact test's
    conservatism at small counts, while staying close to the nominal level.
    """
    _check_counts(x_events, x_total, "x_events")
    _check_counts(y_events, y_total, "y_events")
    first, pmf = _hypergeom_pmf(x_events, x_total, y_events, y_total)
    at = x_events - first
    lower = math.fsum(pmf[:at]) + pmf[at] / 2
    upper = math.fsum(pmf[at + 1 :]) + pmf[at] / 2
    return min(1.0, 2.0 * min(lower, upper))


def two_proportion_test(
    x_events: int,
    x_total: int,
    y_events: int,
    y_total: int,
    *,
    confidence: float = 0.98,
    method: RateMethod = "auto",
) -> ProportionTest:
    """Compare the rates ``x_events / x_total`` and ``y_events / y_total``, two-sided.

    ``method="auto"`` uses the pooled z-test when every expected cell count under the null is at
    least 10, and Fisher's mid-p test otherwise. The interval on the difference is Newcombe's
    hybrid score interval at ``confidence``. Both totals must be positive.
    """
    _check_confidence(confidence)
    _check_counts(x_events, x_total, "x_events")
    _check_counts(y_events, y_total, "y_events")
    if x_total == 0 or y_total == 0:
        raise ValueError("both totals must be positive to compare rates")
    x_rate, y_rate = x_events / x_total, y_events / y_total
    pooled = (x_events + y_events) / (x_total + y_total)
    if method == "auto":
        smallest = min(x_total, y_total) * min(pooled, 1.0 - pooled)
        method = "z" if smallest >= _Z_MIN_EXPECTED else "midp"
    statistic: float | None = None
    if method == "z":
        se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / x_total + 1.0 / y_total))
        statistic = (x_rate - y_rate) / se if se > 0 else 0.0
        p = min(1.0, 2.0 * _normal_sf(abs(statistic)))
    elif method == "fisher":
        p = fisher_exact(x_events, x_total, y_events, y_total)
    elif method == "midp":
        p = fisher_midp(x_events, x_total, y_events, y_total)
    else:
        raise ValueError(f"method must be 'auto', 'fisher', 'midp' or 'z', got {method!r}")
    low, high = newcombe_interval(x_events, x_total, y_events, y_total, confidence)
    return ProportionTest(
        x_events=x_events,
        x_total=x_total,
        y_events=y_events,
        y_total=y_total,
        x_rate=x_rate,
        y_rate=y_rate,
        difference=x_rate - y_rate,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        statistic=statistic,
        p_value=p,
        method=method,
    )

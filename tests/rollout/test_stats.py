"""The judge's pure-Python statistics agree with scipy and statsmodels on the same data.

The Hodges–Lehmann interval has no scipy counterpart, so it is checked two independent ways:
its estimate against numpy's median of the full difference matrix, and its endpoints as the
inversion of scipy's own Mann–Whitney test (a shift just inside the interval is not rejected at
``1 - confidence``, one just outside is).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from runwell.rollout.stats import (
    _kth_sum,
    fisher_exact,
    fisher_midp,
    hodges_lehmann,
    mann_whitney_u,
    mw_null_counts,
    newcombe_interval,
    two_proportion_test,
    wilson_interval,
)

SIZES = [(1, 1), (1, 9), (3, 4), (8, 8), (12, 30), (50, 50), (200, 150), (1000, 40), (3000, 2000)]


def _samples(seed: int, n1: int, n2: int, *, decimals: int | None = None) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    x, y = rng.lognormal(0.0, 1.0, n1), rng.lognormal(0.15, 1.0, n2)
    if decimals is not None:
        x, y = np.round(x, decimals), np.round(y, decimals)
    return x.tolist(), y.tolist()


@pytest.mark.parametrize(("n1", "n2"), SIZES)
@pytest.mark.parametrize("continuity", [True, False])
def test_mann_whitney_asymptotic_matches_scipy(n1: int, n2: int, continuity: bool) -> None:
    for decimals in (None, 1):
        x, y = _samples(n1 * 7 + n2, n1, n2, decimals=decimals)
        if len(set(x + y)) == 1:
            continue
        ours = mann_whitney_u(x, y, method="asymptotic", continuity=continuity)
        theirs = sps.mannwhitneyu(x, y, method="asymptotic", use_continuity=continuity)
        assert ours.u == theirs.statistic
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)
        assert ours.method == "asymptotic"


@pytest.mark.parametrize(("n1", "n2"), [(1, 1), (2, 5), (5, 7), (8, 8), (10, 25), (40, 40)])
def test_mann_whitney_exact_matches_scipy(n1: int, n2: int) -> None:
    for seed in range(5):
        x, y = _samples(seed, n1, n2)
        ours = mann_whitney_u(x, y, method="exact")
        theirs = sps.mannwhitneyu(x, y, method="exact")
        assert ours.u == theirs.statistic
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
        assert ours.z is None


def test_mann_whitney_far_tail_keeps_precision() -> None:
    x, y = list(range(1000, 1500)), list(range(500))
    ours = mann_whitney_u(x, y)
    theirs = sps.mannwhitneyu(x, y, method="asymptotic")
    assert 0 < ours.p_value < 1e-100
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6)
    assert ours.z is not None and ours.z > 0
    assert ours.auc == 1.0


def test_auto_method_is_exact_only_for_small_untied_samples() -> None:
    x, y = _samples(1, 10, 12)
    assert mann_whitney_u(x, y).method == "exact"
    assert mann_whitney_u([1.0, 1.0, 2.0], [2.0, 3.0]).method == "asymptotic"
    big_x, big_y = _samples(1, 60, 60)
    assert mann_whitney_u(big_x, big_y).method == "asymptotic"


@pytest.mark.parametrize(("m", "n"), [(1, 1), (2, 3), (4, 5), (3, 7), (6, 6)])
def test_null_counts_match_brute_force_enumeration(m: int, n: int) -> None:
    expected = [0] * (m * n + 1)
    for chosen in itertools.combinations(range(m + n), m):
        # U of the m-sample = pairs it wins = sum of its ranks minus the smallest possible sum
        expected[sum(chosen) - m * (m - 1) // 2] += 1
    assert mw_null_counts(m, n) == expected
    assert mw_null_counts(n, m) == expected
    assert sum(expected) == math.comb(m + n, m)


def test_all_tied_values_give_p_one() -> None:
    result = mann_whitney_u([3.0] * 20, [3.0] * 30)
    assert result.p_value == 1.0
    assert result.u == 300.0


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf"), 2.0]])
def test_mann_whitney_rejects_empty_and_non_finite(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="x "):
        mann_whitney_u(bad, [1.0, 2.0])


@pytest.mark.parametrize(("n1", "n2"), [(1, 1), (1, 7), (4, 6), (9, 9), (35, 60), (200, 301), (700, 90)])
@pytest.mark.parametrize("decimals", [None, 1, 0])
def test_hodges_lehmann_estimate_is_the_median_pairwise_difference(
    n1: int, n2: int, decimals: int | None
) -> None:
    x, y = _samples(n1 + 31 * n2, n1, n2, decimals=decimals)
    diffs = np.subtract.outer(np.array(x), np.array(y)).ravel()
    result = hodges_lehmann(x, y)
    assert result.estimate == float(np.median(diffs))
    assert result.ci_low <= result.estimate <= result.ci_high
    assert result.ci_low in diffs and result.ci_high in diffs


@pytest.mark.parametrize(("n1", "n2", "method"), [(6, 9, "exact"), (20, 30, "exact"), (60, 55, "asymptotic"),
                                                  (300, 250, "asymptotic")])  # fmt: skip
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.98])
def test_hodges_lehmann_interval_inverts_scipys_test(
    n1: int, n2: int, method: str, confidence: float
) -> None:
    x, y = _samples(n1 * n2, n1, n2)
    result = hodges_lehmann(x, y, confidence=confidence)
    assert result.method == method
    assert result.achieved_confidence >= confidence
    diffs = np.sort(np.subtract.outer(np.array(x), np.array(y)).ravel())
    low = int(np.searchsorted(diffs, result.ci_low))  # 0-based position of D(k)
    alpha = 1 - confidence
    xs = np.array(x)

    def p_at(shift: float) -> float:
        return float(sps.mannwhitneyu(xs - shift, y, method=method).pvalue)

    # just inside the lower end: not rejected; just outside: rejected (and the same at the top)
    assert p_at((diffs[low] + diffs[low + 1]) / 2) >= alpha
    assert p_at((diffs[low - 1] + diffs[low]) / 2) < alpha
    high = int(np.searchsorted(diffs, result.ci_high))
    assert p_at((diffs[high - 1] + diffs[high]) / 2) >= alpha
    assert p_at((diffs[high] + diffs[high + 1]) / 2) < alpha


def test_tiny_samples_get_the_widest_interval_and_say_so() -> None:
    result = hodges_lehmann([1.0, 2.0], [0.5, 3.0], confidence=0.98)
    assert (result.ci_low, result.ci_high) == (-2.0, 1.5)
    assert result.achieved_confidence < 0.98


def test_hodges_lehmann_covers_a_known_shift() -> None:
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(300):
        x = rng.lognormal(6.0, 0.5, 80) + 40.0
        y = rng.lognormal(6.0, 0.5, 120)
        result = hodges_lehmann(x.tolist(), y.tolist(), confidence=0.9)
        covered += result.ci_low <= 40.0 <= result.ci_high
    # nominal 90 %; 300 draws put the rate within about +-3.5 points of it
    assert 0.85 <= covered / 300 <= 0.95


@pytest.mark.parametrize("values", [3, 2, 40])
def test_kth_sum_selects_every_order_statistic_even_with_heavy_ties(values: int) -> None:
    rng = np.random.default_rng(values)
    rows = sorted(rng.integers(0, values, 90).astype(float).tolist())
    cols = sorted((rng.integers(0, values, 120) / 4).tolist())
    expected = np.sort(np.add.outer(np.array(rows), np.array(cols)).ravel())
    for k in [1, 2, 500, 4096, 5000, 5400, 10_799, 10_800]:
        assert _kth_sum(rows, cols, k) == expected[k - 1]


def test_kth_sum_on_identical_values_terminates() -> None:
    assert _kth_sum([1.0] * 100, [2.0] * 100, 5000) == 3.0


def test_hodges_lehmann_handles_5000_per_side_quickly() -> None:
    x, y = _samples(5, 5000, 5000)
    start = time.perf_counter()
    result = hodges_lehmann(x, y)
    elapsed = time.perf_counter() - start
    assert result.method == "asymptotic"
    assert elapsed < 3.0  # about 0.25 s on one core; generous for a shared machine
    sample = np.subtract.outer(np.array(x[:500]), np.array(y[:500])).ravel()
    assert abs(result.estimate - float(np.median(sample))) < 0.2


TABLES = [(0, 10, 0, 10), (0, 10, 3, 10), (1, 200, 9, 180), (5, 500, 10, 9500), (20, 1000, 10, 1000),
          (50, 5000, 190, 19000), (7, 7, 0, 9), (3, 3, 3, 3), (0, 1, 1, 1), (120, 12000, 240, 12000)]  # fmt: skip


@pytest.mark.parametrize(("a", "n1", "c", "n2"), TABLES)
def test_fisher_exact_matches_scipy(a: int, n1: int, c: int, n2: int) -> None:
    expected = sps.fisher_exact([[a, n1 - a], [c, n2 - c]]).pvalue
    assert fisher_exact(a, n1, c, n2) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("a", "n1", "c", "n2"), TABLES)
def test_fisher_midp_matches_the_hypergeometric_tails(a: int, n1: int, c: int, n2: int) -> None:
    dist = sps.hypergeom(n1 + n2, a + c, n1)
    lower = dist.cdf(a) - dist.pmf(a) / 2
    upper = dist.sf(a) + dist.pmf(a) / 2
    expected = min(1.0, 2 * min(lower, upper))
    assert fisher_midp(a, n1, c, n2) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    # half the observed table's mass less than the doubled one-sided exact p (the "doubling" rule)
    assert fisher_midp(a, n1, c, n2) <= min(1.0, 2 * min(dist.cdf(a), dist.sf(a - 1))) + 1e-12


@pytest.mark.parametrize(("a", "n1", "c", "n2"), [t for t in TABLES if 0 < t[0] + t[2] < t[1] + t[3]])
def test_z_test_matches_statsmodels(a: int, n1: int, c: int, n2: int) -> None:
    z, p = proportions_ztest([a, c], [n1, n2])
    result = two_proportion_test(a, n1, c, n2, method="z")
    assert result.statistic == pytest.approx(z, rel=1e-9)
    assert result.p_value == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(("a", "n1", "c", "n2"), TABLES)
@pytest.mark.parametrize("confidence", [0.95, 0.98])
def test_intervals_match_statsmodels(a: int, n1: int, c: int, n2: int, confidence: float) -> None:
    alpha = 1 - confidence
    assert wilson_interval(a, n1, confidence) == pytest.approx(
        proportion_confint(a, n1, alpha=alpha, method="wilson"), rel=1e-9, abs=1e-12
    )
    expected = confint_proportions_2indep(a, n1, c, n2, method="newcomb", compare="diff", alpha=alpha)
    assert newcombe_interval(a, n1, c, n2, confidence) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_auto_rate_method_uses_midp_for_few_events_and_z_for_many() -> None:
    small = two_proportion_test(3, 500, 95, 9500)
    assert small.method == "midp"
    assert small.statistic is None
    assert small.p_value == fisher_midp(3, 500, 95, 9500)
    large = two_proportion_test(60, 3000, 110, 11000)
    assert large.method == "z"
    assert large.difference == pytest.approx(0.02 - 0.01)
    assert large.ci_low < large.difference < large.ci_high


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 4, 1, 10), "x_events=5 out of total=4"),
        ((1, 10, -1, 10), "y_events=-1"),
        ((0, 0, 1, 10), "positive"),
    ],
)
def test_two_proportion_test_rejects_impossible_counts(args: tuple[int, int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        two_proportion_test(*args)

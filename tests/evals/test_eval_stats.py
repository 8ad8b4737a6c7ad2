"""The pure-Python statistics agree with scipy, statsmodels and numpy on the same data.

How the bootstrap is checked, and why that is fair:

1. Exactly, against an independent numpy reimplementation fed the *same* index draws. The
   draws are replayed from ``random.Random(seed).choices(range(n), k=n)``, which consumes the
   generator exactly as ``choices(diffs, k=n)`` does; numpy then does the arithmetic (means,
   ``np.percentile`` with its default linear method). This pins down everything but the RNG.
2. Statistically, against ``scipy.stats.bootstrap(paired=True, method="percentile")``, which
   uses its own RNG: the endpoints must agree within Monte Carlo error (a few thousandths of
   a score at 5,000 resamples, checked at 0.01).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from runwell.evals.stats import (
    binom_cdf,
    mcnemar_exact,
    mean,
    paired_bootstrap,
    percentile,
    stdev,
    wilson_interval,
)

TABLES = [(0, 0), (0, 1), (1, 0), (3, 3), (5, 12), (12, 5), (0, 25), (10, 25), (40, 60), (250, 300),
          (4990, 5010), (480, 520), (49_000, 51_000), (49_900, 50_100)]  # fmt: skip


@pytest.mark.parametrize(("b", "c"), TABLES)
def test_mcnemar_matches_statsmodels_exact(b: int, c: int) -> None:
    expected = mcnemar([[100, b], [c, 100]], exact=True).pvalue
    assert mcnemar_exact(b, c).p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("b", "c"), [t for t in TABLES if sum(t) > 0])
def test_mcnemar_matches_scipy_binomtest(b: int, c: int) -> None:
    expected = sps.binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact(b, c).p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_does_not_overflow_at_large_n() -> None:
    far = mcnemar_exact(45_000, 55_000).p_value
    assert 0.0 <= far < 1e-200
    assert mcnemar_exact(50_000, 50_001).p_value == pytest.approx(1.0, abs=0.01)


@given(st.integers(0, 3000), st.integers(0, 3000))
def test_mcnemar_p_is_a_probability_and_symmetric(b: int, c: int) -> None:
    p = mcnemar_exact(b, c).p_value
    assert 0.0 <= p <= 1.0
    assert p == mcnemar_exact(c, b).p_value


@pytest.mark.parametrize(
    ("k", "n", "p"), [(0, 10, 0.5), (3, 10, 0.3), (40, 100, 0.5), (700, 1000, 0.72), (5, 5, 0.5)]
)
def test_binom_cdf_matches_scipy(k: int, n: int, p: float) -> None:
    assert binom_cdf(k, n, p) == pytest.approx(sps.binom.cdf(k, n, p), rel=1e-10)


def scores(n: int, rate: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [1.0 if rng.random() < rate else 0.0 for _ in range(n)]


def numpy_bootstrap(
    base: list[float], cand: list[float], resamples: int, seed: int, conf: float
) -> tuple[float, float]:
    """An independent implementation that only shares the index draws."""
    rng = random.Random(seed)
    n = len(base)
    idx = np.array([rng.choices(range(n), k=n) for _ in range(resamples)])
    diffs = np.asarray(cand) - np.asarray(base)
    means = diffs[idx].mean(axis=1)
    tail = (1 - conf) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


@pytest.mark.parametrize(("n", "seed", "conf"), [(200, 0, 0.95), (57, 3, 0.9), (500, 11, 0.99)])
def test_bootstrap_matches_numpy_reimplementation_with_the_same_draws(n: int, seed: int, conf: float) -> None:
    base, cand = scores(n, 0.8, seed), scores(n, 0.75, seed + 100)
    result = paired_bootstrap(base, cand, resamples=2000, seed=seed, confidence=conf)
    lo, hi = numpy_bootstrap(base, cand, 2000, seed, conf)
    assert result.ci_low == pytest.approx(lo, abs=1e-12)
    assert result.ci_high == pytest.approx(hi, abs=1e-12)
    assert result.mean_diff == pytest.approx(float(np.mean(np.asarray(cand) - np.asarray(base))), abs=1e-12)


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_bootstrap_agrees_with_scipy_within_monte_carlo_error(kind: str) -> None:
    rng = np.random.default_rng(7)
    if kind == "binary":
        base = (rng.random(300) < 0.8).astype(float)
        cand = (rng.random(300) < 0.7).astype(float)
    else:
        base = rng.beta(5, 2, 300)
        cand = np.clip(base + rng.normal(-0.03, 0.1, 300), 0, 1)
    ours = paired_bootstrap(base.tolist(), cand.tolist(), resamples=5000, seed=1)
    ref = sps.bootstrap(
        (base, cand),
        lambda b, c, axis: np.mean(c - b, axis=axis),
        paired=True,
        vectorized=True,
        method="percentile",
        n_resamples=5000,
        rng=np.random.default_rng(2),
    ).confidence_interval
    assert ours.ci_low == pytest.approx(ref.low, abs=0.01)
    assert ours.ci_high == pytest.approx(ref.high, abs=0.01)


def test_bootstrap_is_deterministic_per_seed() -> None:
    rng = random.Random(0)
    base, cand = [rng.random() for _ in range(150)], [rng.random() for _ in range(150)]
    first = paired_bootstrap(base, cand, seed=5)
    assert first == paired_bootstrap(base, cand, seed=5)
    other = paired_bootstrap(base, cand, seed=6)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


def test_bootstrap_p_value_agrees_with_the_interval() -> None:
    same = paired_bootstrap([1.0, 0.0] * 50, [1.0, 0.0] * 50)
    assert same.p_value == 1.0 and same.contains_zero and (same.ci_low, same.ci_high) == (0.0, 0.0)
    worse = paired_bootstrap([1.0] * 100, [1.0] * 70 + [0.0] * 30)
    assert worse.ci_high < 0 and not worse.contains_zero and worse.p_value < 0.05
    assert worse.mean_diff == pytest.approx(-0.3)


def test_bootstrap_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2,000 resamples"):
        paired_bootstrap([1.0], [1.0], resamples=500)
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="at least one pair"):
        paired_bootstrap([], [])


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (37, 50), (1, 1000), (812, 1000)])
@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(k: int, n: int, conf: float) -> None:
    lo, hi = proportion_confint(k, n, alpha=1 - conf, method="wilson")
    ours = wilson_interval(k, n, conf)
    assert ours == pytest.approx((lo, hi), abs=1e-12)


def test_wilson_with_no_trials_is_uninformative() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_helpers_match_numpy() -> None:
    values = [0.1, 0.5, 0.9, 0.3, 0.7]
    assert mean(values) == pytest.approx(np.mean(values))
    assert stdev(values) == pytest.approx(np.std(values, ddof=1))
    assert stdev([0.4]) == 0.0
    ordered = sorted(values)
    for q in (0.0, 0.025, 0.5, 0.95, 1.0):
        assert percentile(ordered, q) == pytest.approx(np.percentile(ordered, q * 100))
    with pytest.raises(ValueError):
        mean([])

"""Drift statistics: PSI against a numpy reimplementation, MMD against a direct double sum,
the permutation p-value and the classifier AUC on known shifts, and the novelty ranking."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

import runwell.drift as drift
from runwell.drift.stats import (
    classifier_auc,
    least_similar,
    mmd_test,
    psi,
    psi_band,
)


def _numpy_psi(reference: np.ndarray, live: np.ndarray, bins: int) -> float:
    # numpy's "inverted_cdf" quantiles, with the position i * n / bins rounded up in integers
    # (np.quantile computes it in floats, which can land a hair above a whole number)
    positions = -(-np.arange(1, bins) * len(reference) // bins) - 1
    edges = np.unique(np.sort(reference)[positions])
    ref = np.bincount(np.digitize(reference, edges), minlength=len(edges) + 1) / len(reference)
    now = np.bincount(np.digitize(live, edges), minlength=len(edges) + 1) / len(live)
    ref, now = np.maximum(ref, 1e-4), np.maximum(now, 1e-4)
    return float(np.sum((now - ref) * np.log(now / ref)))


@pytest.mark.parametrize("bins", [2, 5, 10, 20])
@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_psi_matches_numpy(bins: int, shift: float) -> None:
    rng = np.random.default_rng(bins)
    reference = rng.lognormal(5.0, 0.7, 3000)
    live = rng.lognormal(5.0 + shift, 0.7, 1200)
    result = psi(reference.tolist(), live.tolist(), bins=bins)
    assert result.value == pytest.approx(_numpy_psi(reference, live, bins), rel=1e-9, abs=1e-12)
    assert len(result.reference_share) == len(result.edges) + 1 == bins
    assert sum(result.live_share) == pytest.approx(1.0)


def test_psi_bands_read_the_usual_thresholds() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(300, 80, 5000).tolist()
    assert psi(reference, rng.normal(300, 80, 5000).tolist()).band == "stable"
    assert psi(reference, rng.normal(330, 80, 5000).tolist()).band == "moderate"
    assert psi(reference, rng.normal(400, 80, 5000).tolist()).band == "significant"
    assert [psi_band(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "significant",
        "significant",
    ]


def test_psi_merges_repeated_cut_points_of_discrete_counts() -> None:
    reference = [1] * 500 + [2] * 300 + [3] * 200
    live = [1] * 200 + [2] * 300 + [3] * 300 + [9] * 200
    result = psi(reference, live, bins=10)
    assert result.edges == (1.0, 2.0, 3.0)
    assert result.reference_share == (0.0, 0.5, 0.3, 0.2)
    assert result.live_share == (0.0, 0.2, 0.3, 0.5)
    assert result.value == pytest.approx(_numpy_psi(np.array(reference), np.array(live), 10))
    assert result.band == "significant"


@pytest.mark.parametrize(
    ("reference", "live", "bins", "message"),
    [
        ([1.0], [1.0], 1, "bins must be at least 2"),
        ([], [1.0], 10, "reference is empty"),
        ([1.0], [float("nan")], 10, "live contains NaN"),
    ],
)
def test_psi_rejects_bad_input(reference: list[float], live: list[float], bins: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        psi(reference, live, bins=bins)


def _direct_mmd2(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pooled = np.vstack([x, y])
    distances = [
        float(np.linalg.norm(pooled[i] - pooled[j]))
        for i in range(len(pooled))
        for j in range(i + 1, len(pooled))
    ]
    sigma = float(np.median(distances))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2)))

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy, sigma


def test_mmd_statistic_matches_the_direct_double_sum() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1, (25, 4)), rng.normal(0.3, 1, (31, 4))
    expected, sigma = _direct_mmd2(x, y)
    result = mmd_test(x, y, permutations=10)
    assert result.mmd2 == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert result.bandwidth == pytest.approx(sigma, rel=1e-9)
    assert (result.reference_n, result.live_n) == (25, 31)


def test_mmd_detects_a_shift_and_not_its_absence() -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(0, 1, (300, 16))
    same = mmd_test(reference, rng.normal(0, 1, (300, 16)), permutations=200, seed=1)
    moved = mmd_test(reference, rng.normal(0.25, 1, (300, 16)), permutations=200, seed=1)
    assert same.p_value > 0.05
    assert moved.p_value == 1 / 201
    assert moved.mmd2 > 10 * abs(same.mmd2)


def test_mmd_permutation_p_value_is_calibrated_under_the_null() -> None:
    rng = np.random.default_rng(2)
    p_values = [
        mmd_test(rng.normal(0, 1, (40, 8)), rng.normal(0, 1, (40, 8)), permutations=99, seed=s).p_value
        for s in range(60)
    ]
    # uniform under the null: about 5 % below 0.05, and never below the 1 / 100 floor
    assert sum(p < 0.05 for p in p_values) <= 8
    assert min(p_values) >= 0.01
    assert 0.35 < float(np.mean(p_values)) < 0.65


def test_mmd_subsamples_deterministically() -> None:
    rng = np.random.default_rng(4)
    reference, live = rng.normal(0, 1, (900, 8)), rng.normal(0, 1, (700, 8))
    first = mmd_test(reference, live, max_per_side=200, permutations=50, seed=9)
    assert (first.reference_n, first.live_n) == (200, 200)
    assert mmd_test(reference, live, max_per_side=200, permutations=50, seed=9) == first
    assert mmd_test(reference, live, max_per_side=200, permutations=50, seed=10) != first


def test_mmd_rejects_mismatched_or_flat_input() -> None:
    with pytest.raises(ValueError, match="reference rows have 4 dimensions but live rows 3"):
        mmd_test(np.zeros((5, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="must be a 2-D matrix"):
        mmd_test([1.0, 2.0], [[1.0]])
    with pytest.raises(ValueError, match="need at least 2 rows a side"):
        mmd_test(np.zeros((1, 2)), np.zeros((5, 2)))


def test_classifier_auc_is_near_half_without_drift_and_high_with_it() -> None:
    rng = np.random.default_rng(8)
    reference = rng.normal(0, 1, (400, 16))
    same = classifier_auc(reference, rng.normal(0, 1, (400, 16)))
    shifted = rng.normal(0, 1, (400, 16))
    shifted[:, 0] += 1.5
    moved = classifier_auc(reference, shifted)
    assert 0.4 < same.auc < 0.6
    assert moved.auc > 0.8
    assert (moved.reference_n, moved.live_n, moved.folds) == (400, 400, 5)


def test_classifier_auc_uses_mid_ranks_like_mann_whitney() -> None:
    from runwell.drift.stats import _auc

    scores = np.array([0.1, 0.4, 0.4, 0.9, 0.2, 0.4, 0.8])
    positive = np.array([False, True, False, True, False, True, True])
    expected = sps.mannwhitneyu(scores[positive], scores[~positive]).statistic / (4 * 3)
    assert _auc(scores, positive) == pytest.approx(expected)


def test_least_similar_puts_the_uncovered_inputs_first() -> None:
    rng = np.random.default_rng(6)
    reference = rng.normal(0, 0.05, (50, 8))
    reference[:, 0] += 1.0  # the eval set covers one direction
    live = rng.normal(0, 0.05, (30, 8))
    live[:, 0] += 1.0
    live[[4, 17], 0] = 0.0
    live[4, 3], live[17, 5] = 1.0, -1.0  # two live inputs point elsewhere
    ranked = least_similar(live, reference)
    assert {ranked[0].index, ranked[1].index} == {4, 17}
    assert [r.similarity for r in ranked] == sorted(r.similarity for r in ranked)
    unit = live / np.linalg.norm(live, axis=1, keepdims=True)
    ref_unit = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    sims = unit @ ref_unit.T
    for row in ranked:
        assert row.similarity == pytest.approx(float(sims[row.index].max()))
        assert row.nearest == int(sims[row.index].argmax())
    assert least_similar(live, reference, top_k=3, chunk=7) == ranked[:3]


def test_least_similar_treats_a_zero_row_as_unlike_everything() -> None:
    ranked = least_similar([[0.0, 0.0], [1.0, 0.0]], [[1.0, 0.1]])
    assert ranked[0].index == 0 and ranked[0].similarity == 0.0


def test_drift_imports_without_numpy_and_psi_still_works() -> None:
    code = """
import sys
sys.modules["numpy"] = None
import runwell.drift as drift
print(drift.psi([1, 2, 3, 4], [1, 2, 3, 4], bins=2).band)
try:
    drift.mmd_test([[0.0]], [[1.0]])
except drift.stats.MissingExtra as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "stable"
    assert lines[1] == (
        "the MMD drift test needs runwell's optional 'embeddings' dependencies, which are not installed: "
        "pip install 'runwell[embeddings]'"
    )


PUBLIC = {
    "AucResult", "MmdResult", "Novelty", "PsiBand", "PsiResult", "classifier_auc", "least_similar",
    "mmd_test", "psi", "psi_band", "SCALARS", "DriftReport", "DriftSettings", "Embed", "LiveInput",
    "assess", "live_inputs", "local_embedder", "reference_texts", "render_report", "scalar_features",
    "user_text",
}  # fmt: skip


def test_drift_public_api_is_pinned_and_documented() -> None:
    assert set(drift.__all__) == PUBLIC
    for name in PUBLIC - {"PsiBand", "SCALARS", "Embed"}:
        assert getattr(drift, name).__doc__, f"{name} has no docstring"

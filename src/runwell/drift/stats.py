"""Drift statistics: is live traffic still like the reference set (the eval set's inputs)?

- :func:`psi`: Population Stability Index of a scalar feature (input length, token counts), with
  bins at the reference's quantiles. Pure Python, so it runs on a base install.
- :func:`mmd_test`: two-sample Maximum Mean Discrepancy on embedding matrices (RBF kernel,
  median-heuristic bandwidth) with a permutation p-value. Cost is bounded: each side is
  subsampled to ``max_per_side`` rows (seeded), so the kernel matrix is at most ``(2N)^2``.
- :func:`classifier_auc`: domain-classifier test: cross-validated AUC of a logistic regression
  told to separate reference from live embeddings (0.5: indistinguishable).
- :func:`least_similar`: live inputs ranked by their best cosine similarity to any reference
  embedding, least similar first — the candidates to add to the eval set.

numpy (the ``embeddings`` extra, which drift needs anyway) is imported inside the functions that
use it, never at import time; without it they raise :class:`~runwell.errors.MissingExtra`.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from runwell.errors import MissingExtra

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    Matrix: TypeAlias = NDArray[np.float64]

__all__ = [
    "AucResult",
    "MmdResult",
    "Novelty",
    "PsiBand",
    "PsiResult",
    "classifier_auc",
    "least_similar",
    "mmd_test",
    "psi",
    "psi_band",
]

PsiBand: TypeAlias = Literal["stable", "moderate", "significant"]

# An empty bin counts as this share of its side, so PSI stays finite (the usual convention).
_PSI_FLOOR = 1e-4


def _require_numpy(feature: str) -> None:
    try:
        import numpy  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the test environment has numpy
        raise MissingExtra("embeddings", feature) from exc


@dataclass(frozen=True, slots=True)
class PsiResult:
    """PSI of live against reference, its band, and the per-bin shares behind it.

    ``edges`` are the interior cut points (a value equal to an edge falls in the bin above it);
    ``reference_share`` and ``live_share`` have ``len(edges) + 1`` entries, before flooring.
    """

    value: float
    band: PsiBand
    edges: tuple[float, ...]
    reference_share: tuple[float, ...]
    live_share: tuple[float, ...]
    reference_n: int
    live_n: int


def psi_band(value: float) -> PsiBand:
    """The usual reading of a PSI: below 0.1 stable, below 0.25 moderate shift, else significant."""
    if value < 0.1:
        return "stable"
    if value < 0.25:
        return "moderate"
    return "significant"


def _cut(sorted_values: Sequence[float], i: int, bins: int) -> float:
    """The smallest value with at least a share i / bins at or below it (numpy's "inverted_cdf")."""
    # integer ceiling: i / bins * n in floats can land a hair above a whole number
    position = -(-i * len(sorted_values) // bins)
    return sorted_values[max(0, position - 1)]


def _finite(values: Sequence[float], name: str) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ValueError(f"{name} is empty: PSI needs values on both sides")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} contains NaN or infinity: drop missing values first")
    return out


def psi(reference: Sequence[float], live: Sequence[float], *, bins: int = 10) -> PsiResult:
    """Population Stability Index of ``live`` against ``reference``.

    Bins are cut at the reference's ``1/bins .. (bins-1)/bins`` quantiles, taken as reference
    values rather than interpolated between them, so counts get clean bins; repeated cut points
    (common with counts) merge into one. Each reference bin then holds about the same share.
    ``PSI = sum((live - ref) * ln(live / ref))`` over the bins' shares, an empty bin counting as
    0.0001 of its side.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    ref = sorted(_finite(reference, "reference"))
    now = _finite(live, "live")
    edges = tuple(sorted({_cut(ref, i, bins) for i in range(1, bins)}))
    ref_counts = [0] * (len(edges) + 1)
    live_counts = [0] * (len(edges) + 1)
    for v in ref:
        ref_counts[bisect_right(edges, v)] += 1
    for v in now:
        live_counts[bisect_right(edges, v)] += 1
    ref_share = tuple(c / len(ref) for c in ref_counts)
    live_share = tuple(c / len(now) for c in live_counts)
    value = math.fsum(
        (max(b, _PSI_FLOOR) - max(a, _PSI_FLOOR)) * math.log(max(b, _PSI_FLOOR) / max(a, _PSI_FLOOR))
        for a, b in zip(ref_share, live_share, strict=True)
    )
    return PsiResult(
        value=value,
        band=psi_band(value),
        edges=edges,
        reference_share=ref_share,
        live_share=live_share,
        reference_n=len(ref),
        live_n=len(now),
    )


@dataclass(frozen=True, slots=True)
class MmdResult:
    """Unbiased MMD² between the (subsampled) sides, and its permutation p-value.

    ``p_value = (1 + #{permuted MMD² >= observed}) / (1 + permutations)``; ``bandwidth`` is the
    RBF kernel's sigma (the median pairwise distance of the pooled rows).
    """

    mmd2: float
    p_value: float
    bandwidth: float
    reference_n: int
    live_n: int
    permutations: int
    seed: int


def _matrix(values: ArrayLike, name: str) -> Matrix:
    import numpy as np

    array: Matrix = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (rows are embeddings), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def _subsample(array: Matrix, limit: int, rng: np.random.Generator) -> Matrix:
    import numpy as np

    if len(array) <= limit:
        return array
    return array[np.sort(rng.choice(len(array), size=limit, replace=False))]


def _sq_distances(a: Matrix) -> Matrix:
    import numpy as np

    norms = (a * a).sum(axis=1)
    squared: Matrix = norms[:, None] + norms[None, :] - 2.0 * (a @ a.T)
    np.fill_diagonal(squared, 0.0)
    np.maximum(squared, 0.0, out=squared)  # rounding can dip just below zero
    return squared


def mmd_test(
    reference: ArrayLike,
    live: ArrayLike,
    *,
    max_per_side: int = 500,
    permutations: int = 200,
    seed: int = 0,
) -> MmdResult:
    """Two-sample MMD test with an RBF kernel; are the live embeddings drawn like the reference?

    Each side is first subsampled (without replacement, seeded) to at most ``max_per_side`` rows,
    which bounds the cost at one ``(2N)^2`` kernel matrix and ``permutations`` passes over it.
    The same inputs and seed always give the same result.
    """
    _require_numpy("the MMD drift test")
    import numpy as np

    if max_per_side < 2:
        raise ValueError(f"max_per_side must be at least 2, got {max_per_side}")
    if permutations < 1:
        raise ValueError(f"permutations must be at least 1, got {permutations}")
    ref, now = _matrix(reference, "reference"), _matrix(live, "live")
    if ref.shape[1] != now.shape[1]:
        raise ValueError(f"reference rows have {ref.shape[1]} dimensions but live rows {now.shape[1]}")
    rng = np.random.default_rng(seed)
    ref, now = _subsample(ref, max_per_side, rng), _subsample(now, max_per_side, rng)
    m, n = len(ref), len(now)
    if m < 2 or n < 2:
        raise ValueError(f"need at least 2 rows a side, got {m} reference and {n} live")
    squared = _sq_distances(np.vstack([ref, now]))
    upper = squared[np.triu_indices(m + n, k=1)]
    bandwidth = float(np.median(np.sqrt(upper)))
    if bandwidth == 0.0:
        bandwidth = 1.0  # most rows coincide; any width separates the rest
    kernel = np.exp(-squared / (2.0 * bandwidth**2))
    np.fill_diagonal(kernel, 0.0)  # the unbiased estimate leaves out k(x, x)
    total = float(kernel.sum())

    def mmd2(first: Matrix) -> Matrix:
        # first: (k, m+n) 0/1 rows marking the "reference" side of k labellings.
        weighted = first @ kernel
        within = np.einsum("ij,ij->i", weighted, first)
        across = weighted.sum(axis=1) - within
        other = total - within - 2.0 * across
        result: Matrix = within / (m * (m - 1)) + other / (n * (n - 1)) - 2.0 * across / (m * n)
        return result

    labels = np.zeros(m + n)
    labels[:m] = 1.0
    observed = float(mmd2(labels[None, :])[0])
    exceed = 0
    for start in range(0, permutations, 64):
        count = min(64, permutations - start)
        shuffled = np.stack([rng.permutation(labels) for _ in range(count)])
        exceed += int((mmd2(shuffled) >= observed).sum())
    return MmdResult(
        mmd2=observed,
        p_value=(1 + exceed) / (1 + permutations),
        bandwidth=bandwidth,
        reference_n=m,
        live_n=n,
        permutations=permutations,
        seed=seed,
    )


@dataclass(frozen=True, slots=True)
class AucResult:
    """Out-of-fold AUC of a classifier separating live (positive) from reference rows.

    Near 0.5 the two sets are indistinguishable; the further above, the stronger the drift.
    """

    auc: float
    reference_n: int
    live_n: int
    folds: int
    seed: int


def _auc(scores: Matrix, positive: NDArray[np.bool_]) -> float:
    """Mann–Whitney AUC with mid-ranks for tied scores."""
    import numpy as np

    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid_ranks = ends - (counts - 1) / 2.0
    ranks = mid_ranks[inverse]
    n_pos = int(positive.sum())
    n_neg = len(scores) - n_pos
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def _fit_logistic(x: Matrix, y: Matrix, l2: float, iterations: int) -> Matrix:
    """L2-regularised logistic regression by Nesterov-accelerated gradient descent (step 1/L)."""
    import numpy as np

    rows, cols = x.shape
    # the loss's gradient is L-Lipschitz with L <= ||X||_2^2 / (4 rows) + l2; ||X||_F^2 bounds ||X||_2^2
    lipschitz = float((x * x).sum()) / (4.0 * rows) + l2
    step = 1.0 / lipschitz
    w = np.zeros(cols)
    ahead = w.copy()
    for t in range(1, iterations + 1):
        p = 1.0 / (1.0 + np.exp(-(x @ ahead)))
        grad = x.T @ (p - y) / rows + l2 * ahead
        new = ahead - step * grad
        ahead = new + (t - 1) / (t + 2) * (new - w)
        w = new
    result: Matrix = w
    return result


def classifier_auc(
    reference: ArrayLike,
    live: ArrayLike,
    *,
    folds: int = 5,
    max_per_side: int = 2000,
    l2: float = 1e-2,
    iterations: int = 300,
    seed: int = 0,
) -> AucResult:
    """Domain-classifier drift test: how well can a linear model tell live rows from reference ones?

    Features are standardised on each training fold; the AUC is computed on the out-of-fold
    scores of all rows together. Each side is subsampled (seeded) to ``max_per_side`` rows.
    """
    _require_numpy("the domain-classifier drift test")
    import numpy as np

    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    ref, now = _matrix(reference, "reference"), _matrix(live, "live")
    if ref.shape[1] != now.shape[1]:
        raise ValueError(f"reference rows have {ref.shape[1]} dimensions but live rows {now.shape[1]}")
    rng = np.random.default_rng(seed)
    ref, now = _subsample(ref, max_per_side, rng), _subsample(now, max_per_side, rng)
    if min(len(ref), len(now)) < folds:
        raise ValueError(f"need at least {folds} rows a side for {folds} folds")
    x = np.vstack([ref, now])
    y = np.concatenate([np.zeros(len(ref)), np.ones(len(now))])
    fold = np.empty(len(x), dtype=int)
    # stratified: each side is dealt round-robin over the folds after a seeded shuffle
    fold[: len(ref)] = rng.permutation(len(ref)) % folds
    fold[len(ref) :] = rng.permutation(len(now)) % folds
    scores = np.empty(len(x))
    for k in range(folds):
        train, test = fold != k, fold == k
        centre = x[train].mean(axis=0)
        scale = x[train].std(axis=0)
        scale[scale == 0] = 1.0
        xt = np.hstack([(x[train] - centre) / scale, np.ones((int(train.sum()), 1))])
        w = _fit_logistic(xt, y[train], l2, iterations)
        scores[test] = np.hstack([(x[test] - centre) / scale, np.ones((int(test.sum()), 1))]) @ w
    return AucResult(
        auc=_auc(scores, y.astype(bool)),
        reference_n=len(ref),
        live_n=len(now),
        folds=folds,
        seed=seed,
    )


@dataclass(frozen=True, slots=True)
class Novelty:
    """A live row and its best cosine similarity to the reference (``nearest`` is that row's index)."""

    index: int
    similarity: float
    nearest: int


def least_similar(
    live: ArrayLike, reference: ArrayLike, *, top_k: int | None = None, chunk: int = 1024
) -> list[Novelty]:
    """Live rows ordered by their maximum cosine similarity to any reference row, ascending.

    The first ones are the inputs the eval set covers worst. Ties keep the live order. Rows are
    compared ``chunk`` at a time, so memory stays at ``chunk x len(reference)`` similarities. An
    all-zero row has similarity 0 to everything.
    """
    _require_numpy("ranking live inputs against the reference set")
    import numpy as np

    now, ref = _matrix(live, "live"), _matrix(reference, "reference")
    if len(ref) == 0:
        raise ValueError("reference is empty: nothing to compare the live inputs with")
    if now.shape[1] != ref.shape[1]:
        raise ValueError(f"live rows have {now.shape[1]} dimensions but reference rows {ref.shape[1]}")

    def unit(a: Matrix) -> Matrix:
        norms = np.linalg.norm(a, axis=1, keepdims=True)
        normalised: Matrix = a / np.where(norms == 0, 1.0, norms)
        return normalised

    now_unit, ref_unit = unit(now), unit(ref)
    best = np.empty(len(now))
    nearest = np.empty(len(now), dtype=int)
    for start in range(0, len(now), chunk):
        sims = now_unit[start : start + chunk] @ ref_unit.T
        nearest[start : start + chunk] = sims.argmax(axis=1)
        best[start : start + chunk] = sims.max(axis=1)
    order = np.argsort(best, kind="stable")
    if top_k is not None:
        order = order[:top_k]
    return [Novelty(index=int(i), similarity=float(best[i]), nearest=int(nearest[i])) for i in order]

"""Drift: how far live traffic has moved from the reference set the feature was evaluated on.

:mod:`runwell.drift.stats` holds the tests: PSI on scalar features (pure Python), and on
embeddings an MMD permutation test, a domain-classifier AUC and a novelty ranking (numpy, from the
``embeddings`` extra, imported only when called).
"""

from __future__ import annotations

from runwell.drift.stats import (
    AucResult,
    MmdResult,
    Novelty,
    PsiBand,
    PsiResult,
    classifier_auc,
    least_similar,
    mmd_test,
    psi,
    psi_band,
)

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

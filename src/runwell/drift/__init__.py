"""Drift: how far live traffic has moved from the reference set the feature was evaluated on.

- :mod:`runwell.drift.stats`: the tests: PSI on scalar features (pure Python), and on embeddings an
  MMD permutation test, a domain-classifier AUC and a novelty ranking (numpy, from the
  ``embeddings`` extra, imported only when called).
- :mod:`runwell.drift.inputs`: the text and scalar features measured on an input, alike on both sides.
- :mod:`runwell.drift.reference`: the eval set's inputs, through the serving variant's template.
- :mod:`runwell.drift.live`: the latest served inputs, from the request records.
- :mod:`runwell.drift.monitor`: one assessment (:func:`assess`) and its report.
"""

from __future__ import annotations

from runwell.drift.inputs import SCALARS, scalar_features, user_text
from runwell.drift.live import LiveInput, live_inputs
from runwell.drift.monitor import DriftReport, DriftSettings, Embed, assess, local_embedder, render_report
from runwell.drift.reference import reference_texts
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
    "SCALARS",
    "AucResult",
    "DriftReport",
    "DriftSettings",
    "Embed",
    "LiveInput",
    "MmdResult",
    "Novelty",
    "PsiBand",
    "PsiResult",
    "assess",
    "classifier_auc",
    "least_similar",
    "live_inputs",
    "local_embedder",
    "mmd_test",
    "psi",
    "psi_band",
    "reference_texts",
    "render_report",
    "scalar_features",
    "user_text",
]

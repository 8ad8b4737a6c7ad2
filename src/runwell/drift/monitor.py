"""Is live traffic still like the eval set? One assessment: embeddings, scalars, the least-like inputs.

:func:`assess` compares the live inputs with the reference (the eval set's inputs):

- on embeddings of the local all-MiniLM-L6-v2 model (the semantic scorer's, offline): a permutation
  test on the MMD (``method: mmd``, drift when ``p < p_value``) or a domain classifier's
  cross-validated AUC (``method: classifier``, drift at ``auc`` or above);
- PSI on the scalar features (input length in characters and words), drift at ``psi`` or above;
- the live inputs least like any reference input (lowest best cosine similarity), first: the
  candidates to add to the eval set.

Without the ``embeddings`` extra only the scalars are compared, and the report says so. The
statistics are seeded, so the same inputs always give the same report.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Literal

from runwell.drift.inputs import SCALARS, scalar_features
from runwell.drift.live import LiveInput
from runwell.drift.stats import Novelty, classifier_auc, least_similar, mmd_test, psi

__all__ = ["DriftReport", "DriftSettings", "Embed", "assess", "local_embedder", "render_report"]

Embed = Callable[[list[str]], list[list[float]]]
"""Embeds texts, blocking: one vector per text, in order."""

Verdict = Literal["drift", "stable", "insufficient"]


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """Thresholds and sample sizes (the spec's ``rollout.drift``)."""

    method: Literal["mmd", "classifier"] = "mmd"
    p_value: float = 0.01
    auc: float = 0.75
    psi: float = 0.25
    min_live: int = 50
    reference_sample: int = 500
    top: int = 10
    permutations: int = 200
    seed: int = 0


@dataclass(frozen=True, slots=True)
class DriftReport:
    """What :func:`assess` found; ``to_dict`` for JSON, :func:`render_report` for people."""

    feature: str
    verdict: Verdict
    reasons: tuple[str, ...]
    reference_n: int
    live_n: int
    method: str
    embedding: dict[str, Any] | None
    scalars: dict[str, dict[str, Any]]
    least_like: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    @property
    def drifted(self) -> bool:
        """Whether the live inputs moved past a threshold."""
        return self.verdict == "drift"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "feature": self.feature,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "reference_n": self.reference_n,
            "live_n": self.live_n,
            "method": self.method,
            "embedding": self.embedding,
            "scalars": self.scalars,
            "least_like": self.least_like,
            "note": self.note,
        }


def local_embedder() -> tuple[Embed | None, str | None]:
    """The local MiniLM's blocking ``embed``, or ``(None, why)`` without the ``embeddings`` extra."""
    from runwell.errors import MissingExtra
    from runwell.evals.embeddings import LocalMiniLM, local_model_files

    try:
        import numpy  # noqa: F401
        import onnxruntime  # type: ignore[import-untyped]  # noqa: F401
        import tokenizers  # noqa: F401

        local_model_files()
    except Exception:  # an absent package, or the model files missing: the extra is not installed
        missing = MissingExtra("embeddings", "comparing embeddings (MMD or classifier AUC)")
        return None, f"only the scalar features were compared: {missing}"
    return LocalMiniLM().embed_sync, None


def _sample(texts: Sequence[str], limit: int, seed: int) -> list[str]:
    if len(texts) <= limit:
        return list(texts)
    return random.Random(seed).sample(list(texts), limit)


def assess(
    feature: str,
    reference: Sequence[str],
    live: Sequence[LiveInput],
    settings: DriftSettings,
    embed: Embed | None,
    *,
    note: str | None = None,
) -> DriftReport:
    """Compare ``live`` with ``reference`` (see the module docstring)."""
    ref = _sample(reference, settings.reference_sample, settings.seed)
    if len(live) < settings.min_live or len(ref) < 10:
        why = (
            f"{len(live)} live inputs (need {settings.min_live}) and {len(ref)} reference inputs (need 10); "
            "no verdict yet"
        )
        return DriftReport(
            feature, "insufficient", (why,), len(ref), len(live), settings.method, None, {}, [], note
        )
    live_texts = [item.text for item in live]
    reasons: list[str] = []
    scalars: dict[str, dict[str, Any]] = {}
    ref_scalars, live_scalars = scalar_features(ref), scalar_features(live_texts)
    # An eval set is often small: about ten reference values per bin keep PSI from reading noise
    # as a shift (ten bins from a hundred reference inputs up, two below twenty).
    bins = max(2, min(10, len(ref) // 10))
    for name in SCALARS:
        result = psi(ref_scalars[name], live_scalars[name], bins=bins)
        scalars[name] = {
            "psi": result.value,
            "band": result.band,
            "bins": len(result.edges) + 1,
            "reference_median": median(ref_scalars[name]),
            "live_median": median(live_scalars[name]),
        }
        if result.value >= settings.psi:
            reasons.append(f"{name}: PSI {result.value:.3f} >= {settings.psi:g} ({result.band} shift)")
    embedding: dict[str, Any] | None = None
    least: list[dict[str, Any]] = []
    if embed is not None:
        vectors = embed(ref + live_texts)
        ref_vectors, live_vectors = vectors[: len(ref)], vectors[len(ref) :]
        if settings.method == "mmd":
            mmd = mmd_test(ref_vectors, live_vectors, permutations=settings.permutations, seed=settings.seed)
            embedding = {"test": "mmd", "mmd2": mmd.mmd2, "p_value": mmd.p_value, "bandwidth": mmd.bandwidth}
            if mmd.p_value < settings.p_value:
                reasons.append(f"embeddings: MMD permutation p = {mmd.p_value:.3g} < {settings.p_value:g}")
        else:
            auc = classifier_auc(ref_vectors, live_vectors, seed=settings.seed)
            embedding = {"test": "classifier", "auc": auc.auc, "folds": auc.folds}
            if auc.auc >= settings.auc:
                reasons.append(f"embeddings: domain classifier AUC {auc.auc:.3f} >= {settings.auc:g}")
        least = _least_like(live, ref, least_similar(live_vectors, ref_vectors), settings.top)
    verdict: Verdict = "drift" if reasons else "stable"
    return DriftReport(
        feature,
        verdict,
        tuple(reasons),
        len(ref),
        len(live),
        settings.method,
        embedding,
        scalars,
        least,
        note,
    )


def _least_like(
    live: Sequence[LiveInput], ref: Sequence[str], ranked: Sequence[Novelty], top: int
) -> list[dict[str, Any]]:
    """The ``top`` least-like distinct inputs: a text asked many times is listed once, with its count."""
    counts: dict[str, int] = {}
    for item in live:
        counts[item.text] = counts.get(item.text, 0) + 1
    out: list[dict[str, Any]] = []
    listed: set[str] = set()
    for novelty in ranked:
        item = live[novelty.index]
        if item.text in listed:
            continue
        if len(out) == top:
            break
        listed.add(item.text)
        out.append(
            {
                "request_id": item.request_id,
                "started_at": item.started_at,
                "similarity": novelty.similarity,
                "text": item.text,
                "count": counts[item.text],
                "nearest_reference": ref[novelty.nearest],
            }
        )
    return out


def _clip(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render_report(report: DriftReport) -> str:
    """The report as ``runwell drift`` prints it."""
    lines = [
        f"{report.feature}: {report.verdict.upper()} — {report.live_n} live inputs against "
        f"{report.reference_n} eval-set inputs"
    ]
    lines.extend(f"  {reason}" for reason in report.reasons)
    if report.embedding is not None:
        if report.embedding["test"] == "mmd":
            lines.append(
                f"  embeddings (MiniLM): MMD² {report.embedding['mmd2']:.4g}, permutation p "
                f"{report.embedding['p_value']:.3g}"
            )
        else:
            lines.append(f"  embeddings (MiniLM): domain classifier AUC {report.embedding['auc']:.3f}")
    for name, values in report.scalars.items():
        lines.append(
            f"  {name}: PSI {values['psi']:.3f} ({values['band']}), median {values['live_median']:g} live "
            f"vs {values['reference_median']:g} eval set"
        )
    if report.note:
        lines.append(f"  note: {report.note}")
    if report.least_like:
        lines.append("")
        lines.append("Live inputs least like the eval set (candidates to add to it):")
        for item in report.least_like:
            times = f" (x{item['count']})" if item["count"] > 1 else ""
            lines.append(f"  {item['similarity']:.3f}  {item['request_id']}  {_clip(item['text'])}{times}")
    return "\n".join(lines)

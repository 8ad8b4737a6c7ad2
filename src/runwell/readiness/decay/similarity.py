"""How unlike the eval set live inputs are, in pure Python (character trigram Jaccard similarity).

Embeddings say it better, but they need the ``embeddings`` extra; this runs on a base install and
is enough to see a share of traffic the eval set has nothing close to.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["trigrams", "unlike_share"]


def trigrams(text: str) -> frozenset[str]:
    """The character trigrams of ``text``, lower-cased, whitespace folded."""
    flat = " " + " ".join(text.lower().split()) + " "
    return frozenset(flat[i : i + 3] for i in range(len(flat) - 2))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def unlike_share(live: Sequence[str], reference: Sequence[str], threshold: float) -> tuple[float, list[str]]:
    """The share of ``live`` texts whose best match in ``reference`` is below ``threshold``, and a
    few of them."""
    refs = [trigrams(t) for t in reference]
    unlike: list[str] = []
    for text in live:
        grams = trigrams(text)
        if max((_jaccard(grams, r) for r in refs), default=0.0) < threshold:
            unlike.append(text)
    return (len(unlike) / len(live) if live else 0.0), unlike[:3]

"""A learned injection scorer: logistic regression over word unigrams and bigrams, in pure Python.

Rules catch the phrasings someone thought of; the scorer generalises from thousands of labelled
examples to phrasings nobody wrote a rule for ("whatever you were told before doesn't count").
It is trained offline by :mod:`runwell.guardrails._train` and shipped as a JSON file of weights
(``data/injection_weights.json``), read once when a detector is built.

Features are the words of the normalised text (see ``_normalize.words``) and each pair of
adjacent words, the first word paired with a start mark ``^``. A text's logit is the bias plus
the weight of every feature it contains; the probability is its logistic. Long texts are scored
in overlapping windows of :data:`WINDOW` words and the best window counts, so an instruction
hidden in a long pasted document is judged on its own neighbourhood rather than diluted by (or
summed with) pages of unrelated words. The same windows are used in training.

Inference is a dict lookup or two per word and no allocation beyond one bigram string per word:
no numpy on the request path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, TypeGuard

from runwell.errors import ConfigError

__all__ = ["FORMAT", "WEIGHTS_FILE", "WINDOW", "LearnedScorer", "features", "load_weights", "windows"]

FORMAT = "runwell-injection-logreg/1"
"""The ``format`` a weights file must declare; bumped whenever the features change."""
WEIGHTS_FILE = "injection_weights.json"
WINDOW = 64
"""Words per scoring window; texts up to this long are one window."""
_STRIDE = WINDOW // 2  # windows overlap by half, so any span up to half a window lies inside one
_START = "^"
_LOGIT_CAP = 30.0  # beyond this the logistic is 0 or 1 in double precision anyway


def features(seq: Sequence[str]) -> list[tuple[str, str]]:
    """The features at each word position: ``(word, "previous word")`` (``^`` before the first)."""
    out: list[tuple[str, str]] = []
    prev = _START
    for word in seq:
        out.append((word, f"{prev} {word}"))
        prev = word
    return out


def windows(length: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` word ranges scored for a text of ``length`` words."""
    if length <= WINDOW:
        return [(0, length)]
    starts = [*range(0, length - WINDOW, _STRIDE), length - WINDOW]
    return [(s, s + WINDOW) for s in starts]


def sigmoid(z: float) -> float:
    """The logistic function, clamped so that it never overflows."""
    return 1.0 / (1.0 + math.exp(-max(-_LOGIT_CAP, min(_LOGIT_CAP, z))))


class LearnedScorer:
    """Scores word sequences with shipped (or given) logistic-regression weights.

    ``threshold`` is the logit at which the scorer alone calls a text an attack, chosen on the
    dev set when the weights were trained; :meth:`evidence` maps logits so that this point is 0.5.
    """

    def __init__(self, weights: Mapping[str, float], bias: float, threshold: float) -> None:
        # One entry per word: (its own weight, {next word: bigram weight}). A lookup then hashes
        # only words the text already holds (str caches its hash) rather than a new bigram string,
        # and an unknown word, the usual case, costs one probe.
        unigrams: dict[str, float] = {}
        following: dict[str, dict[str, float]] = {}
        for name, weight in weights.items():
            first, _, second = name.partition(" ")
            if second:
                following.setdefault(first, {})[second] = weight
            else:
                unigrams[name] = weight
        self._table: dict[str, tuple[float, dict[str, float]]] = {
            word: (unigrams.get(word, 0.0), following.get(word, {}))
            for word in unigrams.keys() | following.keys()
        }
        self._size = len(weights)
        self.bias = bias
        self.threshold = threshold

    def __len__(self) -> int:
        return self._size

    def logit(self, seq: Sequence[str]) -> float:
        """The highest window logit of a text's words (the bias alone for an empty text)."""
        table = self._table.get
        unknown: tuple[float, dict[str, float]] = (0.0, {})
        contributions: list[float] = []
        following = table(_START, unknown)[1]
        for word in seq:
            # Inlined rather than calling features(): this runs on every request.
            own, after = table(word, unknown)
            contributions.append(own + following.get(word, 0.0))
            following = after
        if len(contributions) <= WINDOW:
            return self.bias + sum(contributions)
        return self.bias + max(sum(contributions[s:e]) for s, e in windows(len(contributions)))

    def probability(self, seq: Sequence[str]) -> float:
        """The model's probability that the text is an attack."""
        return sigmoid(self.logit(seq))

    def evidence(self, seq: Sequence[str]) -> float:
        """The probability with the logit shifted so that the tuned threshold maps to 0.5."""
        return sigmoid(self.logit(seq) - self.threshold)


def load_weights(data: bytes | str | None = None) -> LearnedScorer:
    """Build a scorer from a weights file's contents (default: the shipped file), validating it."""
    if data is None:
        data = (resources.files("runwell.guardrails") / "data" / WEIGHTS_FILE).read_bytes()
    where = f"guardrails/data/{WEIGHTS_FILE}"
    retrain = "rebuild it with python -m runwell.guardrails._train (see tests/guardrails/data/README.md)"
    try:
        doc: Any = json.loads(data)
    except ValueError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc}); {retrain}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(f"{where}: expected format {FORMAT!r}, found {found!r}; {retrain}")
    bias, threshold, weights = doc.get("bias"), doc.get("threshold"), doc.get("weights")
    if not _finite(bias) or not _finite(threshold):
        raise ConfigError(f"{where}: 'bias' and 'threshold' must be finite numbers; {retrain}")
    if not isinstance(weights, dict) or not weights:
        raise ConfigError(f"{where}: 'weights' must be a non-empty object of feature: weight; {retrain}")
    bad = next((k for k, v in weights.items() if not _finite(v)), None)
    if bad is not None:
        raise ConfigError(f"{where}: weight of feature {bad!r} is not a finite number; {retrain}")
    return LearnedScorer(weights, float(bias), float(threshold))


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

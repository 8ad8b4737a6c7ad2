"""A learned injection scorer: logistic regression over words, word pairs, stems and characters.

Rules catch the phrasings someone thought of; the scorer generalises from thousands of labelled
examples to phrasings nobody wrote a rule for ("whatever you were told before doesn't count").
It is trained offline by :mod:`runwell.guardrails._train` and shipped as a JSON file of weights
(``data/injection_weights.json``), read once when a detector is built.

Features, at each word position of the normalised text (see ``_normalize.words``):

- the word, and the pair it makes with the word before (the first word pairs with a start mark ``^``);
- its stem, the first :data:`STEM` letters of a longer word (``~instr``), which carries what was
  learned across inflections and related languages: "instructions", "instructies", "instrucciones"
  and "instruktioner" share one, as "ignoriere", "ignora" and "ignoruj" do;
- for a run of a script written without spaces (Chinese, Japanese, Thai), which ``words`` returns
  as one long token, each pair of adjacent characters (``#忽略``) instead of a stem.

A text's logit is the bias plus the weight of every feature it contains; the probability is its
logistic. Long texts are scored in overlapping windows of :data:`WINDOW` words and the best window
counts, so an instruction hidden in a long pasted document is judged on its own neighbourhood rather
than diluted by (or summed with) pages of unrelated words. The same windows are used in training.

Inference is a dict probe or two per word: a word's own, stem and character weights depend on the
word alone, so for every word the weights file names they are summed once at load; only an unknown
word costs a slice and one more probe. No numpy on the request path.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, TypeGuard

from runwell.errors import ConfigError

__all__ = [
    "FORMAT",
    "STEM",
    "WEIGHTS_FILE",
    "WINDOW",
    "LearnedScorer",
    "features",
    "load_weights",
    "windows",
    "word_features",
]

FORMAT = "runwell-injection-logreg/2"
"""The ``format`` a weights file must declare; bumped whenever the features change."""
WEIGHTS_FILE = "injection_weights.json"
WINDOW = 64
"""Words per scoring window; texts up to this long are one window."""
STEM = 5
"""Letters in a stem; words this short or shorter have none (the word itself says as much)."""
_STRIDE = WINDOW // 2  # windows overlap by half, so any span up to half a window lies inside one
_START = "^"
_STEM_MARK = "~"  # feature names: "word", "prev word", "~stem", "#ch"; words never hold "~", "#" or " "
_CHAR_MARK = "#"
_LOGIT_CAP = 30.0  # beyond this the logistic is 0 or 1 in double precision anyway


def _unspaced(word: str) -> bool:
    """Whether a token is (partly) in a script written without spaces: Thai, Lao, CJK, kana, Hangul."""
    return not word.isascii() and any("\u0e00" <= c <= "\u0eff" or "\u2e80" <= c <= "\ud7af" for c in word)


def word_features(word: str) -> tuple[str, ...]:
    """The features a word has on its own: itself, then its stem or its character pairs."""
    if _unspaced(word):
        return (word, *{f"{_CHAR_MARK}{a}{b}": None for a, b in itertools.pairwise(word)})
    if len(word) > STEM:
        return (word, f"{_STEM_MARK}{word[:STEM]}")
    return (word,)


def features(seq: Sequence[str]) -> list[tuple[str, ...]]:
    """The features at each word position: ``(word, "previous word", stem or character pairs...)``."""
    out: list[tuple[str, ...]] = []
    prev = _START
    for word in seq:
        own = word_features(word)
        out.append((own[0], f"{prev} {word}", *own[1:]))
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
        # One entry per word: (the sum of its own features' weights, {next word: pair weight}). A
        # lookup then hashes only words the text already holds (str caches its hash) rather than a
        # new pair string, and a known word costs one probe whatever its stem or characters.
        singles: dict[str, float] = {}
        following: dict[str, dict[str, float]] = {}
        for name, weight in weights.items():
            first, _, second = name.partition(" ")
            if second:
                following.setdefault(first, {})[second] = weight
            else:
                singles[name] = weight
        self._singles = singles
        self._table: dict[str, tuple[float, dict[str, float]]] = {
            word: (self._own(word), following.get(word, {}))
            for word in (singles.keys() | following.keys())
            if word[:1] not in (_STEM_MARK, _CHAR_MARK)
        }
        self._size = len(weights)
        self.bias = bias
        self.threshold = threshold

    def _own(self, word: str) -> float:
        """The summed weight of a word's own features (see :func:`word_features`)."""
        get = self._singles.get
        if word.isascii():
            # The common case, inlined: the word and, when long enough, its stem.
            own = get(word, 0.0)
            return own + get(_STEM_MARK + word[:STEM], 0.0) if len(word) > STEM else own
        return sum(get(name, 0.0) for name in word_features(word))

    def __len__(self) -> int:
        return self._size

    def logit(self, seq: Sequence[str]) -> float:
        """The highest window logit of a text's words (the bias alone for an empty text)."""
        table = self._table.get
        own_weight = self._own
        empty: dict[str, float] = {}
        contributions: list[float] = []
        entry = table(_START)
        following = empty if entry is None else entry[1]
        for word in seq:
            # Inlined rather than calling features(): this runs on every request.
            entry = table(word)
            if entry is None:
                contributions.append(own_weight(word) + following.get(word, 0.0))
                following = empty
            else:
                contributions.append(entry[0] + following.get(word, 0.0))
                following = entry[1]
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
    # The quick test first (a JSON number is an int or a float; their sum is finite only when each
    # is); the slow one only to name the bad feature in the error.
    values = weights.values()
    if not all(type(v) is float or type(v) is int for v in values) or not math.isfinite(math.fsum(values)):
        bad = next((k for k, v in weights.items() if not _finite(v)), None)
        if bad is not None:  # (None: every weight is finite and only their sum overflowed)
            raise ConfigError(f"{where}: weight of feature {bad!r} is not a finite number; {retrain}")
    return LearnedScorer(weights, float(bias), float(threshold))


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

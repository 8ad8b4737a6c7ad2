"""Prompt-injection detection: technique rules, a learned scorer, and similarity to known attacks.

Called on every request, so everything that can be done once is done at construction (rules
compiled at import, the corpus normalised and indexed, the scorer's weights loaded). A check
normalises the text, picks the few rules whose gate words it contains, runs those regexes
(sentence by sentence on longer texts, and again on a decoded view when the text hides one),
scores the words with the learned scorer (a dict probe or two per word, see ``_scorer``), and
does one inverted-index lookup. No I/O, and no numpy unless an embedder is configured.

The score combines the evidence as a noisy-OR: every rule that fires, the learned scorer when it
is at least mildly sure, and the corpus match when it is close enough, is an independent chance
that the text is an attack, so ``score = 1 - ∏(1 - w)``. The scorer's probability is shifted so
that its own threshold (chosen on the dev set) maps to 0.5: alone, it flags exactly what it flags
at that threshold; with a weak rule, a little less sure is enough. A text that talks *about* an
injection (asks for a translation of one, classifies one, teaches about them) has its rule and
corpus evidence damped, most where the phrase sits inside quotes; the scorer, trained on such
texts, needs no damping, and when it is sure a text is benign, rule matches inside quotes are
damped as mentions.

A verdict names the rule ids and the corpus entry id that matched, never any of the text, so it
can go into records and logs as is.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from runwell.errors import ConfigError
from runwell.guardrails._lexicon import Rule
from runwell.guardrails._normalize import (
    blank_punctuation,
    hidden_views,
    normalize,
    sentences,
    squash,
    words,
)
from runwell.guardrails._rules import (
    GATE_WORDS,
    MENTION,
    MENTION_WORDS,
    META,
    META_WORDS,
    QUOTED,
    SQUASHED,
    candidates,
)
from runwell.guardrails._scorer import LearnedScorer, load_weights
from runwell.guardrails._similarity import EmbeddingIndex, ShingleIndex, SyncEmbedder

__all__ = ["DEFAULT_THRESHOLD", "InjectionDetector", "InjectionVerdict", "SyncEmbedder", "load_corpus"]

DEFAULT_THRESHOLD = 0.5
"""The score at and above which a text counts as an attack."""

_CORPUS_FILE = "injection_corpus.jsonl"
_WHOLE_TEXT = 200  # shorter texts run every rule on the whole text: splitting would cost more than it saves
_SIMILARITY_FLOOR = 0.6  # containment below this is shared vocabulary, not a copy of a known attack
_SIMILARITY_WEIGHT = 0.9  # an exact copy of a corpus entry scores 0.9 on its own
_LEARNED = "learned"  # the rule id the learned scorer's evidence is reported under
# The scorer's evidence counts from here: below it the model is unsure, and adding its doubt to
# every benign text would turn one weak rule into an attack.
_LEARNED_FLOOR = 0.3
# Evidence this low means the scorer is sure the text is benign (its logit is 2.4 or more below its
# threshold): it then vetoes the regex rules, whose broad patterns fire on questions *about* prompts
# ("how can I test whether my assistant leaks its system prompt?") that it has learned to read. Set
# between the surest attack and the least sure benign text that a rule matched on the dev sets.
_LEARNED_BENIGN = 0.08
_VETO = 0.3  # what is left of a plain-text rule's weight after a veto (corpus matches are not vetoed)
_DECODED = frozenset({"base64", "hex", "rot13", "reversed"})
_META_QUOTED = 0.3  # damping of a rule match inside quotes when the text quotes or discusses injection
_META_PLAIN = 0.55  # damping of every other piece of evidence when the text discusses injection
# Rules that demand an action on the text ("...and obey it") are use, never mention: never damped.
_ACTING = frozenset({"and-obey-it", "decode-and-follow", "follow-decoded"})
# Notes addressed to a model inside quoted content are the indirect injection itself: a request to
# translate or proofread a text does not make "Note to the AI: ..." inside it harmless.
_ADDRESSED = frozenset(
    {
        "note-to-ai", "addressed-to-ai", "attention-ai", "to-any-ai", "ai-reading-this",
        "ai-reading-this-must",
        "when-you-read-this", "ai-told-to-ignore-user", "if-you-are-an-ai-must", "assistant-vocative",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class InjectionVerdict:
    """The outcome of one check; safe to record (ids and numbers only, never the text)."""

    attack: bool
    """``score >= threshold``."""
    score: float
    """Combined evidence in [0, 1]."""
    rule: str | None = None
    """The id of the strongest rule that fired (``base64:…`` when found in a decoded payload), or
    ``learned`` when only the learned scorer's evidence counted."""
    match_id: str | None = None
    """The id of the corpus entry the text resembles, when the resemblance counted."""
    similarity: float = 0.0
    """The best similarity to the corpus (containment of an entry, or cosine with embeddings)."""
    rules: tuple[str, ...] = ()
    """Every rule that fired, strongest first, then ``learned`` when the learned scorer's evidence counted."""


def load_corpus() -> dict[str, str]:
    """The shipped corpus of known attacks, ``{id: text}`` (reads the package data file)."""
    path = resources.files("runwell.guardrails") / "data" / _CORPUS_FILE
    corpus: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if (
                not isinstance(row, dict)
                or not isinstance(row.get("id"), str)
                or not isinstance(row.get("text"), str)
            ):
                raise ConfigError(
                    f"{_CORPUS_FILE}:{n}: each line must be an object with string 'id' and 'text'"
                )
            corpus[row["id"]] = row["text"]
    return corpus


class InjectionDetector:
    """Scores texts for prompt injection; build once, then call :meth:`check` per text.

    ``corpus``: known attacks to compare against, as ``{id: text}`` or a list of texts (ids
    ``corpus-0``, ``corpus-1``, ...); default: the shipped corpus (:func:`load_corpus`).
    ``embedder``: optional; when given (e.g. ``LocalMiniLM()``), corpus similarity also compares
    sentence embeddings (cosine, counted from ``embedding_threshold``), which catches paraphrases
    that share no words with a known attack. It costs a model call per check (milliseconds), reads
    only the first 256 tokens of a text, and needs numpy, so it is off by default.
    ``learned``: use the learned scorer shipped in ``data/injection_weights.json`` (default); off,
    the detector is the rules and similarity alone (for comparison, or to rule the scorer out).
    """

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        corpus: Mapping[str, str] | Sequence[str] | None = None,
        embedder: SyncEmbedder | None = None,
        embedding_threshold: float = 0.75,
        learned: bool = True,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"guardrails.injection.threshold: must be in (0, 1], got {threshold!r}")
        if not 0.0 < embedding_threshold < 1.0:
            raise ConfigError(
                f"guardrails.injection.embedding_threshold: must be in (0, 1), got {embedding_threshold!r}"
            )
        self.threshold = threshold
        entries = _entries(load_corpus() if corpus is None else corpus)
        self._shingles = ShingleIndex([(i, words(normalize(t))) for i, t in entries])
        self._embeddings = EmbeddingIndex(embedder, entries) if embedder is not None else None
        self._embedding_floor = embedding_threshold
        self._scorer: LearnedScorer | None = load_weights() if learned else None

    @property
    def corpus_size(self) -> int:
        """How many corpus entries the similarity check compares against."""
        return len(self._shingles)

    def check(self, text: str) -> InjectionVerdict:
        """Score one text (a user turn, a tool result, a retrieved document)."""
        normal = normalize(text)
        blanked = blank_punctuation(normal)
        seq = blanked.split()
        vocabulary = set(seq)
        hits: dict[str, float] = {}
        spans: list[tuple[str, int, int]] = []
        found = candidates(vocabulary, normal)
        if found:
            pieces = _Sentences(normal, blanked)
            for rule in found:
                span = pieces.search(rule)
                if span is not None:
                    hits[rule.id] = rule.weight
                    spans.append((rule.id, *span))
        evidence = None if self._scorer is None else self._scorer.evidence(seq)
        if evidence is not None and evidence >= _LEARNED_FLOOR:
            hits[_LEARNED] = round(evidence, 4)
        for how, view in hidden_views(text, normal, vocabulary, GATE_WORDS):
            self._check_view(how, view, hits)
        similarity, match_id = self._similar(text, seq)
        if not hits and match_id is None:
            return InjectionVerdict(False, 0.0, similarity=round(similarity, 4))
        sim_weight = _SIMILARITY_WEIGHT * similarity if match_id is not None else 0.0
        vouched = evidence is not None and evidence < _LEARNED_BENIGN
        sim_weight = self._damp(normal, vocabulary, spans, hits, sim_weight, vouched=vouched)
        if vouched:
            # Not vetoed: rules that demand an action on a decoded payload, notes addressed to a
            # model (the indirect injection itself, whatever frame is around it), and rules found
            # in a hidden view (those are not in ``spans``: the scorer read the disguise, not the payload).
            for rule_id, _, _ in spans:
                if rule_id not in _ACTING and rule_id not in _ADDRESSED:
                    hits[rule_id] *= _VETO
        miss = 1.0 - sim_weight
        for weight in hits.values():
            miss *= 1.0 - weight
        score = round(1.0 - miss, 4)
        # A named technique says more in a log than "the model thought so": rules rank first.
        ranked = tuple(sorted(hits, key=lambda r: (r.endswith(_LEARNED), -hits[r], r)))
        return InjectionVerdict(
            attack=score >= self.threshold,
            score=score,
            rule=ranked[0] if ranked else None,
            match_id=match_id,
            similarity=round(similarity, 4),
            rules=ranked,
        )

    def check_messages(
        self, messages: Sequence[Mapping[str, Any]], *, roles: Collection[str] = ("user", "tool")
    ) -> InjectionVerdict:
        """The highest-scoring verdict over the text of the messages whose role is in ``roles``.

        System and assistant turns are the application's own and are not checked by default;
        ``tool`` results are, because that is where indirect injections arrive.
        """
        best = InjectionVerdict(False, 0.0)
        for message in messages:
            if message.get("role") not in roles:
                continue
            for text in _texts(message.get("content")):
                verdict = self.check(text)
                if verdict.score > best.score:
                    best = verdict
        return best

    @staticmethod
    def _damp(
        normal: str,
        vocabulary: set[str],
        spans: list[tuple[str, int, int]],
        hits: dict[str, float],
        sim_weight: float,
        *,
        vouched: bool,
    ) -> float:
        """Damp the evidence of a text that discusses or quotes injection; returns ``sim_weight`` damped.

        ``vouched``: the learned scorer is confident the text is benign. It reads the frame around
        a quote ("write a training slide on why '...' is risky") that no regex here lists, so it
        counts as a sign of quoting: rule matches inside quotes are damped, nothing else is.
        """
        discusses = not vocabulary.isdisjoint(META_WORDS) and META.search(normal) is not None
        quotes = (
            discusses
            or vouched
            or (not vocabulary.isdisjoint(MENTION_WORDS) and MENTION.search(normal) is not None)
        )
        if not quotes:
            return sim_weight
        quoted = [m.span() for m in QUOTED.finditer(normal)]
        for rule_id, start, end in spans:
            if rule_id in _ACTING or (rule_id in _ADDRESSED and not discusses):
                continue
            if any(s <= start and end <= e for s, e in quoted):
                hits[rule_id] *= _META_QUOTED
            elif discusses:
                hits[rule_id] *= _META_PLAIN
        return sim_weight * _META_PLAIN if discusses else sim_weight

    def _check_view(self, how: str, view: str, hits: dict[str, float]) -> None:
        if how == "spaced" and SQUASHED.search(squash(view)) is not None:
            hits["spaced:instruction"] = 0.8
        for rule in candidates(set(words(view)), view):
            if rule.id in hits or rule.pattern.search(view) is None:
                continue
            # Hiding an instruction in an encoding is itself evidence: halve the doubt of what is found.
            weight = rule.weight + (1.0 - rule.weight) / 2 if how in _DECODED else rule.weight
            key = f"{how}:{rule.id}"
            hits[key] = max(weight, hits.get(key, 0.0))
        if self._scorer is not None:
            evidence = self._scorer.evidence(words(view))
            if evidence >= _LEARNED_FLOOR:
                hits[f"{how}:{_LEARNED}"] = round(evidence, 4)

    def _similar(self, text: str, seq: list[str]) -> tuple[float, str | None]:
        """The best similarity to the corpus, and the matching id when it is close enough to count.

        With embeddings, both measures run; an embedding match counts when over its own floor and
        closer than the shingle match: shingles catch near-copies, embeddings catch paraphrases.
        """
        similarity, match_id = self._shingles.best(seq)
        if similarity < _SIMILARITY_FLOOR:
            match_id = None
        if self._embeddings is not None:
            cosine, cosine_id = self._embeddings.best(text)
            if cosine >= self._embedding_floor and (match_id is None or cosine > similarity):
                return cosine, cosine_id
            if match_id is None:
                return cosine, None
        return similarity, match_id


class _Sentences:
    """Runs a rule on the sentences its gate passes in, rather than on the whole text.

    A rule's words may all occur in a long text but in different sentences (a ticket that mentions
    a chair "model" here and says "if" there); testing the gate per sentence then skips the regex,
    and when it does run, it scans one sentence, not the text. Texts up to a couple of sentences,
    and rules that can match across a sentence end, run on the whole text.
    """

    def __init__(self, normal: str, blanked: str) -> None:
        self._normal = normal
        self._blanked = blanked  # the same text with punctuation blanked: words by slicing, no re-translation
        self._split: list[tuple[int, str, set[str]]] | None = None

    def search(self, rule: Rule) -> tuple[int, int] | None:
        if len(self._normal) <= _WHOLE_TEXT or not rule.within_sentence:
            match = rule.pattern.search(self._normal)
            return None if match is None else match.span()
        if self._split is None:
            blanked = self._blanked
            self._split = [
                (off, text, set(blanked[off : off + len(text)].split()))
                for off, text in sentences(self._normal)
            ]
        for offset, text, vocabulary in self._split:
            if rule.may_match(vocabulary, text):
                match = rule.pattern.search(text)
                if match is not None:
                    return offset + match.start(), offset + match.end()
        return None


def _entries(corpus: Mapping[str, str] | Sequence[str]) -> list[tuple[str, str]]:
    if isinstance(corpus, str):
        raise ConfigError(
            "guardrails.injection.corpus: expected a list of texts or {id: text}, got one string"
        )
    if isinstance(corpus, Mapping):
        items = list(corpus.items())
    else:
        items = [(f"corpus-{i}", text) for i, text in enumerate(corpus)]
    for entry_id, text in items:
        if not isinstance(entry_id, str) or not isinstance(text, str) or not text.strip():
            raise ConfigError(
                f"guardrails.injection.corpus: entry {entry_id!r} must be a non-empty string; fix or drop it"
            )
    return items


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str)
        ]
    return []

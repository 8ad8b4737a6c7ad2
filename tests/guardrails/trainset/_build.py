"""Expanding templates into rows, and writing the rows (deterministic: same inputs, same bytes)."""

from __future__ import annotations

import itertools
import json
import random
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runwell.guardrails._normalize import normalize, words
from runwell.guardrails._similarity import shingles

__all__ = ["Row", "expand", "hand", "write"]

_SLOT = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


@dataclass(frozen=True, slots=True)
class Row:
    """One training text with its label and provenance."""

    text: str
    attack: bool
    category: str
    source: str
    lang: str = "en"


def hand(texts: Iterable[str], *, attack: bool, category: str, lang: str = "en") -> list[Row]:
    """Rows written one by one."""
    return [Row(t.strip(), attack, category, "hand", lang) for t in texts if t.strip()]


def expand(
    family: str,
    templates: Sequence[str],
    slots: Mapping[str, Sequence[str]],
    count: int,
    *,
    attack: bool,
    category: str,
    lang: str = "en",
    capitalize: bool = True,
) -> list[Row]:
    """Up to ``count`` distinct texts filled in from ``templates`` and the word lists in ``slots``.

    The generator is seeded from the family name, so each family's rows are stable on their own.
    A slot named ``x2`` draws from the list ``x`` too (a second, different pick).
    """
    rng = random.Random(zlib.crc32(family.encode()))
    seen: set[str] = set()
    rows: list[Row] = []
    tries = 0
    while len(rows) < count and tries < count * 20:
        tries += 1
        template = rng.choice(templates)
        text = _fill(template, slots, rng)
        if capitalize and text[:1].islower():
            text = text[0].upper() + text[1:]
        if text not in seen:
            seen.add(text)
            rows.append(Row(text, attack, category, f"template:{family}", lang))
    return rows


def _fill(template: str, slots: Mapping[str, Sequence[str]], rng: random.Random) -> str:
    picked: dict[str, str] = {}

    def pick(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in picked:
            base = name.rstrip("0123456789")
            choices = slots[name] if name in slots else slots[base]
            taken = set(picked.values())
            options = [c for c in choices if c not in taken] or list(choices)
            value = rng.choice(options)
            # A value may hold slots of its own ("{addr}" inside a note format).
            picked[name] = _SLOT.sub(pick, value) if "{" in value else value
        return picked[name]

    text = _SLOT.sub(pick, template)
    text = text.replace("{{", "{").replace("}}", "}")
    text = re.sub(r" ([,.])(?=\s|$)", r"\1", re.sub(r" +", " ", text))
    return re.sub(r"([.!?])\.(?=\s|$|\))", r"\1", text).strip()


def write(
    rows: Iterable[Row], path: Path, *, avoid: Iterable[str] = (), near: float = 0.5
) -> tuple[int, int]:
    """Write the rows as JSONL, deduplicated and without copies of a text in ``avoid``.

    A row is left out when it equals a text in ``avoid`` or shares at least ``near`` of the larger
    one's word bigrams with it (the bench's near-copy measure, with a lower bar): the dev sets and
    the built-in eval suites stay measurements, not training rows in disguise. Returns
    ``(written, left out as copies)``.
    """
    avoided = [shingles(words(normalize(t))) for t in avoid]
    postings: dict[tuple[str, str], list[int]] = {}
    for i, features in enumerate(avoided):
        for feature in features:
            postings.setdefault(feature, []).append(i)
    seen: set[str] = set()
    lines: list[str] = []
    dropped = 0
    for row in rows:
        key = normalize(row.text)
        if key in seen:
            continue
        seen.add(key)
        features = shingles(words(key))
        shared: dict[int, int] = {}
        for feature in features:
            for i in postings.get(feature, ()):
                shared[i] = shared.get(i, 0) + 1
        if any(n >= near * max(len(features), len(avoided[i])) for i, n in shared.items()):
            dropped += 1
            continue
        doc = {"id": f"t2-{len(lines):05d}", "text": row.text, "attack": row.attack, "category": row.category}
        lines.append(json.dumps(doc | {"source": row.source, "lang": row.lang}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines), dropped


def pairs(*lists: Sequence[str]) -> list[str]:
    """Every concatenation of one item from each list, joined with a space."""
    return [" ".join(p) for p in itertools.product(*lists)]

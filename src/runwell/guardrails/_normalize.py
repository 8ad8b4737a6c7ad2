"""Text normalisation for injection detection: one canonical form, plus decoded views.

Attackers dress the same instruction up so that a plain regex misses it: look-alike letters
from other scripts (Cyrillic ``о`` for Latin ``o``), zero-width characters between letters,
fullwidth or mathematical letters, leetspeak (``1gn0r3``), letters spaced out (``i g n o r e``),
invisible Unicode tag characters, or the whole payload in base64, hex, ROT13 or reversed.

:func:`normalize` undoes what is cheap to undo for every text (case, NFKC, confusables,
invisible characters, accents, runs of whitespace) and :func:`hidden_views` returns the extra
readings of a text (leet, spaced-out, decoded) only when the text shows the matching sign, so
the usual prompt pays for one ``translate`` and a few scans, not for every decoder.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["blank_punctuation", "hidden_views", "normalize", "sentences", "squash", "words"]

# Format and other invisible characters that render as nothing: removed outright.
_INVISIBLE = (
    *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
    *range(0x180B, 0x180E),
    *range(0x200B, 0x2010),
    *range(0x202A, 0x202F),
    *range(0x2060, 0x2070),
    *range(0xFE00, 0xFE10),
)

# Letters of other scripts that look like Latin ones (the common subset of Unicode's confusables
# list for Cyrillic, Greek and a few symbols); NFKC already folds fullwidth and math letters.
_CONFUSABLES = MappingProxyType({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ɡ": "g", "ı": "i", "ȷ": "j", "ℓ": "l", "ꞵ": "b",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Һ": "H", "Ӏ": "I",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
})  # fmt: skip

# Unicode tag characters (U+E0020..U+E007E) mirror ASCII and render as nothing: "ASCII smuggling"
# hides a whole instruction in them. Mapping them back to ASCII makes the hidden text plain text.
_FOLD: Mapping[int, str | None] = MappingProxyType(
    {cp: None for cp in (*_INVISIBLE, 0xE0001, 0xE007F)}
    | {ord(k): v for k, v in _CONFUSABLES.items()}
    | {0xE0000 + c: chr(c) for c in range(0x20, 0x7F)}
)

_COMBINING = re.compile(r"[\u0300-\u036f]+")
# Every ASCII character that is not a letter or digit splits words (so "don't" is "don" and "t").
_SPLIT = MappingProxyType(str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()}))
_LEET = MappingProxyType(str.maketrans("0134578@$", "oieastbas"))
_LEET_L = MappingProxyType(str.maketrans("0134578@$", "oleastbas"))
_LEET_TOKEN = re.compile(r"[a-z0-9@$]*[0-9@$][a-z0-9@$]*")
# Four or more single characters in a row, each followed by one separator: "i g n o r e", "i.g.n.o.r.e".
_SPACED = re.compile(r"\b[a-z0-9][ ._*/|-][a-z0-9][ ._*/|-][a-z0-9][ ._*/|-][a-z0-9][ ._*/|-][a-z0-9]\b")
_SPACED_RUN = re.compile(r"(?:(?<![a-z0-9])[a-z0-9][ ._*/|-]){4,}[a-z0-9](?![a-z0-9])")
_SPACED_SEP = re.compile(r"[ ._*/|-]")
# A hyphen inside a word ("ig-nore pre-vious in-struc-tions"): three or more make a text worth joining.
_HYPHENATED = re.compile(r"(?<=[a-z])-(?=[a-z])")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{2}[ :]?){12,}(?![0-9a-fA-F])")
_ROT13 = MappingProxyType(str.maketrans("abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm"))
# Words an instruction is made of, as they look in ROT13 and written backwards: their presence is the
# cheap sign that decoding the whole text is worth it.
_SIGN_WORDS = (
    "ignore",
    "disregard",
    "forget",
    "instructions",
    "instruction",
    "rules",
    "prompt",
    "system",
    "task",
    "output",
    "print",
    "administrator",
    "reveal",
    "secret",
)
_ROT13_SIGN = frozenset(w.translate(_ROT13) for w in _SIGN_WORDS)
_REVERSED_SIGN = frozenset(w[::-1] for w in _SIGN_WORDS)
_SQUASH = re.compile(r"[^a-z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?]) ")
# A piece that ends in an abbreviation ("...excerpt: p.s.", "e.g.") has not ended its sentence.
_ABBREVIATION = re.compile(r"(?:^|[^a-z0-9.])(?:[a-z]\.){2,3}$")
_SINGLES = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def normalize(text: str) -> str:
    """Lower-case ASCII-leaning text with look-alikes, invisibles and accents folded, spaces collapsed."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_FOLD)
        if not text.isascii():
            # Decompose, then drop the combining accents: "précédentes" reads as "precedentes".
            text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return " ".join(text.lower().split())


def words(normal: str) -> list[str]:
    """The words of a normalised text, in order, split at every ASCII non-alphanumeric character."""
    return blank_punctuation(normal).split()


def blank_punctuation(normal: str) -> str:
    """``normal`` with every ASCII non-alphanumeric character turned into a space (same length)."""
    return normal.translate(_SPLIT)


def sentences(normal: str) -> list[tuple[int, str]]:
    """The sentences of a normalised text with their offsets, split after ``.``, ``!`` or ``?`` and a space.

    A piece of five characters or fewer ("p.s.", "e.g.", "ok."), or one that ends in such an
    abbreviation ("excerpt: p.s."), is kept with the sentence after it.
    """
    pieces: list[tuple[int, str]] = []
    offset, pending = 0, -1
    for piece in _SENTENCE_END.split(normal):
        start = offset if pending < 0 else pending
        if (len(piece) <= 5 or _ABBREVIATION.search(piece)) and offset + len(piece) < len(normal):
            pending = start
        else:
            pieces.append((start, normal[start : offset + len(piece)]))
            pending = -1
        offset += len(piece) + 1
    return pieces


def squash(normal: str) -> str:
    """Only the letters of a normalised text, for phrases split by spaces or punctuation."""
    return _SQUASH.sub("", normal)


def hidden_views(
    raw: str, normal: str, vocabulary: set[str] | frozenset[str], known: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """Other readings of a text that may hide an instruction, as ``(how, normalised text)`` pairs.

    ``how`` is one of ``leet``, ``spaced``, ``joined``, ``base64``, ``hex``, ``rot13``, ``reversed``;
    ``vocabulary`` is the set of :func:`words` of ``normal``; ``known`` are words the caller looks
    for, which settle ambiguous leetspeak ("1" is "i" in "1gn0r3" but "l" in "ru135"). Each view is
    computed only when the text shows its sign, so nearly every benign prompt gets none.
    """
    views: list[tuple[str, str]] = []
    if (
        any(d in normal for d in "0134578")
        and sum(1 for w in vocabulary if not (w.isalpha() or w.isdigit())) >= 2
    ):
        views.append(("leet", _LEET_TOKEN.sub(lambda m: _unleet(m.group(), known), normal)))
    # Spelling out takes many one-character words; ordinary text has a handful of distinct ones (a, i, s).
    if len(vocabulary & _SINGLES) >= 5 and _SPACED.search(normal) is not None:
        views.append(("spaced", _SPACED_RUN.sub(lambda m: _SPACED_SEP.sub("", m.group()), normal)))
    if normal.count("-") >= 3 and len(_HYPHENATED.findall(normal)) >= 3:
        views.append(("joined", _HYPHENATED.sub("", normal)))
    if vocabulary and max(map(len, vocabulary)) >= 16:
        for how, pattern, decode in (("base64", _BASE64, _b64), ("hex", _HEX, _hex)):
            decoded = [d for d in map(decode, pattern.findall(raw)) if d]
            if decoded:
                views.append((how, normalize(" ".join(decoded))))
    if not vocabulary.isdisjoint(_ROT13_SIGN):
        views.append(("rot13", normal.translate(_ROT13)))
    if not vocabulary.isdisjoint(_REVERSED_SIGN):
        views.append(("reversed", normal[::-1]))
    return views


def _unleet(token: str, known: frozenset[str]) -> str:
    as_i = token.translate(_LEET)
    if as_i in known:
        return as_i
    as_l = token.translate(_LEET_L)
    return as_l if as_l in known else as_i


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Random bytes decode to control characters; an instruction is mostly letters and spaces.
    letters = sum(1 for c in text if c.isalpha() or c == " ")
    return text if text and letters >= 0.7 * len(text) else None


def _b64(token: str) -> str | None:
    padded = token + "=" * (-len(token) % 4)
    try:
        return _printable(base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError):
        return None


def _hex(token: str) -> str | None:
    try:
        return _printable(bytes.fromhex(re.sub(r"[ :]", "", token)))
    except ValueError:
        return None

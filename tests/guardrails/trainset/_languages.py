"""Attacks and look-alikes in other languages, expanded from the phrase tables in ``_lang_*``.

Every language gets the same shapes: a bare override ("ignore your instructions and ..."), a
declaration of no rules, a request for the prompt, and a note to an automated reader inside a
document in that language (alone, or inside an English request to translate or summarise it); and
as many benign rows in the same language: everyday questions that share the words, and the same
documents and frames without the note.
"""

from __future__ import annotations

from tests.guardrails.trainset._build import Row, expand
from tests.guardrails.trainset._lang_europe import EUROPE
from tests.guardrails.trainset._lang_world import WORLD

__all__ = ["LANGUAGES", "rows"]

LANGUAGES = EUROPE | WORLD
_UNSPACED = frozenset({"zh", "ja", "th"})  # written without spaces between words
FRAME = [
    "{d}", "{d}", "Translate this into English: '{d}'", "Translate this review: \"{d}\"", "Summarize this email: {d}",
    "What does this message say? '{d}'", "Tool result (gmail.get_message): {d}", "Reply to this customer: {d}",
    "Here's the page content: {d}", "My landlord sent this, what does it mean? '{d}'",
]  # fmt: skip


def rows() -> list[Row]:
    """Attack and benign rows for every language in the tables."""
    out: list[Row] = []
    for lang, table in LANGUAGES.items():
        sep = "" if lang in _UNSPACED else " "
        end = "" if lang in _UNSPACED else "."
        slots = dict(table) | {"doc2": table["doc"], "sep": [sep], "end": [end], "frame": FRAME}
        size = 2 if len(table["ign"]) >= 4 else 1  # the richer tables make more rows
        attack = [
            "{ign}{sep}{req}{end}",
            "{ign}{sep}{req}{end}",
            "{ign}{end}",
            "{norules}",
            "{norules}{sep}{extract}",
            "{extract}",
            "{ign}{sep}{req}{end} {extract}",
        ]
        out += expand(
            f"lang/{lang}/direct", attack, slots, 30 * size, attack=True, category="multilingual", lang=lang
        )
        note = [
            "{doc} {note}{sep}{pay}{end}",
            "{doc} {note}{sep}{pay}{end} {doc2}",
            "{note}{sep}{pay}{end} {doc}",
        ]
        docs = {"d": note}
        out += expand(
            f"lang/{lang}/indirect", FRAME, slots | docs, 20 * size, attack=True, category="multilingual-indirect",
            lang=lang,
        )  # fmt: skip
        plain = {"d": ["{doc} {doc2}", "{doc}", "{benign}", "{doc} {benign}"]}
        out += expand(
            f"lang/{lang}/benign-documents", FRAME, slots | plain, 20 * size, attack=False, category="multilingual",
            lang=lang,
        )  # fmt: skip
        benign = ["{benign}", "{benign}", "{benign} {doc}", "Translate into English: '{benign}'"]
        out += expand(
            f"lang/{lang}/benign", benign, slots, 16 * size, attack=False, category="multilingual", lang=lang
        )
    return out

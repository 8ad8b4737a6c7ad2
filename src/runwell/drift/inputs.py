"""What drift compares: the text of an input, and the scalar features measured on it.

Both sides are measured the same way: the user turns of the messages the model received (after the
variant's prompt template), joined by a blank line. The scalars are that text's length in
characters and in whitespace-separated words (the same word count the ``sim`` provider bills as
tokens; a tokenizer would give other numbers, the same ones on both sides).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["SCALARS", "scalar_features", "user_text"]

SCALARS = ("input_chars", "input_words")
"""The scalar features PSI is computed on."""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The user turns' text, joined by a blank line (system and assistant turns left out)."""
    return "\n\n".join(
        text
        for m in messages
        if m.get("role") == "user" and (text := _content_text(m.get("content")).strip())
    )


def scalar_features(texts: Iterable[str]) -> dict[str, list[float]]:
    """Each scalar of :data:`SCALARS`, one value per text."""
    chars: list[float] = []
    words: list[float] = []
    for text in texts:
        chars.append(float(len(text)))
        words.append(float(len(text.split())))
    return {"input_chars": chars, "input_words": words}

"""The score type every scorer returns, the judge callable, and the conversation as a judge reads it.

Kept apart from :mod:`runwell.evals.scorers` (which re-exports them) so that the scorer families in
their own modules can share them without importing each other.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from runwell.evals.dataset import Case

__all__ = ["Judge", "Score", "conversation_text", "verdict"]

Judge = Callable[[list[dict[str, str]]], Awaitable[str]]
"""An async callable that sends chat messages to the judge model and returns its text."""


@dataclass(frozen=True, slots=True)
class Score:
    """A score in [0, 1]; ``passed`` is ``None`` when the scorer gives no pass/fail verdict."""

    value: float
    passed: bool | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.value, int | float) and 0.0 <= self.value <= 1.0):
            raise ValueError(f"score must be a number in [0, 1], got {self.value!r}")


def verdict(ok: bool, detail: str | None = None) -> Score:
    """1.0 and passed, or 0.0 and failed with ``detail`` saying why."""
    return Score(1.0 if ok else 0.0, ok, None if ok else detail)


def conversation_text(case: Case) -> str:
    """The case's input as ``role: text`` lines (or its template variables), for a judge to read."""
    if case.messages is None:
        return "template variables: " + json.dumps(case.variables, ensure_ascii=False)
    lines = []
    for msg in case.messages:
        content = msg.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        lines.append(f"{msg['role']}: {content or ''}")
    return "\n".join(lines)

"""Runbooks: the top failure modes' runbooks, their required sections and placeholder text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runwell.readiness.placeholders import placeholder_in
from runwell.spec.operate import FailureMode

__all__ = ["REQUIRED_SECTIONS", "RunbookFinding", "review_runbook", "top_failure_modes"]

REQUIRED_SECTIONS = ("symptoms", "diagnosis", "mitigation", "validation", "escalation")
"""The sections every runbook needs, as heading words."""

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RunbookFinding:
    """What is wrong with one runbook (``problems`` empty when nothing)."""

    mode: str
    path: str
    problems: tuple[str, ...]


def top_failure_modes(modes: list[FailureMode], n: int = 3) -> list[FailureMode]:
    """The ``n`` most severe failure modes (SEV-1 first; declaration order breaks ties)."""
    return sorted(modes, key=lambda m: m.severity)[:n]


def _sections(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    heads = list(_HEADING.finditer(text))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[head.end() : end].strip()
        for name in REQUIRED_SECTIONS:
            if name in head.group(1).lower() and name not in found:
                found[name] = body
    return found


def review_runbook(mode: FailureMode, base: Path) -> RunbookFinding:
    """The problems of ``mode``'s runbook: missing file, missing or empty sections, placeholders."""
    path = base / mode.runbook
    if not path.is_file():
        return RunbookFinding(mode.name, mode.runbook, (f"{mode.runbook} does not exist",))
    text = path.read_text(encoding="utf-8", errors="replace")
    sections = _sections(text)
    problems = [f"no '{name}' section" for name in REQUIRED_SECTIONS if name not in sections]
    problems += [f"empty '{name}' section" for name, body in sections.items() if not body]
    for number, line in enumerate(text.splitlines(), 1):
        marker = placeholder_in(line)
        if marker:
            problems.append(f"placeholder {marker!r} at {mode.runbook}:{number}")
            break
    return RunbookFinding(mode.name, mode.runbook, tuple(problems))

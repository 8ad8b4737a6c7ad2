"""Placeholder text: what a template leaves behind and a real answer never contains.

``TODO Primary`` as the on-call person or ``TODO: name the approver`` in a runbook is a rehearsal,
not an answer; so is an ``example.com`` address (RFC 2606 reserves it for examples).
"""

from __future__ import annotations

import re

__all__ = ["placeholder_in"]

_MARKERS = re.compile(
    r"\bTODO\b|\bTBD\b|\bFIXME\b|\bXXX\b|\bchangeme\b|lorem ipsum|"
    r"\bexample\.(?:com|org|net)\b|<(?:your|name|email|fill)[^>]*>|\bREPLACE[_ ]ME\b",
    re.IGNORECASE,
)


def placeholder_in(text: str | None) -> str | None:
    """The first placeholder found in ``text`` (``None`` when there is none)."""
    if not text:
        return None
    match = _MARKERS.search(text)
    return match.group(0) if match else None

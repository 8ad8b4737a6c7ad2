"""The live side of drift: the latest inputs a feature served, read from the request records.

Only records that kept their prompt count (``capture.content: true`` in the spec); shadow copies
are left out (they repeat a served input).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from runwell.drift.inputs import user_text
from runwell.store import Database

__all__ = ["LiveInput", "live_inputs"]


@dataclass(frozen=True, slots=True)
class LiveInput:
    """One served input: its request, when it arrived, and its user text."""

    request_id: str
    started_at: float
    text: str


def live_inputs(db: Database, feature: str, *, limit: int, since: float | None = None) -> list[LiveInput]:
    """The ``limit`` latest inputs of ``feature`` (since ``since``), newest first. Blocking."""
    rows = db.query(
        "SELECT request_id, started_at, prompt FROM requests WHERE feature = ? AND prompt IS NOT NULL "
        "AND (outcome IS NULL OR outcome <> 'shadow') AND started_at >= ? ORDER BY started_at DESC LIMIT ?",
        (feature, since if since is not None else 0.0, limit),
        action=f"read the latest inputs of {feature}",
    )
    out = []
    for request_id, started_at, prompt in rows:
        text = user_text(orjson.loads(prompt))
        if text:
            out.append(LiveInput(str(request_id), float(started_at), text))
    return out

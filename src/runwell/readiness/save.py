"""Keeping reports (``runwell check --save``) so the score's history shows."""

from __future__ import annotations

import os
from typing import Any

import orjson

from runwell.readiness.items import Report
from runwell.store import Database

__all__ = ["history", "save_report"]


def save_report(db: Database, report: Report) -> str:
    """Store ``report`` in ``readiness_reports``; returns its id."""
    report_id = os.urandom(8).hex()
    with db.transaction("save a readiness report") as tx:
        tx.execute(
            "INSERT INTO readiness_reports (id, feature, at, score, level, report) VALUES (?, ?, ?, ?, ?, ?)",
            (
                report_id,
                report.feature,
                report.at,
                report.score,
                report.level,
                orjson.dumps(report.to_dict()).decode(),
            ),
        )
    return report_id


def history(db: Database, feature: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The feature's saved reports, newest first: ``id``, ``at``, ``score``, ``level``."""
    rows = db.query(
        "SELECT id, at, score, level FROM readiness_reports WHERE feature = ? ORDER BY at DESC LIMIT ?",
        (feature, limit),
        action="read readiness history",
    )
    return [{"id": r[0], "at": float(r[1]), "score": r[2], "level": r[3]} for r in rows]

"""Alert metrics measured over a window of a feature's request records, scores and feedback.

One indexed range read per (feature, window) on ``requests (feature, started_at)``: every
request-based metric of a window comes from the same aggregate row, so a feature with five alerts
over one window costs one query per evaluation, not five. Shadow calls are left out (no user saw
them).

``error_rate`` counts a request as failed when the *model path* failed: a 5xx error, or a
degradation answer after the variants were tried and failed. A request the kill switch or a
traffic cut sent to the degradation is an operator's decision, not a failure: this is what lets
an alert resolve once the kill switch mitigates an outage. Client mistakes (4xx) and blocks are
not failures either.

Rates over fewer than ``min_requests`` requests are ``None`` (no data): a single failed request at
night is not a 100 % error rate.

Synchronous, like the store: call it from a worker thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from runwell.spec.operate import Slo
from runwell.store import Database

__all__ = ["FAILED", "RecordMetrics", "WindowStats"]

FAILED = (
    "((http_status >= 500 AND COALESCE(outcome, 'error') = 'error') "
    "OR (outcome = 'degraded' AND attempts IS NOT NULL))"
)
"""SQL: the model path failed this request (see the module docstring)."""

_STATS = f"""
SELECT count(*),
       SUM(CASE WHEN {FAILED} THEN 1 ELSE 0 END),
       SUM(CASE WHEN outcome = 'fallback' THEN 1 ELSE 0 END),
       SUM(CASE WHEN outcome = 'degraded' THEN 1 ELSE 0 END),
       SUM(CASE WHEN error_class LIKE 'guardrail%' THEN 1 ELSE 0 END),
       SUM(cost_usd)
FROM requests
WHERE feature = ? AND started_at >= ? AND started_at < ? AND shadow_of IS NULL
"""

_LATENCY_FIELDS = {"latency_p50_ms": 0.50, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}


@dataclass(frozen=True, slots=True)
class WindowStats:
    """The request aggregates of one feature over one window."""

    requests: int
    failed: int
    fallback: int
    degraded: int
    blocked: int
    cost_usd: float

    def rate(self, count: int, min_requests: int) -> float | None:
        """``count / requests``, or ``None`` below ``min_requests``."""
        return count / self.requests if self.requests >= min_requests else None


class RecordMetrics:
    """Reads alert metrics from the database (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._now = math.nan
        self._cache: dict[tuple[str, float], WindowStats] = {}

    def stats(self, feature: str, window_s: float, now: float) -> WindowStats:
        """The aggregates of ``feature``'s requests in ``[now - window_s, now)`` (read once per
        ``now``: the rules of one evaluation share it)."""
        if now != self._now:
            self._now, self._cache = now, {}
        found = self._cache.get((feature, window_s))
        if found is not None:
            return found
        row = self._db.query_one(_STATS, (feature, now - window_s, now), action="measure alert metrics")
        n, failed, fallback, degraded, blocked, cost = row or (0, 0, 0, 0, 0, 0.0)
        stats = WindowStats(
            int(n or 0),
            int(failed or 0),
            int(fallback or 0),
            int(degraded or 0),
            int(blocked or 0),
            float(cost or 0.0),
        )
        self._cache[(feature, window_s)] = stats
        return stats

    def value(
        self, feature: str, metric: str, window_s: float, now: float, min_requests: int
    ) -> float | None:
        """One request-based metric (the names of :data:`runwell.spec.operate.METRICS`)."""
        if metric in _LATENCY_FIELDS:
            return self.latency_quantile(feature, _LATENCY_FIELDS[metric], window_s, now, min_requests)
        if metric in ("quality_score", "quality_pass_rate"):
            return self._quality(feature, metric, window_s, now, min_requests)
        if metric == "negative_feedback_rate":
            return self._negative_feedback(feature, window_s, now, min_requests)
        stats = self.stats(feature, window_s, now)
        counts = {
            "error_rate": stats.failed,
            "fallback_rate": stats.fallback,
            "degraded_rate": stats.degraded,
            "guardrail_block_rate": stats.blocked,
        }
        if metric in counts:
            return stats.rate(counts[metric], min_requests)
        if metric == "cost_usd":
            return stats.cost_usd
        if metric == "requests":
            return float(stats.requests)
        raise KeyError(metric)

    def error_ratio(
        self, feature: str, slo: Slo, window_s: float, now: float, min_requests: int
    ) -> float | None:
        """The share of bad requests over the window for ``slo``'s indicator."""
        if slo.sli == "availability":
            stats = self.stats(feature, window_s, now)
            return stats.rate(stats.failed, min_requests)
        sql = f"""
            SELECT count(*),
                   SUM(CASE WHEN {FAILED} OR (status = 'ok' AND latency_ms > ?) THEN 1 ELSE 0 END)
            FROM requests
            WHERE feature = ? AND started_at >= ? AND started_at < ? AND shadow_of IS NULL
        """
        row = self._db.query_one(
            sql, (slo.latency_ms, feature, now - window_s, now), action="measure a latency SLO"
        )
        n, bad = row or (0, 0)
        return int(bad or 0) / int(n) if n and int(n) >= min_requests else None

    def latency_quantile(
        self, feature: str, q: float, window_s: float, now: float, min_requests: int
    ) -> float | None:
        """The ``q`` quantile of answered requests' latency (ms), linear interpolation."""
        where = "feature = ? AND started_at >= ? AND started_at < ? AND status = 'ok' AND shadow_of IS NULL"
        params = (feature, now - window_s, now)
        if self._db.dialect == "postgresql":
            row = self._db.query_one(
                f"SELECT count(*), percentile_cont({q}) WITHIN GROUP (ORDER BY latency_ms) "
                f"FROM requests WHERE {where} AND latency_ms IS NOT NULL",
                params,
                action="measure latency",
            )
            n, value = row or (0, None)
            return float(value) if n and int(n) >= min_requests and value is not None else None
        rows = self._db.query(
            f"SELECT latency_ms FROM requests WHERE {where} AND latency_ms IS NOT NULL ORDER BY latency_ms",
            params,
            action="measure latency",
        )
        values = [float(r[0]) for r in rows]
        return _quantile(values, q) if len(values) >= min_requests else None

    def _quality(
        self, feature: str, metric: str, window_s: float, now: float, min_requests: int
    ) -> float | None:
        column = "score" if metric == "quality_score" else "CASE WHEN passed THEN 1.0 ELSE 0.0 END"
        present = "score IS NOT NULL" if metric == "quality_score" else "passed IS NOT NULL"
        row = self._db.query_one(
            f"SELECT count(*), AVG({column}) FROM scores "
            f"WHERE feature = ? AND created_at >= ? AND created_at < ? AND {present}",
            (feature, now - window_s, now),
            action="measure online quality",
        )
        n, value = row or (0, None)
        return float(value) if n and int(n) >= min_requests and value is not None else None

    def _negative_feedback(
        self, feature: str, window_s: float, now: float, min_requests: int
    ) -> float | None:
        # Feedback scores run from 0 (bad) to 1 (good); below 0.5 is negative (as the rollout judge counts).
        row = self._db.query_one(
            "SELECT count(*), SUM(CASE WHEN score < 0.5 THEN 1 ELSE 0 END) FROM feedback "
            "WHERE feature = ? AND created_at >= ? AND created_at < ? AND score IS NOT NULL",
            (feature, now - window_s, now),
            action="measure user feedback",
        )
        n, negative = row or (0, 0)
        return int(negative or 0) / int(n) if n and int(n) >= min_requests else None


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (PostgreSQL's ``percentile_cont``)."""
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)

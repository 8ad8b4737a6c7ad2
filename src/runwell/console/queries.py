"""What the overview and the request list read, fast on a large store.

The overview reads the request rollups (migration 14, ``runwell.telemetry.rollup``): per feature,
variant and aligned slot of 1, 5, 30 minutes or 3 hours, the sums it shows and log-binned latency
histograms, written in the same transaction as the records they sum. A window is tiled with whole
slots of its bucket width (smaller ones where it starts and ends), and only its two partial edge
minutes are read from the ``requests`` rows, so every number is exact and current, whatever the
window's traffic. Percentiles come from the merged histograms, within 5 % of the exact value
(:data:`~runwell.telemetry.rollup.RELATIVE_ERROR`); a window of at most :data:`EXACT_UP_TO` requests
reads its latencies from the rows instead and is exact. Spend sums the rollups too.

The request list pages by keyset (``started_at``, ``request_id``) from the newest, through the
covering index of migration 13, never by ``OFFSET``, so page 1,000 costs what page 1 costs.

Synchronous, like the store: callers run these in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runwell.store import Database, Tx
from runwell.telemetry.rollup import RELATIVE_ERROR, TALLY_COLUMNS, Tally, cover, hist_percentile, minute_of

__all__ = [
    "EXACT_UP_TO",
    "WINDOWS",
    "Bucket",
    "Overview",
    "RequestFilter",
    "RequestPage",
    "RequestRow",
    "SpendCache",
    "list_requests",
    "overview",
    "percentile",
    "read_slots",
]

WINDOWS: Mapping[str, tuple[float, int]] = MappingProxyType(
    {
        "1h": (3600.0, 60),
        "6h": (6 * 3600.0, 72),
        "24h": (86400.0, 48),
        "7d": (7 * 86400.0, 56),
    }
)
"""Overview windows: ``name -> (seconds, buckets)``; each bucket width is a rollup grain."""

EXACT_UP_TO = 4096
"""A window with at most this many requests takes its percentiles from its rows, exactly."""

_DAY = 86400
_DAY_GRAIN = 10800  # the longest rollup slot; a UTC day is eight of them


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted values, nearest-rank; ``None`` when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(slots=True)
class Bucket:
    """One time bucket of the overview's plots."""

    start: float
    requests: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    ttft_p95_ms: float | None = None
    tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Overview:
    """A feature's traffic over a window: totals, percentiles and the per-bucket series.

    Buckets are aligned to their width in UTC (a 24-hour window's are half hours): the first and
    the last are cut by the window's ends, so there is one more than the window's count unless
    ``until`` falls on a bucket boundary.
    """

    feature: str
    since: float
    until: float
    requests: int = 0
    errors: int = 0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    ttft_ms: dict[str, float | None] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    variants: dict[str, int] = field(default_factory=dict)
    buckets: list[Bucket] = field(default_factory=list)
    sample_every: int = 1
    """The percentiles come from 1 in this many of the window's requests (always 1: every one)."""
    relative_error: float = 0.0
    """The most each percentile may differ from the exact one, relative to it (0.0: exact)."""

    @property
    def error_rate(self) -> float | None:
        """Errors over requests, or ``None`` without traffic."""
        return self.errors / self.requests if self.requests else None


_NOT_SHADOW = "(outcome IS NULL OR outcome <> 'shadow')"  # a shadow call served nobody
_EDGE = (
    "SELECT started_at, variant, status, outcome, latency_ms, ttft_ms, input_tokens, output_tokens, "
    f"cost_usd FROM requests WHERE feature = ? AND started_at >= ? AND started_at {{end}} ? AND {_NOT_SHADOW}"
)
# The window's first partial minute (up to its first whole one) and its last (through now).
_EDGES = f"{_EDGE.format(end='<')} UNION ALL {_EDGE.format(end='<=')}"
_SLOTS = (
    f"SELECT grain, slot_start, variant, {', '.join(TALLY_COLUMNS)} FROM request_rollups "
    "WHERE feature = ? AND grain = ? AND slot_start >= ? AND slot_start < ?"
)
_TIMINGS = (
    f"SELECT started_at, latency_ms, ttft_ms FROM requests WHERE feature = ? AND started_at >= ? "
    f"AND started_at <= ? AND {_NOT_SHADOW} AND (latency_ms IS NOT NULL OR ttft_ms IS NOT NULL)"
)


def read_slots(tx: Tx, feature: str, pieces: Sequence[tuple[int, int]]) -> list[tuple[int, int, str, Tally]]:
    """``(grain, slot start, variant, tally)`` of each stored rollup row among ``pieces``
    (``(grain, slot start)`` pairs, as :func:`~runwell.telemetry.rollup.cover` gives them).

    One statement: a range of the primary key per run of slots of one grain.
    """
    ranges: list[list[int]] = []
    for grain, start in pieces:
        if ranges and ranges[-1][0] == grain and ranges[-1][2] == start:
            ranges[-1][2] = start + grain
        else:
            ranges.append([grain, start, start + grain])
    if not ranges:
        return []
    rows = tx.query(" UNION ALL ".join(_SLOTS for _ in ranges), [v for r in ranges for v in (feature, *r)])
    out = []
    for row in rows:
        tally = Tally()
        tally.merge_row(row[3:])
        out.append((int(row[0]), int(row[1]), str(row[2]), tally))
    return out


def _whole_minutes(since: float, until: float) -> tuple[int, int]:
    """The first and the last minute boundary in ``[since, until]``."""
    first = minute_of(since)
    return (first if first >= since else first + 60), minute_of(until)


def overview(
    db: Database, feature: str, window: str, *, now: float, exact_up_to: int = EXACT_UP_TO
) -> Overview:
    """Aggregate ``feature``'s requests over the named window ending ``now`` (shadow calls left out).

    Whole slots come from the rollups, the partial minutes at both ends from the rows; see the
    module docstring. ``exact_up_to`` bounds the windows whose percentiles are read from the rows.
    """
    seconds, count = WINDOWS[window]
    width = int(seconds) // count
    since = now - seconds
    grid = math.floor(since / width) * width
    starts = [since]
    while grid + len(starts) * width < now:
        starts.append(grid + len(starts) * width)
    last = len(starts) - 1

    def bucket_of(t: float) -> int:
        return min(max(int((t - grid) // width), 0), last)

    tallies = [Tally() for _ in starts]
    variants: dict[str, int] = {}
    first, final = _whole_minutes(since, now)
    with db.connection("read the overview") as tx:
        for _grain, slot, variant, tally in read_slots(tx, feature, cover(first, final, width)):
            tallies[bucket_of(slot)].merge(tally)
            variants[variant] = variants.get(variant, 0) + tally.requests
        edges = tx.query(_EDGES, (feature, since, first, feature, final, now))
        for started, variant, *counted in edges:
            tallies[bucket_of(started)].add(*counted)
            variants[variant or ""] = variants.get(variant or "", 0) + 1
        requests = sum(t.requests for t in tallies)
        timings = tx.query(_TIMINGS, (feature, since, now)) if requests <= exact_up_to else None
    result = Overview(feature, since, now, relative_error=0.0 if timings is not None else RELATIVE_ERROR)
    result.variants = {v: n for v, n in variants.items() if v and n}
    total = Tally()
    for start, tally in zip(starts, tallies, strict=True):
        total.merge(tally)
        result.buckets.append(
            Bucket(
                start,
                tally.requests,
                tally.errors,
                hist_percentile(tally.latency, 0.5),
                hist_percentile(tally.latency, 0.95),
                hist_percentile(tally.ttft, 0.95),
                tally.input_tokens + tally.output_tokens,
                tally.cost_usd,
            )
        )
    result.requests, result.errors, result.unpriced = total.requests, total.errors, total.unpriced
    result.input_tokens, result.output_tokens, result.cost_usd = (
        total.input_tokens,
        total.output_tokens,
        total.cost_usd,
    )
    result.outcomes = total.outcomes
    result.latency_ms = {
        q: hist_percentile(total.latency, v) for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    }
    result.ttft_ms = {q: hist_percentile(total.ttft, v) for q, v in (("p50", 0.5), ("p95", 0.95))}
    if timings is not None:
        _exact_percentiles(result, timings, bucket_of)
    return result


def _exact_percentiles(
    result: Overview, timings: list[tuple[Any, ...]], bucket_of: Callable[[float], int]
) -> None:
    """Replace the histogram percentiles with exact ones from the window's rows."""
    lat_by: list[list[float]] = [[] for _ in result.buckets]
    ttft_by: list[list[float]] = [[] for _ in result.buckets]
    for started, latency, ttft in timings:
        k = bucket_of(started)
        if latency is not None:
            lat_by[k].append(latency)
        if ttft is not None:
            ttft_by[k].append(ttft)
    for bucket, lat, first in zip(result.buckets, lat_by, ttft_by, strict=True):
        lat.sort()
        first.sort()
        bucket.p50_ms, bucket.p95_ms = percentile(lat, 0.5), percentile(lat, 0.95)
        bucket.ttft_p95_ms = percentile(first, 0.95)
    latencies = sorted(v for lat in lat_by for v in lat)
    ttfts = sorted(v for first in ttft_by for v in first)
    result.latency_ms = {q: percentile(latencies, v) for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
    result.ttft_ms = {q: percentile(ttfts, v) for q, v in (("p50", 0.5), ("p95", 0.95))}


class SpendCache:
    """Spend per (feature, UTC day) from the rollups: whole past days are kept, today is read afresh.

    Owned by one console (not shared between processes); ``max_days`` bounds its size. Spend counts
    every call, shadow calls included (the budgets count them too).
    """

    def __init__(self, *, max_days: int = 4096) -> None:
        self._days: dict[tuple[str, int], tuple[float, int]] = {}
        self._max = max_days

    def spend(self, db: Database, feature: str, since_day: float, now: float) -> tuple[float, int]:
        """``(usd, tokens)`` spent by ``feature`` from the UTC day starting ``since_day`` to ``now``."""
        today = int(now) - int(now) % _DAY
        first_day = int(since_day) - int(since_day) % _DAY
        past = range(first_day, today, _DAY)
        with db.connection("sum the spend") as tx:
            missing = [d for d in past if (feature, d) not in self._days]
            if missing:
                sums = {d: [0.0, 0] for d in missing}
                for _grain, slot, _variant, tally in read_slots(
                    tx, feature, cover(missing[0], missing[-1] + _DAY, _DAY_GRAIN)
                ):
                    day = slot - slot % _DAY
                    if day in sums:
                        sums[day][0] += tally.cost_usd + tally.shadow_cost_usd
                        sums[day][1] += tally.input_tokens + tally.output_tokens + tally.shadow_tokens
                if len(self._days) + len(sums) > self._max:
                    self._days.clear()
                self._days.update({(feature, d): (usd, int(tokens)) for d, (usd, tokens) in sums.items()})
            usd = 0.0 + sum(self._days[(feature, d)][0] for d in past)
            tokens = 0 + sum(self._days[(feature, d)][1] for d in past)
            today_usd, today_tokens = _spend_since(tx, feature, max(today, first_day), now)
        return usd + today_usd, tokens + today_tokens


def _spend_since(tx: Tx, feature: str, start: int, now: float) -> tuple[float, int]:
    """``(usd, tokens)`` of every call of ``feature`` from the whole minute ``start`` to ``now``."""
    final = minute_of(now)
    usd, tokens = 0.0, 0
    for _grain, _slot, _variant, tally in read_slots(tx, feature, cover(start, final, _DAY_GRAIN)):
        usd += tally.cost_usd + tally.shadow_cost_usd
        tokens += tally.input_tokens + tally.output_tokens + tally.shadow_tokens
    row = tx.query_one(
        "SELECT sum(cost_usd), sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) "
        "FROM requests WHERE feature = ? AND started_at >= ? AND started_at <= ?",
        (feature, final, now),
    )
    if row is not None:
        usd += float(row[0] or 0.0)
        tokens += int(row[1] or 0)
    return usd, tokens


# -- the request list --------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestFilter:
    """What the request list is narrowed to; ``None`` means any."""

    feature: str | None = None
    variant: str | None = None
    status: str | None = None
    outcome: str | None = None
    user: str | None = None
    id_prefix: str | None = None
    since: float | None = None
    until: float | None = None

    def as_query(self) -> dict[str, str]:
        """The filter as query-string parameters (for links to the next page)."""
        out = {
            "feature": self.feature,
            "variant": self.variant,
            "status": self.status,
            "outcome": self.outcome,
            "user": self.user,
            "id": self.id_prefix,
        }
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One line of the request list (never the prompt or the completion)."""

    request_id: str
    started_at: float
    feature: str | None
    variant: str | None
    served_by: str | None
    status: str
    http_status: int
    outcome: str | None
    user_id: str | None
    latency_ms: float | None
    cost_usd: float | None
    error_class: str | None


@dataclass(frozen=True)
class RequestPage:
    """A page of the list, and the keyset cursor of the next one (``None`` on the last)."""

    rows: list[RequestRow]
    next_cursor: tuple[float, str] | None


_LIST_COLUMNS = (
    "request_id, started_at, feature, variant, served_by, status, http_status, outcome, user_id, "
    "latency_ms, cost_usd, error_class"
)


def list_requests(
    db: Database, where: RequestFilter, *, before: tuple[float, str] | None = None, limit: int = 50
) -> RequestPage:
    """The newest ``limit`` requests matching ``where``, older than the ``before`` cursor."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("feature", where.feature),
        ("variant", where.variant),
        ("status", where.status),
        ("outcome", where.outcome),
        ("user_id", where.user),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if where.id_prefix:
        # A range on the primary key is a prefix search on both databases (hex ids, byte order).
        prefix = where.id_prefix.lower()
        clauses.append("request_id >= ? AND request_id < ?")
        params += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
    if where.since is not None:
        clauses.append("started_at >= ?")
        params.append(where.since)
    if where.until is not None:
        clauses.append("started_at <= ?")
        params.append(where.until)
    if before is not None:
        # Written as a range on started_at plus a tie-break, which both planners turn into an
        # index range scan (a row-value comparison is not always used as one).
        clauses.append("started_at <= ? AND (started_at < ? OR request_id < ?)")
        params += [before[0], before[0], before[1]]
    sql = f"SELECT {_LIST_COLUMNS} FROM requests"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY started_at DESC, request_id DESC LIMIT ?"
    rows = db.query(sql, (*params, limit + 1), action="list requests for the console")
    items = [
        RequestRow(
            str(r[0]), float(r[1]), r[2], r[3], r[4], str(r[5]), int(r[6]), r[7], r[8], r[9], r[10], r[11]
        )
        for r in rows[:limit]
    ]
    cursor = (items[-1].started_at, items[-1].request_id) if len(rows) > limit and items else None
    return RequestPage(items, cursor)

"""The overview's aggregates and the request list's keyset pages, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runwell.console.queries import RequestFilter, SpendCache, list_requests, overview
from runwell.store import open_store
from runwell.telemetry.record import RequestRecord

NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else None


def test_the_overview_counts_sums_and_takes_percentiles_per_bucket(
    db_url: str | None, tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> None:
    store = open_store(db_url, base_dir=tmp_path)
    try:
        records = [
            make_record(
                started_at=NOW - 3500 + i * 60,
                latency_ms=float(i + 1),
                cost_usd=0.01,
                input_tokens=10,
                output_tokens=5,
                ttft_ms=None if i % 2 else 5.0,
                outcome="served",
            )
            for i in range(50)
        ]
        records += [
            make_record(
                started_at=NOW - 100,
                status="error",
                http_status=502,
                cost_usd=None,
                priced=False,
                outcome="error",
            ),
            make_record(started_at=NOW - 100, outcome="shadow"),  # served nobody: left out
            make_record(started_at=NOW - 7200),  # outside the window
            make_record(started_at=NOW - 50, feature="other"),
        ]
        store.write_records(records)
        o = overview(store.db, "support-reply", "1h", now=NOW)
        assert (o.requests, o.errors) == (51, 1)
        assert o.outcomes == {"served": 50, "error": 1}
        assert o.input_tokens == 500 + 120 and abs(o.cost_usd - 0.5) < 1e-9  # the error has no cost
        assert o.latency_ms["p50"] == 26.0 and o.latency_ms["p99"] == 812.5  # the error's latency is the tail
        assert sum(b.requests for b in o.buckets) == 51 and len(o.buckets) == 60
        assert (o.buckets[0].requests, o.buckets[1].p50_ms, o.buckets[2].p50_ms) == (0, 1.0, 2.0)
        assert o.sample_every == 1
        usd, tokens = SpendCache().spend(store.db, "support-reply", NOW - NOW % 86400 - 86400, NOW)
        # Spend counts every call of the day, the shadow and the one outside the hour included.
        assert abs(usd - (0.5 + 2 * 0.0000468)) < 1e-9 and tokens == 50 * 15 + 3 * 168
    finally:
        store.close()


def test_the_request_list_pages_by_keyset_without_gaps_or_repeats(
    db_url: str | None, tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> None:
    store = open_store(db_url, base_dir=tmp_path)
    try:
        # Ties on started_at across page boundaries must neither repeat nor drop a request.
        records = [make_record(started_at=NOW - (i // 3), user_id=f"u{i % 4}") for i in range(23)]
        records.append(make_record(started_at=NOW, feature="other", status="error", http_status=500))
        store.write_records(records)
        seen: list[str] = []
        cursor = None
        while True:
            page = list_requests(store.db, RequestFilter(feature="support-reply"), before=cursor, limit=5)
            seen += [r.request_id for r in page.rows]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(r.request_id for r in records[:23]) and len(seen) == 23
        by_user = list_requests(store.db, RequestFilter(user="u1"))
        assert {r.user_id for r in by_user.rows} == {"u1"} and len(by_user.rows) == 6
        errors = list_requests(store.db, RequestFilter(status="error"))
        assert [r.feature for r in errors.rows] == ["other"]
        prefix = records[5].request_id[:8]
        assert [r.request_id for r in list_requests(store.db, RequestFilter(id_prefix=prefix)).rows] == [
            records[5].request_id
        ]
    finally:
        store.close()

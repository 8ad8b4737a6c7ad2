"""The overview read from rollups equals a brute-force count of the rows, on SQLite and PostgreSQL.

Counts and sums are exact; percentiles read from the histograms are within the documented 5 %
of the exact nearest-rank value, and exact when the window is small enough to read its rows.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runwell.audit.entries import DecisionEntry, format_time, sha256_hex
from runwell.audit.open import open_audit_log
from runwell.console import ConsoleApp, ConsoleSettings, ConsoleSources
from runwell.console.queries import WINDOWS, Overview, SpendCache, overview, percentile
from runwell.gateway.recovery import recover_lost_records
from runwell.spec.loader import load_spec
from runwell.store import Store, open_store
from runwell.telemetry.record import RequestRecord
from runwell.telemetry.rollup import GRAINS, RELATIVE_ERROR
from tests.console.project import write_project

DAY = 86400.0
NOW = 1_800_000_000.0 + 7 * DAY + 1234.567  # on no minute, so every window has partial edges
ADMIN = "admin-token-for-rollup-tests-01"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    opened = open_store(url, base_dir=tmp_path)
    yield opened
    opened.close()


def _records(make_record: Callable[..., RequestRecord], n: int, seed: int) -> list[RequestRecord]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        error = rng.random() < 0.05
        latency = rng.lognormvariate(6.3, 0.8) if rng.random() > 0.03 else None
        out.append(
            make_record(
                started_at=NOW - 8 * DAY * rng.random() ** 2,  # denser towards now
                feature=rng.choice(["support", "support", "support", "notes"]),
                variant=rng.choice(["main", "main", "alt", None]),
                status="error" if error else "ok",
                outcome="error"
                if error
                else rng.choice(["served"] * 6 + ["fallback", "blocked", "shadow", None]),
                latency_ms=latency,
                ttft_ms=latency * rng.uniform(0.1, 0.5) if latency and rng.random() < 0.6 else None,
                input_tokens=rng.randint(1, 900),
                output_tokens=rng.choice([None, rng.randint(1, 300)]),
                cost_usd=None if error or rng.random() < 0.05 else rng.uniform(1e-6, 1e-3),
            )
        )
    # The window's edges, to the microsecond: kept in, or just left out.
    for window in WINDOWS.values():
        since = NOW - window[0]
        first = math.ceil(since / 60) * 60
        for at in (since, math.nextafter(since, 0), first, math.nextafter(first, 0), NOW, NOW + 1e-3):
            out.append(make_record(started_at=at, feature="support", latency_ms=250.0, outcome="served"))
    out.append(make_record(started_at=math.floor(NOW / 60) * 60, feature="support", outcome="served"))
    return out


def _brute(records: list[RequestRecord], feature: str, window: str) -> dict[str, Any]:
    """The overview by its definition, from the records themselves."""
    seconds, count = WINDOWS[window]
    width = seconds / count
    since = NOW - seconds
    grid = math.floor(since / width) * width
    starts = [since] + [grid + k * width for k in range(1, count + 2) if grid + k * width < NOW]
    rows = [
        r for r in records if r.feature == feature and since <= r.started_at <= NOW and r.outcome != "shadow"
    ]
    buckets: list[list[RequestRecord]] = [[] for _ in starts]
    for r in rows:
        buckets[bisect.bisect_right(starts, r.started_at) - 1].append(r)
    variants: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    for r in rows:
        if r.variant:
            variants[r.variant] = variants.get(r.variant, 0) + 1
        if r.outcome in ("served", "fallback", "degraded", "blocked", "error"):
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    return {
        "starts": starts,
        "requests": len(rows),
        "errors": sum(r.status != "ok" for r in rows),
        "input_tokens": sum(r.input_tokens or 0 for r in rows),
        "output_tokens": sum(r.output_tokens or 0 for r in rows),
        "cost_usd": sum(r.cost_usd or 0.0 for r in rows),
        "unpriced": sum(r.status == "ok" and r.cost_usd is None for r in rows),
        "variants": variants,
        "outcomes": outcomes,
        "latency": sorted(r.latency_ms for r in rows if r.latency_ms is not None),
        "ttft": sorted(r.ttft_ms for r in rows if r.ttft_ms is not None),
        "buckets": buckets,
    }


def _close(got: float | None, exact: float | None, bound: float) -> bool:
    if got is None or exact is None:
        return got is exact
    return abs(got - exact) <= bound * exact * (1 + 1e-9)


def _check(o: Overview, want: dict[str, Any], bound: float) -> None:
    assert [b.start for b in o.buckets] == want["starts"]
    assert (o.requests, o.errors, o.unpriced) == (want["requests"], want["errors"], want["unpriced"])
    assert (o.input_tokens, o.output_tokens) == (want["input_tokens"], want["output_tokens"])
    assert o.cost_usd == pytest.approx(want["cost_usd"], rel=1e-9)
    assert (o.variants, o.outcomes) == (want["variants"], want["outcomes"])
    for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert _close(o.latency_ms[q], percentile(want["latency"], v), bound), q
    for q, v in (("p50", 0.5), ("p95", 0.95)):
        assert _close(o.ttft_ms[q], percentile(want["ttft"], v), bound), q
    for got, rows in zip(o.buckets, want["buckets"], strict=True):
        assert (got.requests, got.errors) == (len(rows), sum(r.status != "ok" for r in rows))
        assert got.tokens == sum((r.input_tokens or 0) + (r.output_tokens or 0) for r in rows)
        assert got.cost_usd == pytest.approx(sum(r.cost_usd or 0.0 for r in rows), rel=1e-9, abs=1e-12)
        latency = sorted(r.latency_ms for r in rows if r.latency_ms is not None)
        ttft = sorted(r.ttft_ms for r in rows if r.ttft_ms is not None)
        assert _close(got.p50_ms, percentile(latency, 0.5), bound)
        assert _close(got.p95_ms, percentile(latency, 0.95), bound)
        assert _close(got.ttft_p95_ms, percentile(ttft, 0.95), bound)


def test_every_window_equals_a_brute_force_count_of_the_rows(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    # Each window's bucket width is a rollup grain: whole buckets are whole slots.
    assert {int(seconds) // count for seconds, count in WINDOWS.values()} == set(GRAINS)
    records = _records(make_record, 4000, seed=14)
    for at in range(0, len(records), 256):
        store.write_records(records[at : at + 256])
    for window in WINDOWS:
        for feature in ("support", "notes"):
            want = _brute(records, feature, window)
            assert want["requests"] > 20 and len(want["buckets"]) == WINDOWS[window][1] + 1
            approximate = overview(store.db, feature, window, now=NOW, exact_up_to=0)
            assert approximate.relative_error == RELATIVE_ERROR
            _check(approximate, want, RELATIVE_ERROR)
            exact = overview(store.db, feature, window, now=NOW, exact_up_to=10**6)
            assert exact.relative_error == 0.0
            _check(exact, want, 0.0)


def test_records_rebuilt_after_a_crash_are_counted_once_and_give_way_to_the_real_ones(
    store: Store, tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> None:
    audit = open_audit_log(tmp_path, db=store.db)
    try:
        store.write_records([make_record(feature="support", started_at=NOW - 600, outcome="served")])

        def decision(request_id: str, outcome: str, status: int) -> DecisionEntry:
            return DecisionEntry(
                time=format_time(NOW - 300),  # in a whole minute: read from the rollups
                request_id=request_id,
                feature="support",
                variant="main",
                provider="up",
                model="gpt-4o-mini",
                spec_version="s",
                prompt_version="p",
                outcome=outcome,  # type: ignore[arg-type]
                input_sha256=sha256_hex("in"),
                output_sha256=None,
                http_status=status,
                user="u-1",
            )

        audit.log.append_many(
            [decision("lost-served-0001", "served", 200), decision("lost-failed-0001", "error", 502)]
        )
        assert recover_lost_records(audit.log, store) == 2
        after = overview(store.db, "support", "1h", now=NOW, exact_up_to=0)
        assert (after.requests, after.errors, after.variants) == (3, 1, {"champion": 1, "main": 2})
        assert after.outcomes == {"served": 2, "error": 1}  # a rebuilt record keeps its entry's outcome
        # The real record lands later (another replica's queue): it replaces its stub, not adds to it.
        store.write_records(
            [
                make_record(
                    request_id="lost-served-0001",
                    feature="support",
                    variant="main",
                    started_at=NOW - 250,
                    latency_ms=400.0,
                    outcome="served",
                )
            ]
        )
        final = overview(store.db, "support", "1h", now=NOW, exact_up_to=0)
        assert (final.requests, final.errors, final.outcomes) == (3, 1, {"served": 2, "error": 1})
        assert final.input_tokens == 2 * 120 and _close(final.latency_ms["p99"], 812.5, RELATIVE_ERROR)
    finally:
        audit.close()


def test_spend_counts_every_call_shadow_included_from_the_rollups(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    records = _records(make_record, 1500, seed=7)
    store.write_records(records)
    cache = SpendCache()
    day = NOW - NOW % DAY
    for since in (day, day - 5 * DAY, day - 5 * DAY):  # the third answer reuses the cached days
        rows = [r for r in records if r.feature == "support" and since <= r.started_at <= NOW]
        usd, tokens = cache.spend(store.db, "support", since, NOW)
        assert usd == pytest.approx(sum(r.cost_usd or 0.0 for r in rows), rel=1e-9)
        assert tokens == sum((r.input_tokens or 0) + (r.output_tokens or 0) for r in rows)
        assert any(r.outcome == "shadow" for r in rows)


async def test_the_page_states_how_exact_its_percentiles_are(
    tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> None:
    support, notes = write_project(tmp_path, "http://127.0.0.1:9")
    store = open_store(None, base_dir=tmp_path)
    handle = open_audit_log(tmp_path, db=store.db)
    try:
        now = time.time()
        store.write_records([make_record(feature="support", started_at=now - 60 - i) for i in range(10)])
        settings = ConsoleSettings.from_env(
            {"RUNWELL_CONSOLE": "on", "RUNWELL_ADMIN_TOKEN": ADMIN}, derive_from=b"k" * 32
        )
        specs = {s.name: s for s in (load_spec(support), load_spec(notes))}
        app = ConsoleApp(
            settings, ConsoleSources(store=store, log=handle.log, specs=specs, where="standalone")
        )
        headers = {"authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://c.test"
        ) as client:
            small = await client.get("/console?feature=support&window=1h", headers=headers)
            assert small.status_code == 200 and "Percentiles are exact" in small.text
            many = [make_record(feature="support", started_at=now - 3000 + i * 0.5) for i in range(4100)]
            store.write_records(many)
            large = await client.get("/console?feature=support&window=1h", headers=headers)
            assert large.status_code == 200 and "within 5% of the exact value" in large.text
    finally:
        handle.close()
        store.close()

"""Request rollups: written with the records, they always sum exactly the rows stored beside them.

Every check compares the ``request_rollups`` table with a brute-force count of the ``requests``
rows, and with migration 14's backfill (the same sums computed by SQL, a second implementation).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runwell.store import MIGRATIONS, Database, Store, open_store, record_to_row
from runwell.store._rollups import rebuild_rollups
from runwell.telemetry.record import RECORD_FIELDS, RequestRecord
from runwell.telemetry.rollup import (
    BIN_HI,
    BIN_LO,
    COMPACT_AT,
    COUNTED_COLUMNS,
    GAMMA,
    GRAINS,
    RELATIVE_ERROR,
    append_hist,
    bin_of,
    bin_value,
    cover,
    hist_percentile,
    minute_of,
    parse_hist,
)

T0 = 1_800_000_000.0
Snapshot = dict[tuple[str, int, int, str], tuple[Any, ...]]


def _random_records(make_record: Callable[..., RequestRecord], n: int, seed: int) -> list[RequestRecord]:
    rng = random.Random(seed)
    records = []
    for _ in range(n):
        status = "error" if rng.random() < 0.1 else "ok"
        outcome = rng.choice(
            ["served", "served", "served", "fallback", "degraded", "blocked", "shadow", None]
        )
        if status == "error":
            outcome = rng.choice(["error", None])
        latency = rng.choice([None, 0.0, rng.lognormvariate(6, 1.2), rng.uniform(0.001, 5)])
        records.append(
            make_record(
                started_at=T0 + rng.uniform(0, 4 * 3600),
                feature=rng.choice(["support", "support", "notes", None]),
                variant=rng.choice(["main", "main", "alt", None]),
                status=status,
                outcome=outcome,
                latency_ms=latency,
                ttft_ms=None if latency is None or rng.random() < 0.5 else latency * rng.random(),
                input_tokens=rng.choice([None, rng.randint(0, 900)]),
                output_tokens=rng.choice([None, rng.randint(0, 400)]),
                cost_usd=None if status == "error" or rng.random() < 0.1 else rng.uniform(0, 0.01),
            )
        )
    return records


def snapshot(db: Database) -> Snapshot:
    """Every rollup row with a nonzero sum, histograms as sorted ``(bin, count)`` lists."""
    rows = db.query("SELECT * FROM request_rollups", action="read the rollups")
    out: Snapshot = {}
    for feature, grain, slot, variant, *sums, latency, ttft in rows:
        hists = []
        for text in (latency, ttft):
            hist: dict[int, int] = {}
            parse_hist(text, hist)
            hists.append(tuple(sorted((b, n) for b, n in hist.items() if n)))
        values = (*(round(float(v), 9) for v in sums), *hists)
        if any(sums) or any(hists):
            out[(str(feature), int(grain), int(slot), str(variant))] = values
    return out


def brute_force(db: Database) -> Snapshot:
    """The rollups as the definition says, counted row by row from ``requests``."""
    rows = db.query(f"SELECT {', '.join(COUNTED_COLUMNS)} FROM requests", action="read the records")
    acc: dict[tuple[str, int, int, str], list[Any]] = {}
    for feature, variant, started_at, status, outcome, latency, ttft, tin, tout, cost in rows:
        if feature is None:
            continue
        for grain in GRAINS:
            slot = math.floor(started_at / grain) * grain
            sums = acc.setdefault((feature, grain, slot, variant or ""), [0] * 13 + [{}, {}])
            tokens = (tin or 0) + (tout or 0)
            if outcome == "shadow":
                sums[11] += cost or 0.0
                sums[12] += tokens
                continue
            sums[0] += 1
            sums[1] += status != "ok"
            for i, name in enumerate(["served", "fallback", "degraded", "blocked", "error"]):
                sums[2 + i] += outcome == name
            sums[7] += tin or 0
            sums[8] += tout or 0
            sums[9] += cost or 0.0
            sums[10] += status == "ok" and cost is None
            for hist, value in ((sums[13], latency), (sums[14], ttft)):
                if value is not None:
                    hist[bin_of(value)] = hist.get(bin_of(value), 0) + 1
    return {
        key: (
            *(round(float(v), 9) for v in sums[:13]),
            tuple(sorted(sums[13].items())),
            tuple(sorted(sums[14].items())),
        )
        for key, sums in acc.items()
    }


def test_bins_hold_every_value_within_the_relative_error_and_cover_slots_exactly() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(0, 6) for _ in range(5000)] + [1.0, GAMMA, GAMMA**7, 0.01, 1e6]
    for value in (v for v in values if GAMMA**BIN_LO < v <= GAMMA**BIN_HI):  # the bound's range
        assert abs(bin_value(bin_of(value)) - value) <= RELATIVE_ERROR * value * (1 + 1e-12)
    assert bin_of(0.0) == bin_of(-1.0) == BIN_LO and bin_of(1e12) == BIN_HI
    hist = {bin_of(v): 1 for v in (10.0, 20.0, 40.0)}
    assert hist_percentile(hist, 0.5) == bin_value(bin_of(20.0)) and hist_percentile({}, 0.5) is None
    assert minute_of(T0 + 59.999) == T0 and minute_of(math.nextafter(T0, 0)) == T0 - 60
    day = 1_799_971_200  # a UTC midnight: aligned to every grain
    assert cover(day - 120, day + 2 * 10800 + 360, 10800) == [
        (60, day - 120),
        (60, day - 60),
        (10800, day),
        (10800, day + 10800),
        (300, day + 21600),
        (60, day + 21900),
    ]
    assert cover(day + 1740, day + 3660, 1800) == [(60, day + 1740), (1800, day + 1800), (60, day + 3600)]
    with pytest.raises(ValueError, match="whole minutes"):
        cover(1, 120, 60)


def test_rollups_sum_exactly_the_rows_however_the_records_arrive(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    records = _random_records(make_record, 1500, seed=1)
    rng = random.Random(2)
    at = 0
    while at < len(records):
        size = rng.choice([1, 7, 64, 256])
        store.write_records(records[at : at + size])
        at += size
    store.write_records(records[100:356])  # a retried batch: already stored, counted once
    store.write_records([records[5], records[5]])  # a duplicate inside a batch
    # Stubs rebuilt after a crash, then the real records landing (in another minute, other values).
    stubs = [
        make_record(started_at=T0 + 7000 + i, recovered=True, latency_ms=None, cost_usd=None, outcome=None)
        for i in range(20)
    ]
    store.write_records(stubs)
    store.write_records(
        [make_record(request_id=s.request_id, started_at=T0 + 60 * i) for i, s in enumerate(stubs)]
    )
    store.write_records(stubs[:5])  # a late stub never replaces the real record
    assert store.count_records() == 1500 + 20
    written = snapshot(store.db)
    assert written == brute_force(store.db)
    assert sum(v[0] for k, v in written.items() if k[:2] == ("support", 60)) > 500  # not vacuous
    rebuild_rollups(store.db)  # migration 14's backfill, in SQL
    assert snapshot(store.db) == written


def test_a_record_the_database_refuses_is_not_counted_and_the_rest_are(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    nested: Any = []
    for _ in range(400):
        nested = [nested]
    good = [make_record(started_at=T0 + i) for i in range(3)]
    stripped = make_record(started_at=T0 + 5, prompt=[{"role": "user", "content": nested}])
    refused = make_record(started_at=T0 + 6, user_id="a\x00b")  # PostgreSQL's text cannot hold NUL
    report = store.write_records([good[0], stripped, refused, *good[1:]])
    assert report.stripped == [stripped.request_id]
    assert snapshot(store.db) == brute_force(store.db)
    expected = 5 if store.db.dialect == "sqlite" else 4  # SQLite stores the NUL
    assert snapshot(store.db)[("support-reply", 60, int(T0), "champion")][0] == expected


@pytest.mark.postgres
def test_replicas_writing_the_same_slots_at_once_lose_no_count(
    pg_url: str, tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> None:
    stores = [open_store(pg_url, base_dir=tmp_path) for _ in range(3)]
    try:
        batches = [
            [make_record(started_at=T0 + (i * 50 + j) % 120, variant=f"v{j % 2}") for j in range(50)]
            for i in range(60)
        ]
        failures: list[BaseException] = []

        def write(store: Store, mine: list[list[RequestRecord]]) -> None:
            try:
                for batch in mine:
                    store.write_records(batch)
            except BaseException as exc:  # reported below: a thread's failure must fail the test
                failures.append(exc)

        threads = [threading.Thread(target=write, args=(s, batches[k::3])) for k, s in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        assert snapshot(stores[0].db) == brute_force(stores[0].db)
        assert sum(v[0] for k, v in snapshot(stores[0].db).items() if k[1] == 10800) == 3000
    finally:
        for store in stores:
            store.close()


def test_migration_14_backfills_the_rollups_of_records_stored_before_it(
    store_url: str, tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> None:
    records = _random_records(make_record, 800, seed=5)
    old = Database.open(store_url, base_dir=tmp_path, migrations=MIGRATIONS[:13])
    try:
        with old.transaction("store records as runwell did before migration 14") as tx:
            tx.copy_rows("requests", RECORD_FIELDS, [record_to_row(r) for r in records])
    finally:
        old.close()
    upgraded = open_store(store_url, base_dir=tmp_path)
    try:
        backfilled = snapshot(upgraded.db)
        assert backfilled and backfilled == brute_force(upgraded.db)
    finally:
        upgraded.close()
    # The writer, fed the same records, arrives at the same table.
    fresh = open_store(None, base_dir=tmp_path / "fresh")
    try:
        fresh.write_records(records)
        assert snapshot(fresh.db) == backfilled
    finally:
        fresh.close()


def test_rollups_stay_exact_when_the_audit_writer_cuts_batches_short(
    store: Store, make_record: Callable[..., RequestRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an urgent writer always waiting, every chunk of a batch commits on its own."""
    from runwell.store import _db, _records

    transactions = [0]
    real = _db.Database.transaction

    def counting(self: Database, action: str, **kw: Any) -> Any:
        if action.endswith("request records"):
            transactions[0] += 1
        return real(self, action, **kw)

    monkeypatch.setattr(_db.Tx, "urgent_waiting", lambda self: True)
    monkeypatch.setattr(_db.Database, "transaction", counting)
    records = _random_records(make_record, 3 * _records.CHUNK + 3, seed=7)
    store.write_records(records)
    assert transactions[0] == 4  # three whole chunks and the rest, each in its own transaction
    busy = _random_records(make_record, 3 * _records.CHUNK + 3, seed=8)
    store.write_records(busy, yield_to_audit=False)  # a busy gateway's batch: one transaction
    assert transactions[0] == 5
    assert snapshot(store.db) == brute_force(store.db)
    records += busy
    store.write_records(records[: _records.CHUNK + 1])  # a retried batch: counted once
    assert store.count_records() == len(records)
    assert snapshot(store.db) == brute_force(store.db)
    # A refused record (PostgreSQL) in a later chunk: only that one is lost, and nothing twice.
    late = [make_record(started_at=T0 + 900 + i) for i in range(_records.CHUNK + 2)]
    late[_records.CHUNK + 1] = make_record(started_at=T0 + 950, user_id="a\x00b")
    report = store.write_records(late)
    expected = len(late) if store.db.dialect == "sqlite" else len(late) - 1
    assert store.count_records() == len(records) + expected
    assert len(report.rejected) == len(late) - expected
    assert snapshot(store.db) == brute_force(store.db)


def test_histogram_text_is_appended_to_and_compacted_past_its_bound() -> None:
    """The writer appends a batch's bins to the stored text; the sum is exact, the text bounded."""
    text = append_hist(None, {3: 2})
    assert text == "3:2"
    assert append_hist(text, {}) == text  # nothing to add: the stored text as it was
    text = append_hist(text, {3: 1, 7: 4})
    assert text == "3:2,3:1,7:4"  # appended: the stored part is neither parsed nor rewritten
    text = append_hist(text, {7: -4})  # a replaced stub takes its counts back out
    summed: dict[int, int] = {}
    parse_hist(text, summed)
    assert {b: n for b, n in summed.items() if n} == {3: 3}

    for width in (20, BIN_HI - BIN_LO + 1):  # a typical row, and one using every bin there is
        exact: dict[int, int] = {}
        text = None
        for i in range(3000):
            batch = {BIN_LO + i % width: 1 + i % 3}
            for b, n in batch.items():
                exact[b] = exact.get(b, 0) + n
            text = append_hist(text, batch)
            assert text is not None
            bins = text.split(",")
            # Bounded: within COMPACT_AT, or compact (each bin once) when even that is longer.
            assert len(text) <= COMPACT_AT or len({b.split(":")[0] for b in bins}) == len(bins)
        summed = {}
        parse_hist(text, summed)
        assert summed == exact

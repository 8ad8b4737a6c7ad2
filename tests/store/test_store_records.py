"""Request records survive a round trip through either backend, and can be found again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runwell.errors import ConfigError, StoreError
from runwell.store import Store, open_store
from runwell.telemetry.record import RECORD_FIELDS, RequestRecord

MakeRecord = Callable[..., RequestRecord]


def test_a_written_record_reads_back_identical(store: Store, make_record: MakeRecord) -> None:
    full = make_record()
    sparse = make_record(
        feature=None,
        variant=None,
        provider=None,
        model=None,
        spec_version=None,
        prompt_version=None,
        user_id=None,
        api_key_id=None,
        status="error",
        http_status=404,
        error_class="unknown_feature",
        error_message="no feature 'x'",
        stream=False,
        latency_ms=None,
        ttft_ms=None,
        input_tokens=None,
        output_tokens=None,
        cached_tokens=None,
        cost_usd=None,
        priced=False,
        finish_reason=None,
        response_model=None,
        prompt=None,
        completion=None,
    )
    store.write_records([full, sparse])

    assert store.get_record(full.request_id) == full
    assert store.get_record(sparse.request_id) == sparse


def test_the_requests_table_has_exactly_the_record_fields(store: Store) -> None:
    # A field added to RequestRecord without a migration would make every write fail; this
    # pins the two together.
    store.write_records([])
    if store.db.dialect == "sqlite":
        import sqlite3

        with sqlite3.connect(store.url.removeprefix("sqlite:///")) as db:
            columns = [row[1] for row in db.execute("PRAGMA table_info(requests)")]
    else:
        import psycopg

        with psycopg.connect(store.db._target) as conn:
            columns = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'requests' AND table_schema = current_schema() "
                    "ORDER BY ordinal_position"
                )
            ]
    # Columns are always named explicitly, so their order in the table does not matter.
    assert sorted(columns) == sorted(RECORD_FIELDS) and len(columns) == len(RECORD_FIELDS)


def test_list_is_newest_first_and_filters(store: Store, make_record: MakeRecord) -> None:
    records = [make_record(started_at=1000.0 + i, feature="a" if i % 2 else "b") for i in range(10)]
    store.write_records(records)

    newest_first = sorted(records, key=lambda r: r.started_at, reverse=True)
    assert store.list_records() == newest_first
    assert store.list_records(limit=3) == newest_first[:3]
    assert [r.started_at for r in store.list_records(feature="a")] == [1009.0, 1007.0, 1005.0, 1003.0, 1001.0]
    assert [r.started_at for r in store.list_records(since=1007.0)] == [1009.0, 1008.0, 1007.0]
    assert [r.started_at for r in store.list_records(feature="b", since=1005.0)] == [1008.0, 1006.0]
    assert store.count_records() == 10
    assert store.count_records("a") == 5
    assert store.count_records("nope") == 0


def test_list_rejects_a_limit_below_one(store: Store) -> None:
    with pytest.raises(ConfigError, match="limit"):
        store.list_records(limit=0)


def test_writing_a_batch_again_skips_ids_already_stored(store: Store, make_record: MakeRecord) -> None:
    # A retried batch whose first attempt did commit must not fail on duplicate ids.
    first = [make_record() for _ in range(3)]
    store.write_records(first)
    store.write_records([*first, make_record()])
    assert store.count_records() == 4


def test_a_record_is_found_by_a_unique_prefix_of_eight_or_more(store: Store, make_record: MakeRecord) -> None:
    record = make_record(request_id="a1b2c3d4e5f6a7b8c9d0e1f2")
    other = make_record(request_id="a1b2c3d4ffffffffffffffff")
    store.write_records([record, other])

    assert store.get_record("a1b2c3d4e5") == record
    assert store.get_record("a1b2c3d4f") == other
    assert store.get_record("a1b2c3d") is None  # too short to be taken as a prefix
    assert store.get_record("0000000000") is None
    with pytest.raises(StoreError, match="more than one request"):
        store.get_record("a1b2c3d4")


def test_prefix_lookup_treats_like_wildcards_literally(store: Store, make_record: MakeRecord) -> None:
    store.write_records([make_record(request_id="abcdefgh_1"), make_record(request_id="abcdefghX1")])
    found = store.get_record("abcdefgh_")
    assert found is not None and found.request_id == "abcdefgh_1"
    assert store.get_record("abcdefg%") is None


def test_ping_writes_and_a_closed_store_says_so(store: Store) -> None:
    store.ping()
    store.ping()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.ping()


def test_two_stores_on_one_sqlite_file_see_each_other(tmp_path: Path, make_record: MakeRecord) -> None:
    # The CLI reads the file the gateway writes; WAL mode lets both work at once.
    writer = open_store(None, base_dir=tmp_path)
    reader = open_store(None, base_dir=tmp_path)
    try:
        writer.write_records([make_record()])
        assert reader.count_records() == 1
        assert (tmp_path / ".runwell" / "runwell.db-wal").exists()
    finally:
        writer.close()
        reader.close()


@pytest.mark.postgres
def test_postgres_reconnects_after_the_server_drops_the_connection(
    pg_url: str, tmp_path: Path, make_record: MakeRecord
) -> None:
    import psycopg

    store = open_store(pg_url, base_dir=tmp_path)
    try:
        store.write_records([make_record()])
        with psycopg.connect(pg_url, autocommit=True) as admin:  # drop the pool's idle connection
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreError, match="cannot write 1 request records"):
            store.write_records([make_record()])  # this attempt finds the connection dead...
        store.write_records([make_record()])  # ...and the retry gets a new one
        assert store.count_records() == 2
    finally:
        store.close()


def _too_deep(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels):
        value = [value]
    return value


def test_one_unserialisable_record_is_stored_without_content_and_never_blocks_the_batch(
    store: Store, make_record: MakeRecord
) -> None:
    good = [make_record(), make_record()]
    bad = make_record(prompt=[{"role": "user", "content": "hi", "x": _too_deep(400)}])
    report = store.write_records([good[0], bad, good[1]])
    assert report.stripped == [bad.request_id] and report.rejected == []
    for record in good:
        assert store.get_record(record.request_id) == record
    stored = store.get_record(bad.request_id)
    assert stored is not None and stored.prompt is None and stored.completion is None
    assert stored.note is not None and "not serialisable" in stored.note
    assert stored.latency_ms == bad.latency_ms and stored.status == bad.status  # the rest is kept


def test_a_value_the_database_refuses_is_isolated_to_its_record(
    store: Store, make_record: MakeRecord
) -> None:
    # PostgreSQL text cannot hold NUL; SQLite can. Either way the batch is written.
    good = make_record()
    odd = make_record(completion="before\x00after")
    report = store.write_records([good, odd])
    assert store.get_record(good.request_id) == good
    stored = store.get_record(odd.request_id)
    assert stored is not None
    if store.db.dialect == "postgresql":
        assert report.stripped == [odd.request_id] and stored.completion is None
        assert stored.note is not None and "refused by the database" in stored.note
    else:
        assert report.stripped == [] and stored.completion == "before\x00after"

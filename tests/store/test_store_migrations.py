"""Schema migrations: applied once, in order, only the new ones, safely under concurrency."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from runwell.errors import StoreError
from runwell.store import MIGRATIONS, Database, Migration, Store
from runwell.store.migrations import pending_migrations, sqlite_statements

# Tests build histories from MIGRATIONS plus this stand-in next migration, so they keep
# working as real migrations are appended.
NEXT = Migration(
    len(MIGRATIONS) + 1,
    "next_stand_in",
    "CREATE TABLE next_stand_in (id TEXT PRIMARY KEY, note TEXT DEFAULT 'a;b');",
    "CREATE TABLE next_stand_in (id TEXT PRIMARY KEY, note TEXT DEFAULT 'a;b');",
)


def _open(kind: str, where: str, migrations: tuple[Migration, ...]) -> Database:
    return Database.open(
        where, base_dir=Path(where).parent if kind == "sqlite" else Path("."), migrations=migrations
    )


def _history(kind: str, where: str) -> list[tuple[int, str, float]]:
    query = "SELECT number, name, applied_at FROM runwell_migrations ORDER BY number"
    if kind == "sqlite":
        with sqlite3.connect(where) as db:
            return [tuple(row) for row in db.execute(query)]
    import psycopg

    with psycopg.connect(where) as conn:
        return [tuple(row) for row in conn.execute(query)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """``(backend, where)`` for an empty database."""
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "m.db")
    return "postgres", request.getfixturevalue("pg_url")


def test_opening_twice_applies_each_migration_once(db: tuple[str, str]) -> None:
    kind, where = db
    _open(kind, where, MIGRATIONS).close()
    first = _history(kind, where)
    _open(kind, where, MIGRATIONS).close()
    assert _history(kind, where) == first
    assert [(n, name) for n, name, _ in first] == [(m.number, m.name) for m in MIGRATIONS]


def test_upgrading_applies_only_the_new_migration(
    db: tuple[str, str], make_record: Callable[..., object]
) -> None:
    kind, where = db
    old = Store(_open(kind, where, MIGRATIONS))
    old.write_records([make_record()])
    old.close()
    before = _history(kind, where)

    upgraded = Store(_open(kind, where, (*MIGRATIONS, NEXT)))
    try:
        # The applied migrations use CREATE TABLE / ADD COLUMN without IF NOT EXISTS: running them
        # again would fail.
        assert upgraded.count_records() == 1
    finally:
        upgraded.close()
    after = _history(kind, where)
    assert after[: len(before)] == before
    assert [(n, name) for n, name, _ in after] == [
        *((m.number, m.name) for m in MIGRATIONS),
        (NEXT.number, "next_stand_in"),
    ]


def test_a_database_from_a_newer_runwell_is_refused(db: tuple[str, str]) -> None:
    kind, where = db
    _open(kind, where, (*MIGRATIONS, NEXT)).close()
    with pytest.raises(StoreError, match="newer runwell"):
        _open(kind, where, MIGRATIONS)


def test_a_migration_recorded_under_another_name_is_refused(db: tuple[str, str]) -> None:
    kind, where = db
    _open(kind, where, (*MIGRATIONS, NEXT)).close()
    renamed = Migration(NEXT.number, "audit_log", NEXT.sqlite_sql, NEXT.postgres_sql)
    with pytest.raises(StoreError, match="diverged"):
        _open(kind, where, (*MIGRATIONS, renamed))


def test_a_failing_migration_leaves_nothing_half_applied(db: tuple[str, str]) -> None:
    kind, where = db
    broken = Migration(
        NEXT.number,
        "broken",
        "CREATE TABLE t2 (id INTEGER); SELECT nope FROM nowhere;",
        "CREATE TABLE t2 (id INTEGER); SELECT nope FROM nowhere;",
    )
    with pytest.raises(StoreError):
        _open(kind, where, (*MIGRATIONS, broken))
    # Everything ran in one transaction, so not even the earlier migrations were kept; had they
    # been, reopening would fail on their CREATE TABLE.
    _open(kind, where, (*MIGRATIONS, NEXT)).close()
    assert [n for n, _, _ in _history(kind, where)] == [*(m.number for m in MIGRATIONS), NEXT.number]


@pytest.mark.postgres
def test_concurrent_openers_on_postgres_migrate_once(pg_url: str) -> None:
    # Replicas starting together: the advisory lock must serialise them.
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_one() -> None:
        try:
            start.wait()
            _open("postgres", pg_url, MIGRATIONS).close()
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [n for n, _, _ in _history("postgres", pg_url)] == [m.number for m in MIGRATIONS]


def test_migration_numbers_must_run_one_two_three() -> None:
    with pytest.raises(StoreError, match="numbered"):
        pending_migrations([], (MIGRATIONS[0], Migration(3, "gap", "", "")), where="db")


def test_sqlite_scripts_split_on_statement_ends_only() -> None:
    script = """
        CREATE TABLE a (x TEXT DEFAULT 'semi;colon');
        CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 'y;z'; END;
        -- trailing comment
    """
    statements = sqlite_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_no_index_on_shadow_of_is_left_to_slow_every_insert(db: tuple[str, str]) -> None:
    """Migration 15 drops the index migration 10 made on ``requests.shadow_of``; no query used it."""
    kind, where = db
    _open(kind, where, MIGRATIONS[:14]).close()
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests'",
        "postgres": "SELECT indexname FROM pg_indexes WHERE tablename = 'requests' "
        "AND schemaname = current_schema()",
    }[kind]

    def indexes() -> set[str]:
        if kind == "sqlite":
            with sqlite3.connect(where) as conn:
                return {str(row[0]) for row in conn.execute(query)}
        import psycopg

        with psycopg.connect(where) as conn:
            return {str(row[0]) for row in conn.execute(query)}

    assert "requests_shadow_of" in indexes()
    _open(kind, where, MIGRATIONS).close()
    left = indexes()
    assert "requests_shadow_of" not in left
    assert {"requests_console_feature", "requests_console_user", "requests_started"} <= left

"""The embedded record store: one SQLite file in WAL mode, no server to run."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from runwell.errors import StoreError
from runwell.store.base import (
    MIN_PREFIX_LEN,
    ApiKey,
    check_key_name,
    duplicate_key_name,
    hash_secret,
    list_records_query,
    new_key_material,
    record_from_row,
    record_to_row,
    single_key,
    unique_prefix_match,
)
from runwell.store.migrations import (
    MIGRATIONS,
    MIGRATIONS_TABLE_SQLITE,
    Migration,
    pending_migrations,
    sqlite_statements,
)
from runwell.telemetry.record import RECORD_FIELDS, RequestRecord

__all__ = ["SQLiteStore"]

_COLUMNS = ", ".join(RECORD_FIELDS)
_INSERT = (
    f"INSERT INTO requests ({_COLUMNS}) VALUES ({', '.join('?' for _ in RECORD_FIELDS)}) "
    "ON CONFLICT (request_id) DO NOTHING"
)
_KEY_COLUMNS = "id, name, prefix, created_at, revoked_at"


class SQLiteStore:
    """A :class:`~runwell.store.base.RecordStore` in one SQLite file.

    WAL mode lets the CLI read while the gateway writes; ``synchronous=NORMAL`` is durable across
    application crashes (WAL) and trades only the last transactions on power loss for far fewer
    fsyncs; ``busy_timeout`` makes a writer wait for another process's lock instead of failing.
    One connection is shared by all threads and guarded by a lock: SQLite serialises writers
    anyway, and this keeps transactions from different threads from interleaving.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the SQLite store {self.path}: {exc}. "
                "Check that its directory exists and that you may write there."
            ) from exc
        self._db = db
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self._migrate(db, migrations)
        except sqlite3.Error as exc:
            db.close()
            self._db = None
            raise StoreError(
                f"cannot prepare the SQLite store {self.path}: {exc}. Check that the file is a "
                "runwell database, is writable and that the disk is not full."
            ) from exc
        except StoreError:
            db.close()
            self._db = None
            raise

    def _migrate(self, db: sqlite3.Connection, migrations: Sequence[Migration]) -> None:
        # BEGIN IMMEDIATE takes the write lock first, so two processes opening a new file at
        # once apply the migrations one after the other instead of both trying.
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(MIGRATIONS_TABLE_SQLITE)
            applied = db.execute("SELECT number, name FROM runwell_migrations ORDER BY number")
            for migration in pending_migrations(applied.fetchall(), migrations, where=self.url):
                for statement in sqlite_statements(migration.sqlite_sql):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO runwell_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                    (migration.number, migration.name, time.time()),
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    @contextmanager
    def _use(self, action: str, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, locked; inside a transaction when ``write``; errors become StoreError."""
        with self._lock:
            db = self._db
            if db is None:
                raise StoreError(f"the store {self.url} is closed; cannot {action}")
            try:
                if not write:
                    yield db
                    return
                # IMMEDIATE: take the write lock up front. A deferred transaction that later
                # upgrades to writing fails at once with SQLITE_BUSY, ignoring busy_timeout.
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot {action} in {self.url}: {exc}") from exc

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        """See :meth:`RecordStore.write_records`."""
        if not records:
            return
        rows = [record_to_row(r) for r in records]
        with self._use(f"write {len(rows)} request records", write=True) as db:
            db.executemany(_INSERT, rows)

    def list_records(
        self, *, feature: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[RequestRecord]:
        """See :meth:`RecordStore.list_records`."""
        sql, params = list_records_query(_COLUMNS, feature=feature, since=since, limit=limit, placeholder="?")
        with self._use("list request records") as db:
            rows = db.execute(sql, params).fetchall()
        return [record_from_row(row) for row in rows]

    def get_record(self, request_id: str) -> RequestRecord | None:
        """See :meth:`RecordStore.get_record`."""
        with self._use(f"read request {request_id!r}") as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is not None:
                return record_from_row(row)
            if len(request_id) < MIN_PREFIX_LEN or not request_id.isascii():
                return None
            # [prefix, prefix with its last character bumped) is exactly the strings starting
            # with prefix under SQLite's byte-wise BINARY collation, and it uses the primary key.
            upper = request_id[:-1] + chr(ord(request_id[-1]) + 1)
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE request_id >= ? AND request_id < ? LIMIT 2",
                (request_id, upper),
            ).fetchall()
        return unique_prefix_match(request_id, rows, self.url)

    def count_records(self, feature: str | None = None) -> int:
        """See :meth:`RecordStore.count_records`."""
        with self._use("count request records") as db:
            if feature is None:
                row = db.execute("SELECT count(*) FROM requests").fetchone()
            else:
                row = db.execute("SELECT count(*) FROM requests WHERE feature = ?", (feature,)).fetchone()
        return int(row[0])

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """See :meth:`RecordStore.create_key`."""
        name = check_key_name(name)
        key_id, secret, prefix = new_key_material()
        key = ApiKey(id=key_id, name=name, prefix=prefix, created_at=time.time())
        with self._use(f"create API key {name!r}", write=True) as db:
            try:
                db.execute(
                    "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                    (key.id, key.name, key.prefix, hash_secret(secret), key.created_at),
                )
            except sqlite3.IntegrityError as exc:
                raise duplicate_key_name(name, self.url) from exc
        return key, secret

    def list_keys(self) -> list[ApiKey]:
        """See :meth:`RecordStore.list_keys`."""
        with self._use("list API keys") as db:
            rows = db.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke_key(self, id_or_name: str) -> ApiKey:
        """See :meth:`RecordStore.revoke_key`."""
        with self._use(f"revoke API key {id_or_name!r}", write=True) as db:
            rows = db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ? OR (name = ? AND revoked_at IS NULL)",
                (id_or_name, id_or_name),
            ).fetchall()
            key = single_key(id_or_name, [ApiKey(*row) for row in rows], self.url)
            if not key.active:
                return key
            revoked_at = time.time()
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (revoked_at, key.id))
        return replace(key, revoked_at=revoked_at)

    def active_key_hashes(self) -> dict[str, str]:
        """See :meth:`RecordStore.active_key_hashes`."""
        with self._use("load active API keys") as db:
            rows = db.execute("SELECT key_hash, id FROM api_keys WHERE revoked_at IS NULL").fetchall()
        return {key_hash: key_id for key_hash, key_id in rows}

    def ping(self) -> None:
        """See :meth:`RecordStore.ping`."""
        with self._use("write the health row", write=True) as db:
            db.execute(
                "INSERT INTO health (id, checked_at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                (time.time(),),
            )

    def close(self) -> None:
        """See :meth:`RecordStore.close`."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

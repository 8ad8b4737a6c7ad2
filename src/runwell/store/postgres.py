"""The record store on PostgreSQL (psycopg 3, synchronous), for many gateway replicas."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import TupleRow

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
    MIGRATIONS_TABLE_POSTGRES,
    POSTGRES_LOCK_KEY,
    Migration,
    pending_migrations,
)
from runwell.store.url import mask_url
from runwell.telemetry.record import RECORD_FIELDS, RequestRecord

__all__ = ["PostgresStore"]

_COLUMNS = ", ".join(RECORD_FIELDS)
_INSERT = (
    f"INSERT INTO requests ({_COLUMNS}) VALUES ({', '.join('%s' for _ in RECORD_FIELDS)}) "
    "ON CONFLICT (request_id) DO NOTHING"
)
_KEY_COLUMNS = "id, name, prefix, created_at, revoked_at"


class PostgresStore:
    """A :class:`~runwell.store.base.RecordStore` in a PostgreSQL database.

    One autocommit connection, guarded by a lock so transactions from different threads never
    interleave; explicit transactions wrap every write. A connection broken by a server restart
    or network blip is replaced on the next call, so the recorder's retries can succeed once the
    database is back. To keep runwell's tables in their own schema, add
    ``?options=-csearch_path%3Dmyschema`` to the URL.
    """

    def __init__(
        self,
        url: str,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        connect_timeout_s: int = 5,
    ) -> None:
        self.url = mask_url(url)
        self._dsn = url
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._closed = False
        self._conn = self._connect()
        try:
            self._migrate(migrations)
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot migrate the PostgreSQL store {self.url}: {_one_line(exc)}") from exc
        except StoreError:
            self._conn.close()
            raise

    def _connect(self) -> psycopg.Connection[TupleRow]:
        try:
            return psycopg.connect(self._dsn, autocommit=True, connect_timeout=self._connect_timeout_s)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {self.url} ({_one_line(exc)}). Check that the "
                "server is running and reachable at that host and port, that the user and "
                "password are right, and that the database exists (createdb NAME)."
            ) from exc

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        conn = self._conn
        with conn.transaction():
            # Replicas starting together would race to create the same tables; the advisory
            # lock lets one migrate while the others wait, then find nothing left to do.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_LOCK_KEY,))
            conn.execute(MIGRATIONS_TABLE_POSTGRES)
            applied = conn.execute("SELECT number, name FROM runwell_migrations ORDER BY number")
            rows = [(int(n), str(name)) for n, name in applied.fetchall()]
            for migration in pending_migrations(rows, migrations, where=self.url):
                # A migration may hold several statements: psycopg runs them in one go when no
                # parameters are passed.
                conn.execute(migration.postgres_sql)
                conn.execute(
                    "INSERT INTO runwell_migrations (number, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.number, migration.name, time.time()),
                )

    @contextmanager
    def _use(self, action: str, *, write: bool = False) -> Iterator[psycopg.Connection[TupleRow]]:
        """The connection, locked (reconnected if broken); in a transaction when ``write``."""
        with self._lock:
            if self._closed:
                raise StoreError(f"the store {self.url} is closed; cannot {action}")
            if self._conn.closed:
                self._conn = self._connect()
            try:
                if write:
                    with self._conn.transaction():
                        yield self._conn
                else:
                    yield self._conn
            except psycopg.Error as exc:
                raise StoreError(f"cannot {action} in {self.url}: {_one_line(exc)}") from exc

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        """See :meth:`RecordStore.write_records` (``executemany`` runs in pipeline mode)."""
        if not records:
            return
        rows = [record_to_row(r) for r in records]
        with self._use(f"write {len(rows)} request records", write=True) as conn, conn.cursor() as cur:
            cur.executemany(_INSERT, rows)

    def list_records(
        self, *, feature: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[RequestRecord]:
        """See :meth:`RecordStore.list_records`."""
        sql, params = list_records_query(
            _COLUMNS, feature=feature, since=since, limit=limit, placeholder="%s"
        )
        with self._use("list request records") as conn:
            rows = conn.execute(sql, params).fetchall()
        return [record_from_row(row) for row in rows]

    def get_record(self, request_id: str) -> RequestRecord | None:
        """See :meth:`RecordStore.get_record`."""
        with self._use(f"read request {request_id!r}") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE request_id = %s", (request_id,)
            ).fetchone()
            if row is not None:
                return record_from_row(row)
            if len(request_id) < MIN_PREFIX_LEN:
                return None
            pattern = request_id.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM requests WHERE request_id LIKE %s ESCAPE '!' LIMIT 2",
                (pattern,),
            ).fetchall()
        return unique_prefix_match(request_id, rows, self.url)

    def count_records(self, feature: str | None = None) -> int:
        """See :meth:`RecordStore.count_records`."""
        with self._use("count request records") as conn:
            if feature is None:
                row = conn.execute("SELECT count(*) FROM requests").fetchone()
            else:
                row = conn.execute("SELECT count(*) FROM requests WHERE feature = %s", (feature,)).fetchone()
        assert row is not None  # count(*) always returns one row
        return int(row[0])

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """See :meth:`RecordStore.create_key`."""
        name = check_key_name(name)
        key_id, secret, prefix = new_key_material()
        key = ApiKey(id=key_id, name=name, prefix=prefix, created_at=time.time())
        with self._use(f"create API key {name!r}", write=True) as conn:
            try:
                conn.execute(
                    "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (key.id, key.name, key.prefix, hash_secret(secret), key.created_at),
                )
            except pg_errors.UniqueViolation as exc:
                raise duplicate_key_name(name, self.url) from exc
        return key, secret

    def list_keys(self) -> list[ApiKey]:
        """See :meth:`RecordStore.list_keys`."""
        with self._use("list API keys") as conn:
            rows = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id").fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke_key(self, id_or_name: str) -> ApiKey:
        """See :meth:`RecordStore.revoke_key`."""
        with self._use(f"revoke API key {id_or_name!r}", write=True) as conn:
            rows = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys "
                "WHERE id = %s OR (name = %s AND revoked_at IS NULL) FOR UPDATE",
                (id_or_name, id_or_name),
            ).fetchall()
            key = single_key(id_or_name, [ApiKey(*row) for row in rows], self.url)
            if not key.active:
                return key
            revoked_at = time.time()
            conn.execute("UPDATE api_keys SET revoked_at = %s WHERE id = %s", (revoked_at, key.id))
        return replace(key, revoked_at=revoked_at)

    def active_key_hashes(self) -> dict[str, str]:
        """See :meth:`RecordStore.active_key_hashes`."""
        with self._use("load active API keys") as conn:
            rows = conn.execute("SELECT key_hash, id FROM api_keys WHERE revoked_at IS NULL").fetchall()
        return {str(key_hash): str(key_id) for key_hash, key_id in rows}

    def ping(self) -> None:
        """See :meth:`RecordStore.ping`."""
        with self._use("write the health row", write=True) as conn:
            conn.execute(
                "INSERT INTO health (id, checked_at) VALUES (1, %s) "
                "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                (time.time(),),
            )

    def close(self) -> None:
        """See :meth:`RecordStore.close`."""
        with self._lock:
            self._closed = True
            self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"


def _one_line(exc: BaseException) -> str:
    # libpq messages span lines ("...failed\n\tIs the server running..."): keep them on one.
    return " ".join(str(exc).split())

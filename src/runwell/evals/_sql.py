"""One small SQL connection seam over SQLite and PostgreSQL, for the eval run store.

The record store owns the schema (migration 4, ``eval_runs``); this module only opens a second
connection to the same database, so that eval runs never grow the record store's interface.
Statements are written with ``?`` placeholders and translated for psycopg. Every database error
becomes a :class:`~runwell.errors.StoreError` that names the action and the store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from runwell.errors import ConfigError, StoreError
from runwell.store.url import mask_url, open_store, resolve_sqlite_path

__all__ = ["Connection", "connect"]


class Connection(Protocol):
    """A locked connection: reads, and writes in one transaction each."""

    url: str
    """Where the database is, password masked."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one SELECT."""
        ...

    @contextmanager
    def transaction(self, action: str) -> Iterator[_Executor]:
        """Run statements in one transaction; ``action`` names it in errors."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class _Executor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def connect(url: str | None, *, base_dir: Path) -> Connection:
    """Open (migrating it first, through the record store) the database ``url`` names."""
    open_store(url, base_dir=base_dir).close()  # applies pending migrations, eval_runs included
    if url is not None and url.strip().lower().startswith(("postgresql://", "postgres://")):
        return _Postgres(url.strip())
    path = resolve_sqlite_path(url, base_dir=base_dir)
    if path == ":memory:":
        raise ConfigError("eval runs need a database that outlives the command: use a file or PostgreSQL")
    return _SQLite(path)


class _SQLite:
    def __init__(self, path: str) -> None:
        self.url = f"sqlite:///{path}"
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the eval run store {self.url}: {exc}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return [tuple(row) for row in self._db.execute(sql, tuple(params)).fetchall()]
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read eval runs in {self.url}: {exc}") from exc

    @contextmanager
    def transaction(self, action: str) -> Iterator[_Executor]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield _SQLiteExecutor(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot {action} in {self.url}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _SQLiteExecutor:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._db.execute(sql, tuple(params)).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, [tuple(r) for r in rows])


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _Postgres:
    def __init__(self, dsn: str) -> None:
        import psycopg

        self.url = mask_url(dsn)
        self._psycopg = psycopg
        self._lock = threading.Lock()
        try:
            self._conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the eval run store {self.url}: {_one_line(exc)}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return [tuple(row) for row in self._conn.execute(_pg(sql), tuple(params)).fetchall()]
            except self._psycopg.Error as exc:
                raise StoreError(f"cannot read eval runs in {self.url}: {_one_line(exc)}") from exc

    @contextmanager
    def transaction(self, action: str) -> Iterator[_Executor]:
        with self._lock:
            try:
                with self._conn.transaction():
                    yield _PostgresExecutor(self._conn)
            except self._psycopg.Error as exc:
                raise StoreError(f"cannot {action} in {self.url}: {_one_line(exc)}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _PostgresExecutor:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._conn.execute(_pg(sql), tuple(params)).rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_pg(sql), [tuple(r) for r in rows])


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())

"""The one database layer under everything runwell stores: connections, transactions, errors.

Request records, API keys, the audit log, eval runs and the run-time state (flags, budgets,
rollouts, incidents) are table code on top of :class:`Database`. It owns what those must not repeat:

- **Dialects.** SQL is written once with ``?`` placeholders; on PostgreSQL they become ``%s``.
  Table code branches on :attr:`Database.dialect` only where the two databases really differ
  (bulk loading, prefix search).
- **Connections.** A small pool, so the recorder's writer, the audit writer and request handlers
  (through ``asyncio.to_thread``) never queue behind one connection. A PostgreSQL connection that
  broke (server restart, network blip) is dropped and replaced on the next checkout.
- **Transactions.** :meth:`Database.transaction` commits on success and rolls back on any
  exception. On SQLite every write transaction is ``BEGIN IMMEDIATE`` (a deferred one that later
  upgrades fails at once with SQLITE_BUSY, ignoring the busy timeout), and the writers of one process
  take turns on a lock rather than sleeping in SQLite's busy handler, an ``urgent`` one (a client
  waits on it) before the others (see ``_turns``); ``lock=KEY`` additionally
  serialises writers of one kind across processes on PostgreSQL (``pg_advisory_xact_lock``), which
  SQLite's single write lock already does.
- **Errors.** Every driver error becomes a :class:`~runwell.errors.StoreError` naming the action and
  the database: :class:`~runwell.errors.StoreConflict` for a unique key taken,
  :class:`~runwell.errors.StoreDataError` for a value the database refuses (never worth retrying),
  plain ``StoreError`` for outages (worth retrying).
- **Schema.** :meth:`Database.open` applies pending migrations (``runwell.store.migrations``).

The layer is synchronous on purpose: the gateway calls it from writer threads or through
``asyncio.to_thread``, never on the event loop, and the CLI calls it directly.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runwell.errors import StoreConflict, StoreDataError, StoreError
from runwell.store._turns import WriteTurns
from runwell.store._url import DatabaseURL, Dialect, parse_url
from runwell.store.migrations import (
    MIGRATIONS,
    MIGRATIONS_TABLE,
    POSTGRES_LOCK_KEY,
    Migration,
    pending_migrations,
    sqlite_statements,
)

__all__ = ["Database", "Tx"]

Row = tuple[Any, ...]
Params = Sequence[Any]


class Tx:
    """Statements inside one transaction (or, for reads outside one, on one connection).

    Each statement's driver errors become the StoreError family at once, so table code can catch
    :class:`~runwell.errors.StoreConflict` inside a transaction. After an error the whole
    transaction is rolled back when the block ends.
    """

    __slots__ = ("_action", "_conn", "_db")

    def __init__(self, db: Database, conn: Any, action: str) -> None:
        self._db = db
        self._conn = conn
        self._action = action

    def urgent_waiting(self) -> bool:
        """Whether an urgent writer of this process waits for this (SQLite) transaction to end.

        A long writer checks it between steps and commits early, so the waiting one goes next.
        """
        return self._db._write_turns.urgent_waiting

    @property
    def dialect(self) -> Dialect:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    def _fail(self, exc: Exception) -> Exception:
        return self._db.translate(exc, self._action)

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        try:
            cursor = self._conn.execute(self._db.sql(sql), tuple(params))
        except Exception as exc:
            raise self._fail(exc) from exc
        return int(cursor.rowcount)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement once per row (pipelined on PostgreSQL)."""
        try:
            if self._db.dialect == "sqlite":
                self._conn.executemany(sql, rows)
                return
            with self._conn.cursor() as cur:
                cur.executemany(self._db.sql(sql), rows)
        except Exception as exc:
            raise self._fail(exc) from exc

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Every row of one ``SELECT``."""
        try:
            return [tuple(row) for row in self._conn.execute(self._db.sql(sql), tuple(params)).fetchall()]
        except Exception as exc:
            raise self._fail(exc) from exc

    def query_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of one ``SELECT``, or ``None``."""
        try:
            row = self._conn.execute(self._db.sql(sql), tuple(params)).fetchone()
        except Exception as exc:
            raise self._fail(exc) from exc
        return None if row is None else tuple(row)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Params]) -> None:
        """Bulk-insert ``rows`` (``COPY`` on PostgreSQL, one prepared ``INSERT`` on SQLite)."""
        names = ", ".join(columns)
        try:
            if self._db.dialect == "sqlite":
                marks = ", ".join("?" for _ in columns)
                self._conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
                return
            with self._conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except Exception as exc:
            raise self._fail(exc) from exc

    def script(self, script: str) -> None:
        """Run several statements (a migration) with no parameters."""
        try:
            if self._db.dialect == "sqlite":
                for statement in sqlite_statements(script):
                    self._conn.execute(statement)
            else:
                self._conn.execute(script.encode("utf-8"))
        except Exception as exc:
            raise self._fail(exc) from exc


class Database:
    """A pool of connections to one SQLite file or PostgreSQL database; see the module docstring.

    Build one with :meth:`open`. Thread-safe; each connection serves one thread at a time.
    """

    def __init__(
        self,
        url: DatabaseURL,
        *,
        pool_size: int = 4,
        connect_timeout_s: float = 5.0,
        busy_timeout_s: float = 10.0,
        pool_timeout_s: float = 30.0,
        synchronous: str = "NORMAL",
        wal_autocheckpoint: int = 1000,
    ) -> None:
        if synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
            raise StoreError(f"synchronous={synchronous!r}: use NORMAL, FULL or EXTRA (OFF is not durable)")
        self._target = url.target
        self.url = url.display
        """Where the database is, any password masked (safe to print)."""
        self.dialect: Dialect = url.dialect
        # An in-memory SQLite database exists once per connection: a pool would split it.
        memory = url.dialect == "sqlite" and url.target == ":memory:"
        self._pool_size = 1 if memory else max(1, pool_size)
        self._connect_timeout_s = connect_timeout_s
        self._busy_timeout_s = busy_timeout_s
        self._pool_timeout_s = pool_timeout_s
        self._synchronous = synchronous.upper()
        self._wal_autocheckpoint = wal_autocheckpoint
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._write_turns = WriteTurns()
        self._slots = threading.BoundedSemaphore(self._pool_size)
        self._closed = False
        self._pg_sql: dict[str, str] = {}
        self._psycopg: Any = None
        if url.dialect == "postgresql":
            import psycopg  # loaded only for PostgreSQL: the SQLite CLI path never pays for libpq

            self._psycopg = psycopg

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        base_dir: Path,
        migrations: Sequence[Migration] = MIGRATIONS,
        **options: Any,
    ) -> Database:
        """Open (creating and migrating as needed) the database ``url`` names.

        ``None`` or blank means the embedded SQLite file ``base_dir/.runwell/runwell.db``, created
        readable by its owner only (it holds prompts and completions). Raises ConfigError for a URL
        of an unknown kind and StoreError when the database cannot be reached or migrated.
        """
        parsed = parse_url(url, base_dir=base_dir)
        if parsed.dialect == "sqlite" and parsed.target != ":memory:":
            _create_private_file(Path(parsed.target))
        db = cls(parsed, **options)
        try:
            db.migrate(migrations)
        except BaseException:
            db.close()
            raise
        return db

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    # -- SQL ---------------------------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """``statement`` in this database's placeholder style (``?`` becomes ``%s`` for psycopg)."""
        if self.dialect == "sqlite":
            return statement
        translated = self._pg_sql.get(statement)
        if translated is None:
            translated = statement.replace("%", "%%").replace("?", "%s")
            self._pg_sql[statement] = translated
        return translated

    def query(self, sql: str, params: Params = (), *, action: str) -> list[Row]:
        """Every row of one ``SELECT`` (outside any transaction)."""
        with self.connection(action) as tx:
            return tx.query(sql, params)

    def query_one(self, sql: str, params: Params = (), *, action: str) -> Row | None:
        """The first row of one ``SELECT``, or ``None``."""
        with self.connection(action) as tx:
            return tx.query_one(sql, params)

    @contextmanager
    def connection(self, action: str) -> Iterator[Tx]:
        """A pooled connection for reads (autocommit); ``action`` names the work in errors."""
        conn = self._checkout(action)
        healthy = False
        try:
            with self._errors(action, conn):
                yield Tx(self, conn, action)
            healthy = True
        except StoreError as exc:
            healthy = isinstance(exc, StoreConflict | StoreDataError)
            raise
        except Exception:
            healthy = True  # the caller's own error: nothing is wrong with the connection
            raise
        finally:
            self._checkin(conn, healthy)

    @contextmanager
    def transaction(self, action: str, *, lock: int | None = None, urgent: bool = False) -> Iterator[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``lock`` is a PostgreSQL advisory lock key held until the end of the transaction, so that
        writers of one kind in several processes take turns (SQLite's write lock already does).
        ``urgent`` (SQLite): someone waits on this write, so it goes before this process's other
        waiting writers.
        """
        conn = self._checkout(action)
        healthy = False
        try:
            with self._errors(action, conn):
                if self.dialect == "sqlite":
                    # SQLite has one writer at a time. Writers of this process take turns on a
                    # lock, woken the moment it is free; left to SQLite's busy handler they would
                    # sleep in steps of milliseconds (an audit commit behind a record batch took
                    # 3-7 ms). Other processes still wait on the busy timeout.
                    with self._write_turns.turn(urgent=urgent):
                        conn.execute("BEGIN IMMEDIATE")
                        try:
                            yield Tx(self, conn, action)
                        except BaseException:
                            if conn.in_transaction:
                                conn.execute("ROLLBACK")
                            raise
                        conn.execute("COMMIT")
                else:
                    with conn.transaction():
                        if lock is not None:
                            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                        yield Tx(self, conn, action)
            healthy = True
        except StoreError as exc:
            healthy = isinstance(exc, StoreConflict | StoreDataError)
            raise
        except Exception:
            healthy = True  # the caller's own error: rolled back, the connection is fine
            raise
        finally:
            self._checkin(conn, healthy)

    def checkpoint_wal(self) -> None:
        """Fold the SQLite write-ahead log into the database file without blocking writers.

        A server opens its database with ``wal_autocheckpoint=0`` and calls this from a background
        job, so that no request's commit pays for a checkpoint. Nothing to do on PostgreSQL.
        """
        if self.dialect == "sqlite":
            with self.connection("checkpoint the write-ahead log") as tx:
                tx.query("PRAGMA wal_checkpoint(PASSIVE)")

    def migrate(self, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        """Apply the migrations this database has not recorded yet, in one transaction.

        Processes opening the same new database at once take turns (SQLite's write lock, an
        advisory lock on PostgreSQL): one migrates, the others then find nothing left to do.
        """
        with self.transaction("apply schema migrations", lock=POSTGRES_LOCK_KEY) as tx:
            tx.script(MIGRATIONS_TABLE[self.dialect])
            rows = tx.query("SELECT number, name FROM runwell_migrations ORDER BY number")
            applied = [(int(n), str(name)) for n, name in rows]
            for migration in pending_migrations(applied, migrations, where=self.url):
                tx.script(migration.sql(self.dialect))
                tx.execute(
                    "INSERT INTO runwell_migrations (number, name, applied_at) VALUES (?, ?, ?)",
                    (migration.number, migration.name, time.time()),
                )

    def close(self) -> None:
        """Close every idle connection; connections in use are closed when returned."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)

    # -- the pool ------------------------------------------------------------------------------

    def _checkout(self, action: str) -> Any:
        if self._closed:
            raise StoreError(f"the database {self.url} is closed; cannot {action}")
        if not self._slots.acquire(timeout=self._pool_timeout_s):
            raise StoreError(
                f"no free connection to {self.url} within {self._pool_timeout_s:g}s "
                f"({self._pool_size} in use); cannot {action}"
            )
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is not None and self._broken(conn):
                _close_quietly(conn)
                conn = None
            return conn if conn is not None else self._connect(action)
        except BaseException:
            self._slots.release()
            raise

    def _checkin(self, conn: Any, healthy: bool) -> None:
        try:
            if healthy and not self._closed and not self._broken(conn):
                with self._lock:
                    self._idle.append(conn)
                return
            _close_quietly(conn)
        finally:
            self._slots.release()

    def _broken(self, conn: Any) -> bool:
        if self.dialect == "sqlite":
            return False
        return bool(conn.closed or conn.broken)

    def _connect(self, action: str) -> Any:
        if self.dialect == "sqlite":
            try:
                conn = sqlite3.connect(
                    self._target,
                    timeout=self._busy_timeout_s,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
                conn.execute(f"PRAGMA wal_autocheckpoint = {int(self._wal_autocheckpoint)}")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot open the SQLite database {self.url}: {exc}. Check that its directory "
                    "exists, that you may write there, and that the file is a runwell database"
                ) from exc
            return conn
        psycopg = self._psycopg
        try:
            return psycopg.connect(
                self._target, autocommit=True, connect_timeout=max(1, round(self._connect_timeout_s))
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {self.url} ({_one_line(exc)}) to {action}. Check "
                "that the server is running and reachable, that the user and password are right, "
                "and that the database exists (createdb NAME)"
            ) from exc

    @contextmanager
    def _errors(self, action: str, conn: Any) -> Iterator[None]:
        """Turn driver errors into the StoreError family, naming the action and the database."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            mapped = self.translate(exc, action)
            if mapped is exc:
                raise
            raise mapped from exc

    def translate(self, exc: Exception, action: str) -> Exception:
        """The StoreError for a driver error (``exc`` itself when it is not one)."""
        if isinstance(exc, sqlite3.IntegrityError):
            text = str(exc)
            kind = StoreConflict if "UNIQUE" in text or "PRIMARY KEY" in text else StoreDataError
            return kind(f"cannot {action} in {self.url}: {exc}")
        if isinstance(exc, sqlite3.DataError | sqlite3.InterfaceError | OverflowError):
            return StoreDataError(f"cannot {action} in {self.url}: {exc}")
        if isinstance(exc, sqlite3.Error):
            return StoreError(f"cannot {action} in {self.url}: {exc}")
        psycopg = self._psycopg
        if psycopg is None:
            return exc
        if isinstance(exc, ValueError):
            # psycopg refuses some values before sending them (NUL characters in text).
            return StoreDataError(f"cannot {action} in {self.url}: {exc}")
        if not isinstance(exc, psycopg.Error):
            return exc
        if isinstance(exc, psycopg.errors.UniqueViolation):
            return StoreConflict(f"cannot {action} in {self.url}: {_one_line(exc)}")
        if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
            return StoreDataError(f"cannot {action} in {self.url}: {_one_line(exc)}")
        return StoreError(f"cannot {action} in {self.url}: {_one_line(exc)}")


def _create_private_file(path: Path) -> None:
    """Create the database file (and its directory) readable by the owner only, if missing.

    The file holds prompts, completions and key hashes; SQLite gives its ``-wal`` and ``-shm``
    files the database file's permissions.
    """
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(mode=0o700, parents=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        if path.parent.is_dir():
            return  # the database exists already: leave its permissions as its owner set them
        raise StoreError(
            f"cannot create the SQLite database {path}: {path.parent} is a file, not a directory"
        ) from None
    except OSError as exc:
        raise StoreError(
            f"cannot create the SQLite database {path}: {exc}. Check the path (--db/RUNWELL_DB, "
            "--dir) and your permissions there"
        ) from exc
    os.close(fd)


def _close_quietly(conn: Any) -> None:
    # Closing a broken connection may fail; there is nothing left to save.
    with contextlib.suppress(Exception):
        conn.close()


def _one_line(exc: BaseException) -> str:
    # libpq messages span lines ("...failed\n\tIs the server running..."): keep them on one.
    return " ".join(str(exc).split())

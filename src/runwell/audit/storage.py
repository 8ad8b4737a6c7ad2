"""Where the audit log's leaves and checkpoints live: the storage seam and its SQLite backend.

A storage is deliberately dumb: it stores rows and answers range reads. The one rule it
enforces is the sequence: :meth:`AuditStorage.append_leaves` writes a batch at
``start_index`` only if that is exactly the log's current end, atomically, so any number of
writers (threads or processes) build one dense, ordered log. A writer that loses the race gets
:class:`~runwell.audit.errors.SequenceConflict`, catches up and retries with new indices.

``SqliteAuditStorage`` takes SQLite's write lock with ``BEGIN IMMEDIATE`` before reading the
log's end; ``PostgresAuditStorage`` (``runwell.audit.postgres``) takes a transaction-scoped
advisory lock. Either way the check and the insert are one transaction, and one commit (one
WAL write) covers a whole batch: that is the group commit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from runwell.audit.errors import AuditError, SequenceConflict
from runwell.audit.schema import SQLITE_DDL

__all__ = ["AuditStorage", "SqliteAuditStorage", "StoredCheckpoint"]

_INSERT = "INSERT INTO audit_entries (idx, leaf, leaf_hash, request_id, created_at) VALUES (?, ?, ?, ?, ?)"


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """One row of ``audit_checkpoints``: the signed note and the size and root it claims."""

    size: int
    root: bytes
    note: str
    created_at: float


class AuditStorage(Protocol):
    """The storage seam of :class:`runwell.audit.log.AuditLog` and :func:`runwell.audit.verify.verify_log`."""

    def ensure_schema(self) -> None:
        """Create the audit tables if they do not exist (idempotent)."""
        ...

    def size(self) -> int:
        """The next index to append at: one past the highest stored ``idx`` (0 when empty)."""
        ...

    def append_leaves(
        self,
        start_index: int,
        leaves: Sequence[bytes],
        leaf_hashes: Sequence[bytes],
        *,
        request_ids: Sequence[str | None] | None = None,
        created_at: float | None = None,
    ) -> None:
        """Durably store ``leaves`` at ``start_index, start_index + 1, ...`` in one transaction.

        Raises :class:`SequenceConflict` (storing nothing) when ``start_index`` is not the
        current :meth:`size`.
        """
        ...

    def read_leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes of the rows with ``start <= idx < end``, in ``idx`` order."""
        ...

    def read_leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Recorded leaf hashes of the rows with ``start <= idx < end``, in ``idx`` order."""
        ...

    def find_request(self, request_id: str) -> list[int]:
        """Indices of the entries recorded for ``request_id``, ascending."""
        ...

    def save_checkpoint(self, size: int, root: bytes, note: str, created_at: float) -> None:
        """Keep a signed checkpoint; a repeat of the same size and root is a no-op.

        Raises :class:`AuditError` when a checkpoint of that size with another root exists:
        two different trees of one size means the log forked.
        """
        ...

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, by ascending size."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint with the largest size, if any."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def fork_error(size: int, root: bytes, existing: bytes) -> AuditError:
    """The error for a second, different checkpoint at a size already checkpointed."""
    return AuditError(
        f"audit log fork: a checkpoint of size {size} already exists with root {existing.hex()}, "
        f"now asked to store root {root.hex()}; the log was rewritten. Stop writers and run verify"
    )


class SqliteAuditStorage:
    """An :class:`AuditStorage` in a SQLite database (WAL mode).

    ``synchronous=NORMAL`` (the default) makes every committed batch survive a crash or kill
    of the process; pass ``synchronous="FULL"`` to also survive power loss at the price of an
    fsync per batch. One connection is shared by this object's threads behind a lock; other
    processes open their own and SQLite's write lock orders them.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | Callable[[], sqlite3.Connection],
        *,
        synchronous: str = "NORMAL",
        busy_timeout_s: float = 10.0,
    ) -> None:
        if synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
            raise AuditError(f"synchronous={synchronous!r}: use NORMAL, FULL or EXTRA (OFF is not durable)")
        if callable(target):
            self._conn = target()
            self.where = "sqlite connection factory"
        else:
            self.where = os.fspath(target)
            self._conn = sqlite3.connect(self.where, check_same_thread=False)
        # Autocommit mode: this class issues BEGIN/COMMIT itself, so a batch is one transaction.
        self._conn.isolation_level = None
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteAuditStorage({self.where!r})"

    @contextmanager
    def _use(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise AuditError(f"audit storage {self.where}: cannot {action}: {exc}") from exc

    def ensure_schema(self) -> None:
        """Create the audit tables, index and append-only triggers if missing."""
        with self._use("create the audit tables") as conn:
            conn.executescript("BEGIN IMMEDIATE;" + SQLITE_DDL + "COMMIT;")

    def size(self) -> int:
        """One past the highest ``idx``."""
        with self._use("read the log size") as conn:
            row = conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_entries").fetchone()
        return int(row[0])

    def append_leaves(
        self,
        start_index: int,
        leaves: Sequence[bytes],
        leaf_hashes: Sequence[bytes],
        *,
        request_ids: Sequence[str | None] | None = None,
        created_at: float | None = None,
    ) -> None:
        """Store a batch in one transaction, if ``start_index`` is still the log's end."""
        if len(leaves) != len(leaf_hashes) or (request_ids is not None and len(request_ids) != len(leaves)):
            raise AuditError("append_leaves: leaves, leaf_hashes and request_ids must have the same length")
        stamp = time.time() if created_at is None else created_at
        ids = request_ids if request_ids is not None else [None] * len(leaves)
        rows = [(start_index + i, leaves[i], leaf_hashes[i], ids[i], stamp) for i in range(len(leaves))]
        with self._use("append audit entries") as conn:
            # IMMEDIATE takes the write lock before the read, so no other writer can slip in
            # between checking the end of the log and appending after it.
            conn.execute("BEGIN IMMEDIATE")
            try:
                actual = int(
                    conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_entries").fetchone()[0]
                )
                if actual != start_index:
                    raise SequenceConflict(start_index, actual)
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def read_leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes with ``start <= idx < end``."""
        with self._use("read audit entries") as conn:
            rows = conn.execute(
                "SELECT leaf FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def read_leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Recorded leaf hashes with ``start <= idx < end``."""
        with self._use("read audit leaf hashes") as conn:
            rows = conn.execute(
                "SELECT leaf_hash FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def find_request(self, request_id: str) -> list[int]:
        """Indices of the entries for one request."""
        with self._use("look up a request") as conn:
            rows = conn.execute(
                "SELECT idx FROM audit_entries WHERE request_id = ? ORDER BY idx", (request_id,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def save_checkpoint(self, size: int, root: bytes, note: str, created_at: float) -> None:
        """Keep a checkpoint (idempotent for the same size and root)."""
        with self._use("save a checkpoint") as conn:
            cursor = conn.execute(
                "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (size) DO NOTHING",
                (size, root, note, created_at),
            )
            if cursor.rowcount == 0:
                existing = bytes(
                    conn.execute("SELECT root FROM audit_checkpoints WHERE size = ?", (size,)).fetchone()[0]
                )
                if existing != root:
                    raise fork_error(size, root, existing)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """All checkpoints by size."""
        with self._use("read checkpoints") as conn:
            rows = conn.execute(
                "SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size"
            ).fetchall()
        return [StoredCheckpoint(int(s), bytes(r), str(n), float(c)) for s, r, n, c in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The largest checkpoint."""
        with self._use("read the latest checkpoint") as conn:
            row = conn.execute(
                "SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        return (
            None if row is None else StoredCheckpoint(int(row[0]), bytes(row[1]), str(row[2]), float(row[3]))
        )

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

"""The PostgreSQL backend of the audit log, shared by every gateway replica and worker.

Several processes append to one log. Each batch is one transaction that first takes a
transaction-scoped advisory lock (:data:`~runwell.audit.schema.POSTGRES_SEQUENCER_LOCK`),
then reads ``max(idx) + 1`` and inserts the batch right after it, then commits (which releases
the lock). So batches from all processes are totally ordered and indices stay dense; the lock is
held only for one read and one ``COPY``, and a crashed process cannot leave it behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from runwell.audit.errors import AuditError, SequenceConflict
from runwell.audit.schema import POSTGRES_DDL, POSTGRES_SEQUENCER_LOCK
from runwell.audit.storage import StoredCheckpoint, fork_error

__all__ = ["PostgresAuditStorage"]


class PostgresAuditStorage:
    """An :class:`~runwell.audit.storage.AuditStorage` in PostgreSQL (one connection per object).

    ``conninfo`` is any libpq connection string or URL; to keep the tables in a schema of their
    own, add ``options=-csearch_path=NAME``.
    """

    def __init__(self, conninfo: str, *, connect_timeout_s: int = 5) -> None:
        self._conninfo = conninfo
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._conn = self._connect()

    def __repr__(self) -> str:
        return "PostgresAuditStorage(...)"  # the conninfo may hold a password

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            return psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._connect_timeout_s)
        except psycopg.Error as exc:
            raise AuditError(
                f"cannot connect to the PostgreSQL audit storage: {str(exc).strip()}; check that the "
                "server runs and the connection string is right"
            ) from exc

    @contextmanager
    def _use(self, action: str, *, write: bool = False) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        with self._lock:
            if self._conn.closed:
                self._conn = self._connect()
            try:
                if write:
                    with self._conn.transaction():
                        yield self._conn
                else:
                    yield self._conn
            except psycopg.Error as exc:
                raise AuditError(f"PostgreSQL audit storage: cannot {action}: {str(exc).strip()}") from exc

    def ensure_schema(self) -> None:
        """Create the audit tables, index and append-only triggers if missing."""
        with self._use("create the audit tables", write=True) as conn:
            # Replicas starting together would race on CREATE ... IF NOT EXISTS; serialise them.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_SEQUENCER_LOCK,))
            conn.execute(POSTGRES_DDL.encode("utf-8"))

    def size(self) -> int:
        """One past the highest ``idx``."""
        with self._use("read the log size") as conn:
            row = conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_entries").fetchone()
        return int(row[0]) if row else 0

    def append_leaves(
        self,
        start_index: int,
        leaves: Sequence[bytes],
        leaf_hashes: Sequence[bytes],
        *,
        request_ids: Sequence[str | None] | None = None,
        created_at: float | None = None,
    ) -> None:
        """Store a batch in one transaction under the sequencer lock, if ``start_index`` is the end."""
        if len(leaves) != len(leaf_hashes) or (request_ids is not None and len(request_ids) != len(leaves)):
            raise AuditError("append_leaves: leaves, leaf_hashes and request_ids must have the same length")
        stamp = time.time() if created_at is None else created_at
        ids = request_ids if request_ids is not None else [None] * len(leaves)
        with self._use("append audit entries", write=True) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_SEQUENCER_LOCK,))
            row = conn.execute("SELECT coalesce(max(idx) + 1, 0) FROM audit_entries").fetchone()
            actual = int(row[0]) if row else 0
            if actual != start_index:
                raise SequenceConflict(start_index, actual)
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY audit_entries (idx, leaf, leaf_hash, request_id, created_at) FROM STDIN"
                ) as copy,
            ):
                for i, leaf in enumerate(leaves):
                    copy.write_row((start_index + i, leaf, leaf_hashes[i], ids[i], stamp))

    def read_leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes with ``start <= idx < end``."""
        with self._use("read audit entries") as conn:
            rows = conn.execute(
                "SELECT leaf FROM audit_entries WHERE idx >= %s AND idx < %s ORDER BY idx", (start, end)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def read_leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Recorded leaf hashes with ``start <= idx < end``."""
        with self._use("read audit leaf hashes") as conn:
            rows = conn.execute(
                "SELECT leaf_hash FROM audit_entries WHERE idx >= %s AND idx < %s ORDER BY idx", (start, end)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def find_request(self, request_id: str) -> list[int]:
        """Indices of the entries for one request."""
        with self._use("look up a request") as conn:
            rows = conn.execute(
                "SELECT idx FROM audit_entries WHERE request_id = %s ORDER BY idx", (request_id,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def save_checkpoint(self, size: int, root: bytes, note: str, created_at: float) -> None:
        """Keep a checkpoint (idempotent for the same size and root)."""
        with self._use("save a checkpoint", write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (size) DO NOTHING",
                (size, root, note, created_at),
            )
            if cursor.rowcount == 0:
                row = conn.execute("SELECT root FROM audit_checkpoints WHERE size = %s", (size,)).fetchone()
                existing = bytes(row[0]) if row else b""
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
        if row is None:
            return None
        size, root, note, created = row
        return StoredCheckpoint(int(size), bytes(root), str(note), float(created))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

"""Where the audit log's leaves and checkpoints live: the storage seam and its one implementation.

A storage is deliberately dumb: it stores rows and answers range reads. The one rule it enforces
is the sequence: :meth:`AuditStorage.append_leaves` writes a batch at ``start_index`` only if that
is exactly the log's current end, atomically, so any number of writers (threads or processes)
build one dense, ordered log. A writer that loses the race gets
:class:`~runwell.audit.errors.SequenceConflict`, catches up and retries with new indices.

:class:`SqlAuditStorage` is the audit log's table code on the project's
:class:`~runwell.store.Database` (SQLite or PostgreSQL). The check of the log's end and the insert
are one transaction that holds the database's write lock (SQLite's, or a PostgreSQL advisory lock
shared by every writer), and one commit covers a whole batch: that is the group commit. A state
change can ride in the same transaction (``also``), so the change and its entry are stored
together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runwell.audit.errors import AuditError, SequenceConflict
from runwell.audit.schema import POSTGRES_SEQUENCER_LOCK
from runwell.errors import StoreConflict, StoreDataError, StoreError
from runwell.store import Database, Tx

__all__ = ["AuditStorage", "BuiltLeaf", "SqlAuditStorage", "StoredCheckpoint", "audit_storage"]

BuiltLeaf = tuple[bytes, bytes, str | None]
"""``(leaf bytes, leaf hash, request-id lookup key)`` of one entry, built inside a transaction."""

_SIZE = "SELECT coalesce(max(idx) + 1, 0) FROM audit_entries"
_ENTRY_COLUMNS = ("idx", "leaf", "leaf_hash", "request_id", "created_at")


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """One row of ``audit_checkpoints``: the signed note and the size and root it claims."""

    size: int
    root: bytes
    note: str
    created_at: float


class AuditStorage(Protocol):
    """The storage seam of :class:`runwell.audit.log.AuditLog` and :func:`runwell.audit.verify.verify_log`."""

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

    def append_one(
        self, start_index: int, build: Callable[[Tx], BuiltLeaf | None], *, created_at: float
    ) -> BuiltLeaf | None:
        """Store the leaf ``build(tx)`` returns at ``start_index``, in the transaction ``build`` ran in.

        ``build`` makes a state change in ``tx`` and returns its entry's leaf, or ``None`` when
        nothing changed (then nothing is appended). The change and its entry commit together or
        not at all. Raises :class:`SequenceConflict` as :meth:`append_leaves` does.
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
        """Release connections (only those this storage opened itself)."""
        ...


def fork_error(size: int, root: bytes, existing: bytes) -> AuditError:
    """The error for a second, different checkpoint at a size already checkpointed."""
    return AuditError(
        f"audit log fork: a checkpoint of size {size} already exists with root {existing.hex()}, "
        f"now asked to store root {root.hex()}; the log was rewritten. Stop writers and run verify"
    )


class SqlAuditStorage:
    """An :class:`AuditStorage` in the project's database (the tables of migration 3).

    Every database error becomes an :class:`AuditError` naming what could not be done; a
    :class:`SequenceConflict` passes through for the log to catch up on.
    """

    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        self._db = db
        self._owns_db = owns_db

    def __repr__(self) -> str:
        return f"SqlAuditStorage({self._db.url!r})"

    @property
    def where(self) -> str:
        """The database, password masked."""
        return self._db.url

    def _query(self, sql: str, params: Sequence[Any], action: str) -> list[tuple[Any, ...]]:
        try:
            return self._db.query(sql, params, action=action)
        except StoreError as exc:
            raise AuditError(f"audit storage: {exc}") from exc

    def size(self) -> int:
        """One past the highest ``idx``."""
        rows = self._query(_SIZE, (), "read the audit log's size")
        return int(rows[0][0]) if rows else 0

    def append_leaves(
        self,
        start_index: int,
        leaves: Sequence[bytes],
        leaf_hashes: Sequence[bytes],
        *,
        request_ids: Sequence[str | None] | None = None,
        created_at: float | None = None,
    ) -> None:
        """Store a batch in one transaction under the write lock, if ``start_index`` is the end."""
        if len(leaves) != len(leaf_hashes) or (request_ids is not None and len(request_ids) != len(leaves)):
            raise AuditError("append_leaves: leaves, leaf_hashes and request_ids must have the same length")
        stamp = time.time() if created_at is None else created_at
        ids = request_ids if request_ids is not None else [None] * len(leaves)
        rows = [(start_index + i, leaf, leaf_hashes[i], ids[i], stamp) for i, leaf in enumerate(leaves)]
        try:
            # Urgent: answers are held back until their entries are durable.
            with self._db.transaction(
                "append audit entries", lock=POSTGRES_SEQUENCER_LOCK, urgent=True
            ) as tx:
                row = tx.query_one(_SIZE)
                actual = int(row[0]) if row else 0
                if actual != start_index:
                    raise SequenceConflict(start_index, actual)
                tx.copy_rows("audit_entries", _ENTRY_COLUMNS, rows)
        except StoreError as exc:
            raise AuditError(f"audit storage: {exc}") from exc

    def append_one(
        self, start_index: int, build: Callable[[Tx], BuiltLeaf | None], *, created_at: float
    ) -> BuiltLeaf | None:
        """See :meth:`AuditStorage.append_one`."""
        try:
            with self._db.transaction("record a state change", lock=POSTGRES_SEQUENCER_LOCK) as tx:
                row = tx.query_one(_SIZE)
                actual = int(row[0]) if row else 0
                if actual != start_index:
                    raise SequenceConflict(start_index, actual)
                built = build(tx)
                if built is not None:
                    leaf, digest, request_id = built
                    tx.copy_rows(
                        "audit_entries", _ENTRY_COLUMNS, [(start_index, leaf, digest, request_id, created_at)]
                    )
        except (StoreConflict, StoreDataError):
            raise  # the change itself was refused (a name taken): the caller's error, not the log's
        except StoreError as exc:
            raise AuditError(f"audit storage: {exc}") from exc
        return built

    def read_leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes with ``start <= idx < end``."""
        rows = self._query(
            "SELECT leaf FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
            "read audit entries",
        )
        return [bytes(r[0]) for r in rows]

    def read_leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Recorded leaf hashes with ``start <= idx < end``."""
        rows = self._query(
            "SELECT leaf_hash FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end),
            "read audit leaf hashes",
        )
        return [bytes(r[0]) for r in rows]

    def find_request(self, request_id: str) -> list[int]:
        """Indices of the entries for one request."""
        rows = self._query(
            "SELECT idx FROM audit_entries WHERE request_id = ? ORDER BY idx",
            (request_id,),
            "look up a request",
        )
        return [int(r[0]) for r in rows]

    def save_checkpoint(self, size: int, root: bytes, note: str, created_at: float) -> None:
        """Keep a checkpoint (idempotent for the same size and root)."""
        try:
            with self._db.transaction("save an audit checkpoint") as tx:
                inserted = tx.execute(
                    "INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (size) DO NOTHING",
                    (size, root, note, created_at),
                )
                existing = None
                if inserted == 0:
                    row = tx.query_one("SELECT root FROM audit_checkpoints WHERE size = ?", (size,))
                    existing = bytes(row[0]) if row else b""
        except StoreError as exc:
            raise AuditError(f"audit storage: {exc}") from exc
        if existing is not None and existing != root:
            raise fork_error(size, root, existing)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """All checkpoints by size."""
        rows = self._query(
            "SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size", (), "read checkpoints"
        )
        return [StoredCheckpoint(int(s), bytes(r), str(n), float(c)) for s, r, n, c in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The largest checkpoint."""
        rows = self._query(
            "SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
            (),
            "read the latest checkpoint",
        )
        if not rows:
            return None
        size, root, note, created = rows[0]
        return StoredCheckpoint(int(size), bytes(root), str(note), float(created))

    def close(self) -> None:
        """Close the database if this storage opened it."""
        if self._owns_db:
            self._db.close()


def audit_storage(url: str | Path, *, base_dir: Path | None = None, **options: Any) -> SqlAuditStorage:
    """Open the audit storage in the database ``url`` names (a SQLite path or a PostgreSQL URL).

    For tools and tests that work on the audit log alone; the gateway shares its store's database.
    """
    try:
        db = Database.open(str(url), base_dir=base_dir or Path.cwd(), **options)
    except StoreError as exc:
        raise AuditError(f"audit storage: {exc}") from exc
    return SqlAuditStorage(db, owns_db=True)

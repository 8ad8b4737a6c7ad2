"""The append-only audit log: one sequencer, group commit, signed checkpoints, proofs.

Appending (:meth:`AuditLog.append`, :meth:`AuditLog.append_many`) is a leader/follower group
commit. Callers queue their entries; whichever caller finds no commit in flight becomes the
leader, takes *everything* queued, gives it the next indices, writes it to storage in one
transaction and wakes the others with their indices. While one batch commits the next one
gathers, so the number of transactions adapts to the load and no caller ever waits on a timer.
A call returns only once its entries are durable.

Indices are assigned against the in-memory Merkle tree's size; the storage accepts a batch only
at its current end (see ``runwell.audit.storage``). When another process got there first the
log reads the new leaves, extends its tree and retries with fresh indices, so all processes
share one linear log.

After each batch, and whenever :meth:`AuditLog.maybe_checkpoint` is called (the background
signer loop does so every second or so), a checkpoint is signed once ``policy.every_entries``
new entries or ``policy.every_seconds`` have passed since the last one. All are kept.

The API is synchronous and may block on storage: async code calls it through
``asyncio.to_thread`` or from the recorder's thread, never on the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from runwell.audit.entries import AuditEntry, entry_leaf, parse_leaf
from runwell.audit.errors import AuditError, SequenceConflict
from runwell.audit.merkle import MerkleTree, leaf_hash
from runwell.audit.note import Checkpoint, open_note, sign_note
from runwell.audit.signer import Signer, Verifier
from runwell.audit.storage import AuditStorage, BuiltLeaf
from runwell.store import Tx

__all__ = ["AuditLog", "CheckpointPolicy"]

_log = logging.getLogger(__name__)
_READ_CHUNK = 50_000
_MAX_SEQUENCE_RETRIES = 1000


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Sign a checkpoint after this many new entries or this many seconds, whichever first."""

    every_entries: int = 100
    every_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.every_entries < 1 or self.every_seconds <= 0:
            raise AuditError(
                "checkpoint policy needs every_entries >= 1 and every_seconds > 0, "
                f"got {self.every_entries} / {self.every_seconds}"
            )


class _Pending:
    """One caller's entries waiting in the group-commit queue."""

    __slots__ = ("checkpoint", "done", "entries", "error", "indices")

    def __init__(self, entries: list[AuditEntry], checkpoint: bool = True) -> None:
        self.entries = entries
        self.checkpoint = checkpoint
        self.indices: list[int] = []
        self.error: BaseException | None = None
        self.done = False


class AuditLog:
    """A signed, tamper-evident, append-only log over an :class:`AuditStorage`.

    Build it with :meth:`open`. Thread-safe; one instance per process and storage.
    """

    def __init__(
        self,
        storage: AuditStorage,
        signer: Signer,
        tree: MerkleTree,
        *,
        origin: str,
        policy: CheckpointPolicy,
        clock: Callable[[], float],
        last_checkpoint_size: int,
    ) -> None:
        self._storage = storage
        self._signer = signer
        self._tree = tree
        self.origin = origin
        self.policy = policy
        self._clock = clock
        self._tree_lock = threading.Lock()
        self._sequence_lock = threading.Lock()
        self._queue_cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leader_active = False
        self._checkpoint_lock = threading.Lock()
        self._last_checkpoint_size = last_checkpoint_size
        self._last_checkpoint_time = clock()

    @classmethod
    def open(
        cls,
        storage: AuditStorage,
        signer: Signer | str,
        *,
        origin: str | None = None,
        policy: CheckpointPolicy | None = None,
        clock: Callable[[], float] = time.time,
        previous_vkeys: Sequence[str] = (),
    ) -> AuditLog:
        """Open (creating tables if needed) the log in ``storage`` and rebuild its tree.

        The tree is rebuilt from the stored leaf hashes (fast) and checked against the latest
        stored checkpoint, verified with this signer's key or one of ``previous_vkeys`` (keys
        rotated out). A log that does not match its own signed checkpoint is refused: appending
        to it would bury the tampering. ``origin`` defaults to the signer's key name.
        """
        key = Signer.from_skey(signer) if isinstance(signer, str) else signer
        # The checkpoint is read before the entries: a checkpoint is only ever stored after the
        # entries it covers, so entries read afterwards always reach its size, however many other
        # processes are appending meanwhile.
        latest = storage.latest_checkpoint()
        size = storage.size()
        tree = MerkleTree()
        for start in range(0, size, _READ_CHUNK):
            tree.extend(storage.read_leaf_hashes(start, min(start + _READ_CHUNK, size)))
        if tree.size != size:
            raise AuditError(
                f"audit log has entries up to index {size - 1} but only {tree.size} rows: entries were "
                "removed. Run `runwell audit verify` to find the first bad index"
            )
        log_origin = origin or key.name
        last_size = 0
        if latest is not None:
            vkeys: list[Verifier | str] = [key.verifier, *previous_vkeys]
            checkpoint = Checkpoint.parse(open_note(latest.note, vkeys))
            if checkpoint.origin != log_origin:
                raise AuditError(
                    f"audit log checkpoints are for origin {checkpoint.origin!r}, not {log_origin!r}; "
                    "pass the origin this log was created with"
                )
            if checkpoint.size > size or tree.root(checkpoint.size) != checkpoint.root_hash:
                raise AuditError(
                    f"stored audit log does not match its latest signed checkpoint (size {checkpoint.size}); "
                    "refusing to append. Run `runwell audit verify` to find the first bad index"
                )
            last_size = checkpoint.size
        return cls(
            storage,
            key,
            tree,
            origin=log_origin,
            policy=policy or CheckpointPolicy(),
            clock=clock,
            last_checkpoint_size=last_size,
        )

    @property
    def size(self) -> int:
        """Entries in this process's view of the log (see :meth:`refresh`)."""
        with self._tree_lock:
            return self._tree.size

    @property
    def vkey(self) -> str:
        """The verifier key string auditors use to check checkpoints."""
        return self._signer.vkey

    def append(self, entry: AuditEntry) -> int:
        """Append one entry; returns its index once it is durable."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[AuditEntry], *, checkpoint: bool = True) -> list[int]:
        """Append entries in order, contiguously; returns their indices once durable.

        ``checkpoint=False`` leaves signing a due checkpoint to the caller (:meth:`maybe_checkpoint`),
        so that a caller waiting on the entries does not also wait on the signature.
        """
        pending = _Pending(list(entries), checkpoint)
        if not pending.entries:
            return []
        batch: list[_Pending] = []
        with self._queue_cond:
            self._queue.append(pending)
            while not pending.done and self._leader_active:
                self._queue_cond.wait()
            if not pending.done:
                # No commit in flight and ours still queued: lead, taking the whole queue.
                self._leader_active = True
                batch, self._queue = self._queue, []
        if not pending.done:
            try:
                self._commit(batch)
            finally:
                with self._queue_cond:
                    self._leader_active = False
                    self._queue_cond.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.indices

    def _commit(self, batch: list[_Pending]) -> None:
        """Write a batch (leader only); every item ends done, with indices or an error."""
        entries = [entry for item in batch for entry in item.entries]
        try:
            start = self._write(entries)
        except BaseException as exc:
            for item in batch:
                item.error, item.done = exc, True
            raise
        for item in batch:
            item.indices = list(range(start, start + len(item.entries)))
            item.done = True
            start += len(item.entries)
        if not any(item.checkpoint for item in batch):
            return
        try:
            self.maybe_checkpoint()
        except AuditError:
            # The entries are durable; failing their callers would make them retry and append
            # twice. The next batch or the signer loop tries the checkpoint again.
            _log.exception("audit checkpoint failed after a successful append; will retry")

    def _write(self, entries: list[AuditEntry]) -> int:
        request_ids = [entry.request_id for entry in entries]
        # The sequence lock spans "store at the tree's end" and "extend the tree", so a
        # concurrent refresh() cannot add the same leaves to the tree a second time.
        with self._sequence_lock:
            for _ in range(_MAX_SEQUENCE_RETRIES):
                start = self.size
                leaves = [entry_leaf(entry, start + i) for i, entry in enumerate(entries)]
                hashes = [leaf_hash(leaf) for leaf in leaves]
                try:
                    self._storage.append_leaves(
                        start, leaves, hashes, request_ids=request_ids, created_at=self._clock()
                    )
                except SequenceConflict:
                    self._catch_up()
                    continue
                with self._tree_lock:
                    self._tree.extend(hashes)
                return start
        raise AuditError(
            f"could not append to the audit log after {_MAX_SEQUENCE_RETRIES} sequence conflicts"
        )

    def append_change(self, apply: Callable[[Tx], AuditEntry | None]) -> int | None:
        """Make a state change and append its entry in one database transaction.

        ``apply(tx)`` changes state through ``tx`` and returns the entry describing the change, or
        ``None`` when there was nothing to change (then nothing is appended and ``None`` is
        returned). Either both the change and its entry are stored, or neither: a lever never moves
        without its audit entry, and no entry claims a change that did not happen. ``apply`` may
        run more than once (after another writer appended first), each time in a fresh
        transaction. Returns the entry's index once durable.
        """
        with self._sequence_lock:
            for _ in range(_MAX_SEQUENCE_RETRIES):
                start = self.size

                def build(tx: Tx, start: int = start) -> BuiltLeaf | None:
                    entry = apply(tx)
                    if entry is None:
                        return None
                    leaf = entry_leaf(entry, start)
                    return leaf, leaf_hash(leaf), entry.request_id

                try:
                    built = self._storage.append_one(start, build, created_at=self._clock())
                except SequenceConflict:
                    self._catch_up()
                    continue
                if built is None:
                    return None
                with self._tree_lock:
                    self._tree.extend([built[1]])
                break
            else:
                raise AuditError(
                    f"could not append to the audit log after {_MAX_SEQUENCE_RETRIES} sequence conflicts"
                )
        try:
            self.maybe_checkpoint()
        except AuditError:
            _log.exception("audit checkpoint failed after a successful append; will retry")
        return start

    def refresh(self) -> int:
        """Catch up with entries other processes appended; returns the new size.

        The new leaves' hashes are recomputed from their bytes, not read from storage.
        """
        with self._sequence_lock:
            return self._catch_up()

    def _catch_up(self) -> int:
        have, end = self.size, self._storage.size()
        for start in range(have, end, _READ_CHUNK):
            stop = min(start + _READ_CHUNK, end)
            leaves = self._storage.read_leaves(start, stop)
            if len(leaves) != stop - start:
                raise AuditError(
                    f"audit log rows between {start} and {stop} are missing; run `runwell audit verify`"
                )
            hashes = [leaf_hash(leaf) for leaf in leaves]
            with self._tree_lock:
                self._tree.extend(hashes)
        return self.size

    def maybe_checkpoint(self) -> str | None:
        """Sign a checkpoint if the policy says one is due; returns the note if one was signed."""
        size = self.size
        if size <= self._last_checkpoint_size:
            return None
        due_by_count = size - self._last_checkpoint_size >= self.policy.every_entries
        due_by_time = self._clock() - self._last_checkpoint_time >= self.policy.every_seconds
        return self.checkpoint_now() if due_by_count or due_by_time else None

    def checkpoint_now(self) -> str:
        """Sign and store a checkpoint of the log as it is now; returns the signed note."""
        with self._checkpoint_lock:
            with self._tree_lock:
                size, root = self._tree.size, self._tree.root()
            note = sign_note(Checkpoint(self.origin, size, root).to_body(), self._signer)
            now = self._clock()
            self._storage.save_checkpoint(size, root, note, now)
            self._last_checkpoint_size = max(self._last_checkpoint_size, size)
            self._last_checkpoint_time = now
            return note

    def latest_checkpoint(self) -> str | None:
        """The latest stored signed checkpoint note (from any process), if any."""
        latest = self._storage.latest_checkpoint()
        return None if latest is None else latest.note

    def root(self, size: int | None = None) -> bytes:
        """The tree's root at ``size`` (default: current size)."""
        with self._tree_lock:
            return self._tree.root(size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        self._ensure_size(size)
        with self._tree_lock:
            return self._tree.inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes."""
        self._ensure_size(new_size)
        with self._tree_lock:
            return self._tree.consistency_proof(old_size, new_size)

    def _ensure_size(self, size: int) -> None:
        if size > self.size and self.refresh() < size:
            raise AuditError(f"the audit log has {self.size} entries; tree size {size} does not exist yet")

    def leaf(self, index: int) -> bytes:
        """The stored leaf bytes of entry ``index``."""
        leaves = self._storage.read_leaves(index, index + 1)
        if not leaves:
            raise AuditError(f"audit entry {index} does not exist")
        return leaves[0]

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The stored leaf bytes of entries ``start`` (inclusive) to ``end`` (exclusive)."""
        return self._storage.read_leaves(start, end)

    def entry(self, index: int) -> dict[str, Any]:
        """Entry ``index`` decoded."""
        return parse_leaf(self.leaf(index))

    def find_request(self, request_id: str) -> list[int]:
        """Indices of the entries recorded for one request."""
        return self._storage.find_request(request_id)

    def close(self) -> None:
        """Close the storage."""
        self._storage.close()

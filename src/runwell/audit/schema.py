"""The audit log's place in the database: its tables' shape and the sequencer lock.

The tables are created by the database layer's migrations (``runwell.store.migrations``,
migration 3 ``audit_log``). ``audit_entries`` holds one row per leaf: its position ``idx``, the
leaf bytes (canonical JSON), the leaf hash recorded at append time (a diagnostic for verify, never
trusted by it), the request id for "why did it decide this?" look-ups, and the append time (unix
seconds). ``audit_checkpoints`` keeps every signed checkpoint.

Both tables are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
That stops accidents and casual edits; a determined attacker with the database owner's rights
can drop them, which is what the Merkle tree and the signatures are for.
"""

from __future__ import annotations

__all__ = ["POSTGRES_SEQUENCER_LOCK"]

POSTGRES_SEQUENCER_LOCK = int.from_bytes(b"rw-audit", "big") & 0x7FFF_FFFF_FFFF_FFFF
"""``pg_advisory_xact_lock`` key held while a batch reads the log's end and appends after it.

Every writer of one database takes this same lock, so appends from all processes form one
linear sequence; it is transaction-scoped, so a crashed writer can never leave it held.
"""

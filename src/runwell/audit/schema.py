"""DDL of the audit log's two tables, for SQLite and PostgreSQL.

``audit_entries`` holds one row per leaf: its position ``idx``, the leaf bytes (canonical
JSON), the leaf hash recorded at append time (a diagnostic for verify, never trusted by it),
the request id for "why did it decide this?" look-ups, and the append time (unix seconds,
like the rest of runwell's store). ``audit_checkpoints`` keeps every signed checkpoint.

Both tables are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
That stops accidents and casual edits; a determined attacker with the database owner's rights
can drop them, which is what the Merkle tree and the signatures are for.

The statements are idempotent (``IF NOT EXISTS`` / ``OR REPLACE``), so a storage's
``ensure_schema()`` may run them on every start; the integrator can register the same text as
one migration of ``runwell.store.migrations``.
"""

from __future__ import annotations

__all__ = ["POSTGRES_DDL", "POSTGRES_SEQUENCER_LOCK", "SQLITE_DDL"]

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS audit_entries (
    idx INTEGER PRIMARY KEY,
    leaf BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    request_id TEXT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_request_id
    ON audit_entries (request_id) WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
"""
"""SQLite: ``INTEGER PRIMARY KEY`` (64-bit) makes ``idx`` the rowid, the fastest layout."""

POSTGRES_DDL = """
CREATE TABLE IF NOT EXISTS audit_entries (
    idx BIGINT PRIMARY KEY,
    leaf BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    request_id TEXT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_request_id
    ON audit_entries (request_id) WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END
$$;
CREATE OR REPLACE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""
"""PostgreSQL 14+ (``CREATE OR REPLACE TRIGGER``)."""

POSTGRES_SEQUENCER_LOCK = int.from_bytes(b"rw-audit", "big") & 0x7FFF_FFFF_FFFF_FFFF
"""``pg_advisory_xact_lock`` key held while a batch reads the log's end and appends after it.

Every writer of one database takes this same lock, so appends from all processes form one
linear sequence; it is transaction-scoped, so a crashed writer can never leave it held.
"""

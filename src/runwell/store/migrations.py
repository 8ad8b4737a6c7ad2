"""Numbered, named schema migrations for both store backends.

:meth:`runwell.store.Database.open` applies the migrations a database has not seen yet, in order,
in one transaction, and records each in ``runwell_migrations(number, name, applied_at)``. Opening is
therefore idempotent, and an existing database is upgraded by exactly the new entries. Every table
runwell keeps is created here (records, keys, the audit log, eval runs, run-time state), so one
database layer owns the whole schema.

Adding a migration is a one-entry change: append ``Migration(next number, "what_it_adds",
sqlite_sql, postgres_sql)`` to :data:`MIGRATIONS`. Never edit or renumber an entry that has
shipped: databases in the field have already recorded it by number and name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from runwell.errors import StoreError
from runwell.store._schema_runtime import (
    M10_EXPERIMENTS,
    M11_OPERATE,
    M12_EVALS_HISTORY,
    M13_CONSOLE_POSTGRES,
    M13_CONSOLE_SQLITE,
    M14_ROLLUPS_POSTGRES,
    M14_ROLLUPS_SQLITE,
    M15_DROP_SHADOW_INDEX,
)

__all__ = [
    "MIGRATIONS",
    "MIGRATIONS_TABLE",
    "POSTGRES_LOCK_KEY",
    "Migration",
    "pending_migrations",
    "sqlite_statements",
]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change, written once per SQL dialect (both must leave equivalent schemas)."""

    number: int
    name: str
    sqlite_sql: str
    postgres_sql: str

    def sql(self, dialect: str) -> str:
        """The migration's script for ``dialect`` (``sqlite`` or ``postgresql``)."""
        return self.sqlite_sql if dialect == "sqlite" else self.postgres_sql


_MIGRATIONS_TABLE_SQLITE = """
CREATE TABLE IF NOT EXISTS runwell_migrations (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at REAL NOT NULL
)
"""

_MIGRATIONS_TABLE_POSTGRES = """
CREATE TABLE IF NOT EXISTS runwell_migrations (
    number INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL
)
"""

MIGRATIONS_TABLE: Mapping[str, str] = MappingProxyType(
    {"sqlite": _MIGRATIONS_TABLE_SQLITE, "postgresql": _MIGRATIONS_TABLE_POSTGRES}
)
"""The table that records applied migrations, by dialect."""

POSTGRES_LOCK_KEY = int.from_bytes(b"runwell", "big")
"""``pg_advisory_xact_lock`` key serialising concurrent openers (replicas starting together)."""


_M1_SQLITE = """
CREATE TABLE requests (
    request_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    started_at REAL NOT NULL,
    feature TEXT,
    variant TEXT,
    provider TEXT,
    model TEXT,
    spec_version TEXT,
    prompt_version TEXT,
    user_id TEXT,
    api_key_id TEXT,
    status TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    error_class TEXT,
    error_message TEXT,
    stream INTEGER NOT NULL DEFAULT 0,
    latency_ms REAL,
    ttft_ms REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_tokens INTEGER,
    cost_usd REAL,
    priced INTEGER NOT NULL DEFAULT 0,
    finish_reason TEXT,
    response_model TEXT,
    prompt TEXT,
    completion TEXT
);
CREATE INDEX requests_feature_started ON requests (feature, started_at);
CREATE INDEX requests_started ON requests (started_at);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
CREATE TABLE health (
    id INTEGER PRIMARY KEY,
    checked_at REAL NOT NULL
);
"""

# text_pattern_ops: the primary key's btree follows the database collation, which LIKE 'abc%'
# cannot use; this index makes request-id prefix lookups an index range scan.
_M1_POSTGRES = """
CREATE TABLE requests (
    request_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    feature TEXT,
    variant TEXT,
    provider TEXT,
    model TEXT,
    spec_version TEXT,
    prompt_version TEXT,
    user_id TEXT,
    api_key_id TEXT,
    status TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    error_class TEXT,
    error_message TEXT,
    stream BOOLEAN NOT NULL DEFAULT FALSE,
    latency_ms DOUBLE PRECISION,
    ttft_ms DOUBLE PRECISION,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cached_tokens BIGINT,
    cost_usd DOUBLE PRECISION,
    priced BOOLEAN NOT NULL DEFAULT FALSE,
    finish_reason TEXT,
    response_model TEXT,
    prompt TEXT,
    completion TEXT
);
CREATE INDEX requests_feature_started ON requests (feature, started_at);
CREATE INDEX requests_started ON requests (started_at);
CREATE INDEX requests_id_prefix ON requests (request_id text_pattern_ops);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
CREATE TABLE health (
    id INTEGER PRIMARY KEY,
    checked_at DOUBLE PRECISION NOT NULL
);
"""


# The audit log (runwell.audit): one row per leaf, every signed checkpoint; both append-only.
_M3_AUDIT_SQLITE = """
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

_M3_AUDIT_POSTGRES = """
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

# Eval runs (runwell.evals.runstore): one row per run, one per (case, repeat) as it completes.
# ``scores`` is the JSON list of each scorer's score; ``score``/``passed`` their combination.
_M4_EVAL_RUNS = """
CREATE TABLE eval_runs (
    run_id TEXT PRIMARY KEY,
    feature TEXT NOT NULL,
    variant TEXT NOT NULL,
    provider TEXT,
    model TEXT,
    spec_version TEXT,
    prompt_version TEXT,
    suite TEXT NOT NULL,
    dataset_name TEXT NOT NULL,
    dataset_hash TEXT NOT NULL,
    case_count INTEGER NOT NULL,
    repeats INTEGER NOT NULL,
    scorers TEXT NOT NULL,
    started_at {real} NOT NULL,
    finished_at {real},
    status TEXT NOT NULL
);
CREATE INDEX eval_runs_variant ON eval_runs (feature, variant, dataset_hash, started_at);
CREATE INDEX eval_runs_started ON eval_runs (started_at);
CREATE TABLE eval_results (
    run_id TEXT NOT NULL REFERENCES eval_runs (run_id) ON DELETE CASCADE,
    case_id TEXT NOT NULL,
    repeat_index INTEGER NOT NULL,
    tags TEXT NOT NULL,
    output TEXT,
    score {real},
    passed {bool},
    scores TEXT NOT NULL,
    latency_ms {real},
    input_tokens {int},
    output_tokens {int},
    cost_usd {real},
    error TEXT,
    created_at {real} NOT NULL,
    PRIMARY KEY (run_id, case_id, repeat_index)
);
"""

# The operator's levers (runwell.control.levers): one row per lever that is not at its default, and a
# version every replica polls to see that something changed. Queued answers (degradation mode
# "queued"): the request waits here until a variant can answer it, and survives a restart.
_M8_LEVERS = """
CREATE TABLE levers (
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    value TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    until {real},
    updated_at {real} NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE TABLE lever_version (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO lever_version (id, version) VALUES (1, 0);
CREATE TABLE queued_requests (
    ticket TEXT PRIMARY KEY,
    feature TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    answer TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    api_key_id TEXT,
    created_at {real} NOT NULL,
    updated_at {real} NOT NULL,
    next_try_at {real} NOT NULL
);
CREATE INDEX queued_requests_due ON queued_requests (status, next_try_at);
"""

# What happened to each request beyond its status: which guardrails ran and fired, which variant
# served (a fallback, or "degraded:<mode>"), and the run-time outcome the audit entry also carries.
_M9_OUTCOME = """
ALTER TABLE requests ADD COLUMN outcome TEXT;
ALTER TABLE requests ADD COLUMN served_by TEXT;
ALTER TABLE requests ADD COLUMN guardrails TEXT;
ALTER TABLE requests ADD COLUMN attempts TEXT;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "requests_and_api_keys", _M1_SQLITE, _M1_POSTGRES),
    Migration(
        2,
        "request_provider_kind",
        "ALTER TABLE requests ADD COLUMN provider_kind TEXT;",
        "ALTER TABLE requests ADD COLUMN provider_kind TEXT;",
    ),
    Migration(3, "audit_log", _M3_AUDIT_SQLITE, _M3_AUDIT_POSTGRES),
    Migration(
        4,
        "eval_runs",
        _M4_EVAL_RUNS.format(real="REAL", bool="INTEGER", int="INTEGER"),
        _M4_EVAL_RUNS.format(real="DOUBLE PRECISION", bool="BOOLEAN", int="BIGINT"),
    ),
    Migration(
        5,
        "request_parent_span_id",
        "ALTER TABLE requests ADD COLUMN parent_span_id TEXT;",
        "ALTER TABLE requests ADD COLUMN parent_span_id TEXT;",
    ),
    # ``recovered``: a record rebuilt from the audit log after an unclean shutdown; the real record,
    # when it arrives from another replica's queue, replaces it (see runwell.store._records).
    # ``note``: what runwell had to do with a record (content not storable, rebuilt, ...).
    Migration(
        6,
        "request_recovered_and_note",
        "ALTER TABLE requests ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;\n"
        "ALTER TABLE requests ADD COLUMN note TEXT;",
        "ALTER TABLE requests ADD COLUMN recovered BOOLEAN NOT NULL DEFAULT FALSE;\n"
        "ALTER TABLE requests ADD COLUMN note TEXT;",
    ),
    # The tool calls a model answered with (OpenAI's shape, JSON text): part of the completion.
    Migration(
        7,
        "request_tool_calls",
        "ALTER TABLE requests ADD COLUMN tool_calls TEXT;",
        "ALTER TABLE requests ADD COLUMN tool_calls TEXT;",
    ),
    Migration(
        8, "levers_and_queue", _M8_LEVERS.format(real="REAL"), _M8_LEVERS.format(real="DOUBLE PRECISION")
    ),
    Migration(
        9,
        "request_outcome",
        _M9_OUTCOME,
        _M9_OUTCOME,
    ),
    Migration(
        10,
        "experiments",
        M10_EXPERIMENTS.format(real="REAL", bool="INTEGER"),
        M10_EXPERIMENTS.format(real="DOUBLE PRECISION", bool="BOOLEAN"),
    ),
    Migration(
        11,
        "operate",
        M11_OPERATE.format(real="REAL", bool="INTEGER"),
        M11_OPERATE.format(real="DOUBLE PRECISION", bool="BOOLEAN"),
    ),
    Migration(
        12,
        "evals_history",
        M12_EVALS_HISTORY.format(real="REAL", bool="INTEGER"),
        M12_EVALS_HISTORY.format(real="DOUBLE PRECISION", bool="BOOLEAN"),
    ),
    Migration(13, "console_indexes", M13_CONSOLE_SQLITE, M13_CONSOLE_POSTGRES),
    Migration(14, "request_rollups", M14_ROLLUPS_SQLITE, M14_ROLLUPS_POSTGRES),
    Migration(15, "drop_unused_shadow_index", M15_DROP_SHADOW_INDEX, M15_DROP_SHADOW_INDEX),
)
"""Every migration, in order. Append new ones here (see the module docstring)."""


def pending_migrations(
    applied: Iterable[tuple[int, str]], migrations: Sequence[Migration], *, where: str
) -> list[Migration]:
    """The entries of ``migrations`` a database that recorded ``applied`` still needs, in order.

    Raises StoreError when the history disagrees with the code: a number applied under another
    name (two branches both added "migration 2"), or a number this code does not know (the
    database was migrated by a newer runwell). ``where`` names the database in the message.
    """
    _check_sequence(migrations)
    known = {m.number: m for m in migrations}
    done: set[int] = set()
    for number, name in applied:
        migration = known.get(number)
        if migration is None:
            raise StoreError(
                f"{where} has schema migration {number} ({name!r}), which this version of runwell "
                "does not know: the database was upgraded by a newer runwell. Upgrade runwell, "
                "or point --db/RUNWELL_DB at another database."
            )
        if migration.name != name:
            raise StoreError(
                f"{where} recorded schema migration {number} as {name!r} but this runwell calls it "
                f"{migration.name!r}: the two histories have diverged. Restore the database from "
                "a backup taken by this version, or use the runwell version that migrated it."
            )
        done.add(number)
    return [m for m in migrations if m.number not in done]


def _check_sequence(migrations: Sequence[Migration]) -> None:
    numbers = [m.number for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise StoreError(
            f"schema migrations must be numbered 1, 2, 3... with no gap or repeat; got {numbers}"
        )


def sqlite_statements(script: str) -> list[str]:
    """Split a SQLite script into single statements.

    ``sqlite3`` executes one statement per ``execute``, and ``executescript`` would commit the
    surrounding transaction first, so migrations are run statement by statement instead.
    ``complete_statement`` knows about string literals and trigger bodies, so a ``;`` inside
    them does not end a statement.
    """
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if not _only_comments(current):
                statements.append(current.strip())
            current = ""
    if not _only_comments(current):
        raise StoreError(f"incomplete SQL statement at the end of a migration: {current.strip()!r}")
    return statements


def _only_comments(chunk: str) -> bool:
    lines = (line.strip() for line in chunk.strip(" \t\r\n;").splitlines())
    return all(not line or line.startswith("--") for line in lines)

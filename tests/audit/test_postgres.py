"""The PostgreSQL audit storage: same behaviour as SQLite, and one linear log across processes.

Needs the machine's PostgreSQL (``RUNWELL_TEST_POSTGRES_URL``, default the local ``test``
database); each test works in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psycopg
import pytest

from runwell.audit import (
    AuditError,
    AuditLog,
    Signer,
    audit_storage,
    canonicalize,
    leaf_hash,
    verify_log,
)

from .helpers import decision

pytestmark = pytest.mark.postgres


@pytest.fixture
def conninfo(pg_url: str) -> str:
    """A connection string whose search_path is a fresh schema (the shared ``pg_url`` fixture:
    an unreachable server fails the test, never skips it)."""
    return pg_url


def test_append_checkpoint_reopen_and_verify(conninfo: str, signer: Signer) -> None:
    log = AuditLog.open(audit_storage(conninfo), signer)
    assert log.append_many([decision(i) for i in range(150)]) == list(range(150))
    log.checkpoint_now()
    root = log.root()
    log.close()
    storage = audit_storage(conninfo)
    reopened = AuditLog.open(storage, signer)
    assert (reopened.size, reopened.root()) == (150, root)
    assert reopened.find_request("req-42") == [42]
    assert reopened.entry(42)["index"] == 42
    assert [c.size for c in storage.checkpoints()] == [150]  # one 150-entry batch, then one checkpoint
    report = verify_log(storage, signer.vkey)
    assert report.ok and report.verified_size == 150, report.summary()


def test_tables_are_append_only(conninfo: str, signer: Signer) -> None:
    log = AuditLog.open(audit_storage(conninfo), signer)
    log.append(decision(0))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in (
            "UPDATE audit_entries SET leaf = ''",
            "DELETE FROM audit_entries",
            "TRUNCATE audit_entries",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)


def test_stale_writer_gets_a_sequence_conflict_and_catches_up(conninfo: str, signer: Signer) -> None:
    first = AuditLog.open(audit_storage(conninfo), signer)
    second = AuditLog.open(audit_storage(conninfo), signer)
    assert first.append_many([decision(i) for i in range(3)]) == [0, 1, 2]
    # `second` still believes the log is empty: its append conflicts, catches up, lands at 3.
    assert second.append(decision(3)) == 3
    assert first.refresh() == 4 and first.root() == second.root()


def test_fork_is_refused(conninfo: str) -> None:
    storage = audit_storage(conninfo)
    storage.save_checkpoint(1, b"a" * 32, "n", 0.0)
    storage.save_checkpoint(1, b"a" * 32, "n", 0.0)
    with pytest.raises(AuditError, match="fork"):
        storage.save_checkpoint(1, b"b" * 32, "m", 0.0)


def test_tampering_is_found_in_postgres_too(conninfo: str, signer: Signer) -> None:
    log = AuditLog.open(audit_storage(conninfo), signer)
    log.append_many([decision(i) for i in range(120)])
    log.checkpoint_now()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        forged = canonicalize({"v": 1, "type": "decision", "index": 7, "request_id": "forged"})
        conn.execute(
            "UPDATE audit_entries SET leaf = %s, leaf_hash = %s WHERE idx = 7", (forged, leaf_hash(forged))
        )
    report = verify_log(audit_storage(conninfo), signer.vkey)
    assert report.first_bad_index == 0  # bounded by checkpoint 100, the first to cover it
    assert report.problems[0].kind == "root_mismatch"


_WRITER = textwrap.dedent(
    """
    import sys
    from runwell.audit import AuditLog, DecisionEntry, SqlAuditStorage, audit_storage
    conninfo, skey, who, count, batch = sys.argv[1:6]
    log = AuditLog.open(audit_storage(conninfo), skey)
    def entry(i):
        return DecisionEntry(time="2026-11-22T04:23:00.000Z", request_id=f"{who}-{i}", feature="f",
            variant="v", provider="p", model="m", spec_version="s", prompt_version="p",
            outcome="served", input_sha256="0" * 64)
    n, b = int(count), int(batch)
    for start in range(0, n, b):
        for index in log.append_many([entry(i) for i in range(start, min(start + b, n))]):
            print(index, flush=True)
    """
)


def test_several_processes_build_one_linear_log(conninfo: str, signer: Signer) -> None:
    audit_storage(conninfo).close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, conninfo, signer.skey, f"w{w}", "200", "9"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(3)
    ]
    outputs = [w.communicate(timeout=180)[0] for w in writers]
    assert all(w.returncode == 0 for w in writers)
    assert sorted(int(line) for out in outputs for line in out.split()) == list(range(600))
    storage = audit_storage(conninfo)
    for who in ("w0", "w1", "w2"):
        assert len(storage.find_request(f"{who}-199")) == 1
    report = verify_log(storage, signer.vkey)
    assert report.ok and report.size == 600, report.summary()

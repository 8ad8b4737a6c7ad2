"""AuditLog on SQLite: sequencing, group commit, checkpoint policy, restart, proofs, processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from runwell.audit import (
    AuditError,
    AuditLog,
    Checkpoint,
    CheckpointPolicy,
    Signer,
    SqlAuditStorage,
    audit_storage,
    leaf_hash,
    open_note,
    verify_consistency,
    verify_inclusion,
    verify_log,
)
from runwell.store import Database

from .helpers import FakeClock, change, decision


class SlowStorage(SqlAuditStorage):
    """A SQLite storage whose commits take 5 ms and are counted, to make batching visible."""

    def __init__(self, path: Path) -> None:
        super().__init__(Database.open(str(path), base_dir=path.parent), owns_db=True)
        self.transactions = 0

    def append_leaves(
        self, start_index: int, leaves: Sequence[bytes], leaf_hashes: Sequence[bytes], **kw: object
    ) -> None:
        time.sleep(0.005)
        self.transactions += 1
        super().append_leaves(start_index, leaves, leaf_hashes, **kw)  # type: ignore[arg-type]


def test_appends_get_dense_indices_that_the_entries_carry(log: AuditLog) -> None:
    assert [log.append(decision(i)) for i in range(5)] == [0, 1, 2, 3, 4]
    assert log.append_many([change(1), decision(5), change(2)]) == [5, 6, 7]
    assert log.append_many([]) == []
    assert log.size == 8
    assert [log.entry(i)["index"] for i in range(8)] == list(range(8))
    assert log.entry(6)["request_id"] == "req-5"
    assert log.find_request("req-5") == [6]


def test_concurrent_appends_are_group_committed(db_path: Path, signer: Signer) -> None:
    storage = SlowStorage(db_path)
    log = AuditLog.open(storage, signer)
    results: list[int] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        for i in range(25):
            index = log.append(decision(w * 100 + i))
            with lock:
                results.append(index)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(200))
    assert storage.transactions < 200 / 2  # many appends shared one commit
    for index in range(200):
        assert log.entry(index)["index"] == index
    assert verify_log(storage, signer.vkey).ok


def test_a_failed_commit_fails_every_caller_in_the_batch(db_path: Path, signer: Signer) -> None:
    storage = audit_storage(db_path)
    log = AuditLog.open(storage, signer)
    storage.close()
    with pytest.raises(AuditError, match="cannot append"):
        log.append(decision(1))


def test_checkpoint_every_n_entries(log: AuditLog, storage: SqlAuditStorage, vkey: str) -> None:
    log.append_many([decision(i) for i in range(99)])
    assert storage.checkpoints() == []
    log.append(decision(99))
    [stored] = storage.checkpoints()
    assert stored.size == 100 and stored.root == log.root()
    checkpoint = Checkpoint.parse(open_note(stored.note, [vkey]))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root_hash) == (
        "runwell.test/audit",
        100,
        log.root(),
    )


def test_checkpoint_after_t_seconds(log: AuditLog, storage: SqlAuditStorage, clock: FakeClock) -> None:
    log.append_many([decision(i) for i in range(5)])
    assert log.maybe_checkpoint() is None
    clock.now += 10
    assert log.maybe_checkpoint() is not None
    assert [c.size for c in storage.checkpoints()] == [5]
    clock.now += 60
    assert log.maybe_checkpoint() is None  # nothing new to sign
    log.append(decision(5))  # due by time already: signed right after the commit
    assert [c.size for c in storage.checkpoints()] == [5, 6]


def test_every_checkpoint_is_kept_and_checkpoint_now_is_idempotent(
    log: AuditLog, storage: SqlAuditStorage
) -> None:
    for i in range(3):
        log.append(decision(i))
        note = log.checkpoint_now()
    assert log.checkpoint_now() == note
    assert [c.size for c in storage.checkpoints()] == [1, 2, 3]
    assert log.latest_checkpoint() == note


def test_proofs_verify_against_signed_checkpoints(log: AuditLog, vkey: str) -> None:
    log.append_many([decision(i) for i in range(37)])
    old = Checkpoint.parse(open_note(log.checkpoint_now(), [vkey]))
    log.append_many([decision(i) for i in range(37, 150)])
    new = Checkpoint.parse(open_note(log.checkpoint_now(), [vkey]))
    for index in (0, 17, 36):
        proof = log.inclusion_proof(index, old.size)
        assert verify_inclusion(leaf_hash(log.leaf(index)), index, old.size, proof, old.root_hash)
    proof = log.consistency_proof(old.size, new.size)
    assert verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    with pytest.raises(AuditError, match="does not exist yet"):
        log.inclusion_proof(0, new.size + 1)


def test_reopening_rebuilds_the_same_tree_and_continues(
    db_path: Path, signer: Signer, clock: FakeClock
) -> None:
    first = AuditLog.open(audit_storage(db_path), signer, clock=clock)
    first.append_many([decision(i) for i in range(250)])
    root = first.root()
    first.close()
    second = AuditLog.open(audit_storage(db_path), signer, clock=clock)
    assert (second.size, second.root()) == (250, root)
    assert second.append(decision(250)) == 250
    second.close()


def test_opening_a_log_that_contradicts_its_checkpoint_is_refused(db_path: Path, signer: Signer) -> None:
    log = AuditLog.open(audit_storage(db_path), signer)
    log.append_many([decision(i) for i in range(10)])
    log.checkpoint_now()
    log.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("UPDATE audit_entries SET leaf_hash = zeroblob(32) WHERE idx = 3")
    with pytest.raises(AuditError, match="does not match its latest signed checkpoint"):
        AuditLog.open(audit_storage(db_path), signer)


def test_opening_with_another_origin_is_refused(db_path: Path, signer: Signer) -> None:
    log = AuditLog.open(audit_storage(db_path), signer)
    log.append(decision(0))
    log.checkpoint_now()
    with pytest.raises(AuditError, match="origin"):
        AuditLog.open(audit_storage(db_path), signer, origin="elsewhere.example/log")


def test_tables_refuse_updates_and_deletes(log: AuditLog, db_path: Path) -> None:
    log.append(decision(0))
    log.checkpoint_now()
    with sqlite3.connect(db_path) as conn:
        for statement in (
            "UPDATE audit_entries SET leaf = x'00'",
            "DELETE FROM audit_entries",
            "UPDATE audit_checkpoints SET note = ''",
            "DELETE FROM audit_checkpoints",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)


def test_a_second_checkpoint_of_one_size_with_another_root_is_a_fork(storage: SqlAuditStorage) -> None:
    storage.save_checkpoint(5, b"a" * 32, "note", 0.0)
    storage.save_checkpoint(5, b"a" * 32, "note", 1.0)  # the same again: fine
    with pytest.raises(AuditError, match="fork"):
        storage.save_checkpoint(5, b"b" * 32, "other note", 2.0)


def test_policy_must_be_positive() -> None:
    with pytest.raises(AuditError, match="checkpoint policy"):
        CheckpointPolicy(0, 10)


_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from runwell.audit import AuditLog, DecisionEntry, SqlAuditStorage, audit_storage
    path, skey, who, count, batch, die = sys.argv[1:7]
    log = AuditLog.open(audit_storage(path), skey)
    def entry(i):
        return DecisionEntry(time="2026-11-22T04:23:00.000Z", request_id=f"{who}-{i}", feature="f",
            variant="v", provider="p", model="m", spec_version="s", prompt_version="p",
            outcome="served", input_sha256="0" * 64)
    n, b = int(count), int(batch)
    for start in range(0, n, b):
        for index in log.append_many([entry(i) for i in range(start, min(start + b, n))]):
            print(index, flush=True)
    if die == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _writer(
    db_path: Path, skey: str, who: str, count: int, batch: int, die: str = "no"
) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", _WRITER, str(db_path), skey, who, str(count), str(batch), die]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def test_several_processes_build_one_linear_log(db_path: Path, signer: Signer) -> None:
    audit_storage(db_path).close()
    writers = [_writer(db_path, signer.skey, f"w{w}", 150, 7) for w in range(3)]
    outputs = [w.communicate(timeout=120)[0] for w in writers]
    assert all(w.returncode == 0 for w in writers)
    indices = sorted(int(line) for out in outputs for line in out.split())
    assert indices == list(range(450))
    storage = audit_storage(db_path)
    report = verify_log(storage, signer.vkey)
    assert report.ok, report.summary()
    assert report.size == 450 and report.verified_size >= 300  # each writer checkpoints every 100


def test_acknowledged_entries_survive_a_killed_process(db_path: Path, signer: Signer) -> None:
    audit_storage(db_path).close()
    writer = _writer(db_path, signer.skey, "k", 120, 1, die="kill")
    out, _ = writer.communicate(timeout=120)
    assert writer.returncode == -9
    acknowledged = [int(line) for line in out.split()]
    assert acknowledged == list(range(120))
    storage = audit_storage(db_path)
    assert storage.size() == 120
    log = AuditLog.open(storage, signer)
    assert [log.entry(i)["request_id"] for i in (0, 119)] == ["k-0", "k-119"]

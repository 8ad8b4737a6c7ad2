"""verify_log catches each kind of tampering and names the first bad index."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from runwell.audit import (
    AuditError,
    AuditLog,
    Checkpoint,
    Signer,
    audit_storage,
    canonicalize,
    generate_key,
    leaf_hash,
    root_from_leaf_hashes,
    sign_note,
    verify_log,
)

from .helpers import decision

SIZE = 250  # checkpoints at 100 and 200 by policy, and 250 by checkpoint_now()


@pytest.fixture
def built(db_path: Path, signer: Signer) -> dict[int, str]:
    """A 250-entry log; returns its checkpoint notes by size."""
    log = AuditLog.open(audit_storage(db_path), signer)
    for start in range(0, SIZE, 10):
        log.append_many([decision(i) for i in range(start, start + 10)])
    log.checkpoint_now()
    notes = {c.size: c.note for c in audit_storage(db_path).checkpoints()}
    assert sorted(notes) == [100, 200, 250]
    log.close()
    return notes


def _sql(db_path: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    """Run statements as an attacker with write access would: triggers dropped first."""
    with sqlite3.connect(db_path) as conn:
        for trigger in (
            "entries_no_update",
            "entries_no_delete",
            "checkpoints_no_update",
            "checkpoints_no_delete",
        ):
            conn.execute(f"DROP TRIGGER IF EXISTS audit_{trigger}")
        for statement in statements:
            conn.execute(statement, params if "?" in statement else ())


def _leaf(db_path: Path, idx: int) -> dict[str, object]:
    with sqlite3.connect(db_path) as conn:
        value: dict[str, object] = json.loads(
            conn.execute("SELECT leaf FROM audit_entries WHERE idx = ?", (idx,)).fetchone()[0]
        )
        return value


def _rewrite(db_path: Path, idx: int, *, update_hash: bool, **changes: object) -> None:
    entry = {**_leaf(db_path, idx), **changes}
    leaf = canonicalize(entry)
    _sql(db_path, f"UPDATE audit_entries SET leaf = ? WHERE idx = {idx}", params=(leaf,))
    if update_hash:
        _sql(db_path, f"UPDATE audit_entries SET leaf_hash = ? WHERE idx = {idx}", params=(leaf_hash(leaf),))


def _verify(db_path: Path, vkey: str, trusted: str | None = None):  # type: ignore[no-untyped-def]
    return verify_log(audit_storage(db_path), vkey, trusted)


def test_an_untouched_log_verifies(db_path: Path, vkey: str, built: dict[int, str]) -> None:
    report = _verify(db_path, vkey)
    assert report.ok and report.first_bad_index is None, report.summary()
    assert (report.size, report.verified_size, report.checkpoints_checked) == (250, 250, 3)
    assert report.summary().startswith("OK: 250 entries")
    assert _verify(db_path, vkey, built[200]).ok
    assert _verify(db_path, vkey, built[250]).ok


def test_entries_past_the_last_checkpoint_are_reported_as_unsigned(
    db_path: Path, vkey: str, signer: Signer, built: dict[int, str]
) -> None:
    log = AuditLog.open(audit_storage(db_path), signer)
    log.append(decision(999))
    report = _verify(db_path, vkey)
    assert report.ok and report.unsigned_from == 250
    assert "not covered by a checkpoint" in report.summary()


def test_changed_entry_is_pinpointed(db_path: Path, vkey: str, built: dict[int, str]) -> None:
    _rewrite(db_path, 137, update_hash=False, outcome="blocked")
    report = _verify(db_path, vkey)
    assert not report.ok and report.first_bad_index == 137
    assert report.problems[0].kind == "leaf_edited" and report.problems[0].exact
    assert {p.kind for p in report.problems} == {"leaf_edited", "root_mismatch"}
    assert "TAMPERED: first bad index 137" in report.summary()


def test_changed_entry_with_its_hash_is_bounded_by_the_checkpoints(
    db_path: Path, vkey: str, built: dict[int, str]
) -> None:
    _rewrite(db_path, 137, update_hash=True, outcome="blocked")
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 100
    first = report.problems[0]
    assert (first.kind, first.exact, first.checkpoint_size) == ("root_mismatch", False, 200)
    assert "[100, 200)" in first.message


def test_removed_entry_is_pinpointed(db_path: Path, vkey: str, built: dict[int, str]) -> None:
    _sql(db_path, "DELETE FROM audit_entries WHERE idx = 137")
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 137
    assert report.problems[0].kind == "index_mismatch"
    assert "position 137 says it is entry 138" in report.problems[0].message


def test_removed_tail_is_caught_by_the_checkpoints(db_path: Path, vkey: str, built: dict[int, str]) -> None:
    _sql(db_path, "DELETE FROM audit_entries WHERE idx >= 240")
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 240
    assert report.problems[0].kind == "missing_entries"


def test_reordered_entries_are_pinpointed(db_path: Path, vkey: str, built: dict[int, str]) -> None:
    _sql(
        db_path,
        "UPDATE audit_entries SET idx = -1 WHERE idx = 137",
        "UPDATE audit_entries SET idx = 137 WHERE idx = 150",
        "UPDATE audit_entries SET idx = 150 WHERE idx = -1",
    )
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 137
    assert report.problems[0].kind == "index_mismatch"


def test_inserted_entry_is_pinpointed(db_path: Path, vkey: str, built: dict[int, str]) -> None:
    forged = canonicalize({**_leaf(db_path, 137), "request_id": "forged"})
    _sql(
        db_path,
        "UPDATE audit_entries SET idx = -(idx + 1) WHERE idx >= 137",
        "UPDATE audit_entries SET idx = -idx WHERE idx < 0",
    )
    _sql(
        db_path,
        "INSERT INTO audit_entries (idx, leaf, leaf_hash, request_id, created_at) VALUES (137, ?, ?, 'forged', 0)",
        params=(forged, leaf_hash(forged)),
    )
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 137
    assert report.problems[0].kind == "index_mismatch"


def test_forged_checkpoint_is_caught(db_path: Path, vkey: str, built: dict[int, str]) -> None:
    # The attacker edits entry 150 and re-signs the later checkpoints with a key of their own.
    _rewrite(db_path, 150, update_hash=True, outcome="blocked")
    storage = audit_storage(db_path)
    hashes = storage.read_leaf_hashes(0, SIZE)
    attacker_skey, _ = generate_key("runwell.test/audit")
    _sql(db_path, "DELETE FROM audit_checkpoints WHERE size > 100")
    for size in (200, 250):
        root = root_from_leaf_hashes(hashes[:size])
        storage.save_checkpoint(
            size, root, sign_note(Checkpoint("runwell.test/audit", size, root).to_body(), attacker_skey), 0.0
        )
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 100
    assert [p.kind for p in report.problems] == ["bad_checkpoint", "bad_checkpoint"]
    assert "no signature from a trusted key" in report.problems[0].message


def test_checkpoint_with_a_broken_signature_is_caught(
    db_path: Path, vkey: str, built: dict[int, str]
) -> None:
    note = built[200]
    broken = note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:]
    _sql(db_path, "UPDATE audit_checkpoints SET note = ? WHERE size = 200", params=(broken,))
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 100
    assert report.problems[0].kind == "bad_checkpoint"
    assert "invalid signature" in report.problems[0].message


def test_rolled_back_log_is_caught_by_a_trusted_checkpoint(
    db_path: Path, vkey: str, built: dict[int, str]
) -> None:
    _sql(
        db_path,
        "DELETE FROM audit_checkpoints WHERE size = 250",
        "DELETE FROM audit_entries WHERE idx >= 200",
    )
    assert _verify(db_path, vkey).ok  # a clean truncation to a checkpoint needs outside memory to see
    report = _verify(db_path, vkey, built[250])
    assert report.first_bad_index == 200
    assert {p.kind for p in report.problems} == {"rolled_back", "checkpoints_rolled_back"}


def test_deleted_latest_checkpoint_is_caught_by_a_trusted_checkpoint(
    db_path: Path, vkey: str, built: dict[int, str]
) -> None:
    _sql(db_path, "DELETE FROM audit_checkpoints WHERE size = 250")
    report = _verify(db_path, vkey, built[250])
    assert report.first_bad_index == 200
    assert [p.kind for p in report.problems] == ["checkpoints_rolled_back"]


def test_older_checkpoint_substituted_for_the_latest_is_caught(
    db_path: Path, vkey: str, built: dict[int, str]
) -> None:
    _sql(db_path, "UPDATE audit_checkpoints SET note = ? WHERE size = 250", params=(built[200],))
    report = _verify(db_path, vkey)
    assert report.first_bad_index == 200
    assert report.problems[0].kind == "checkpoint_substituted"
    trusted = _verify(db_path, vkey, built[250])
    assert trusted.first_bad_index == 200
    assert {p.kind for p in trusted.problems} == {"checkpoint_substituted", "checkpoints_rolled_back"}


def test_history_rewritten_with_the_key_is_caught_by_a_trusted_checkpoint(
    db_path: Path, vkey: str, signer: Signer, built: dict[int, str]
) -> None:
    # An insider with the signing key rewrites entry 150 and re-signs every later checkpoint.
    _rewrite(db_path, 150, update_hash=True, outcome="blocked")
    storage = audit_storage(db_path)
    hashes = storage.read_leaf_hashes(0, SIZE)
    _sql(db_path, "DELETE FROM audit_checkpoints WHERE size > 100")
    for size in (200, 250):
        root = root_from_leaf_hashes(hashes[:size])
        storage.save_checkpoint(
            size, root, sign_note(Checkpoint("runwell.test/audit", size, root).to_body(), signer), 0.0
        )
    assert _verify(db_path, vkey).ok  # self-consistent: only an auditor's earlier copy can tell
    report = _verify(db_path, vkey, built[250])
    assert not report.ok and report.first_bad_index == 0
    assert report.problems[0].kind == "history_rewritten" and not report.problems[0].exact


def test_with_a_trusted_checkpoint_later_tampering_is_still_pinpointed(
    db_path: Path, vkey: str, built: dict[int, str]
) -> None:
    _rewrite(db_path, 220, update_hash=False, request_id="edited")
    report = _verify(db_path, vkey, built[200])
    assert report.first_bad_index == 220 and report.trusted_size == 200
    assert report.problems[0].kind == "leaf_edited"


def test_with_a_trusted_checkpoint_earlier_tampering_breaks_its_root(
    db_path: Path, vkey: str, built: dict[int, str]
) -> None:
    _rewrite(db_path, 42, update_hash=False, outcome="error")
    report = _verify(db_path, vkey, built[200])
    assert report.first_bad_index == 42  # the diagnosis pass pinpoints it
    assert {p.kind for p in report.problems} >= {"history_rewritten", "leaf_edited"}


def test_a_trusted_checkpoint_that_does_not_verify_is_an_error(db_path: Path, built: dict[int, str]) -> None:
    _, other_vkey = generate_key("someone.else/audit")
    with pytest.raises(AuditError, match="trusted checkpoint does not verify"):
        _verify(db_path, other_vkey, built[250])

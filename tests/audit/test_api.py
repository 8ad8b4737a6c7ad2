"""The public API of runwell.audit is pinned: it grows only on purpose."""

from __future__ import annotations

import runwell.audit

EXPECTED = {
    "AuditEntry", "AuditError", "AuditLog", "AuditStorage", "BadSignatureError", "ChangeEntry",
    "Checkpoint", "CheckpointPolicy", "DecisionEntry", "MerkleTree", "NoteFormatError",
    "Problem", "SequenceConflict", "Signer", "SqlAuditStorage", "audit_storage",
    "StoredCheckpoint", "UnknownKeyError", "Verifier", "VerifyReport", "canonicalize",
    "consistency_proof", "entry_leaf", "format_time", "generate_key", "inclusion_proof",
    "leaf_hash", "open_note", "parse_leaf", "pseudonymize_user", "read_key_file",
    "root_from_leaf_hashes", "sha256_hex", "sign_note", "verify_consistency", "verify_inclusion",
    "verify_log", "write_key_file",
}  # fmt: skip


def test_exported_names_are_exactly_the_public_api() -> None:
    assert set(runwell.audit.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(runwell.audit, name) is not None


def test_audit_errors_are_runwell_errors() -> None:
    from runwell.errors import RunwellError

    assert issubclass(runwell.audit.AuditError, RunwellError)
    for error in ("BadSignatureError", "NoteFormatError", "SequenceConflict", "UnknownKeyError"):
        assert issubclass(getattr(runwell.audit, error), runwell.audit.AuditError)

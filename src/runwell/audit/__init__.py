"""runwell.audit: a signed, tamper-evident log of model decisions and state changes.

Built from public standards so anyone can check it without runwell: entries are RFC 8785
canonical JSON, the log is an RFC 6962 / RFC 9162 Merkle tree with inclusion and consistency
proofs, and its checkpoints are C2SP tlog-checkpoints in C2SP signed notes (Ed25519).

Layers, each its own module: ``jcs`` (canonical JSON), ``merkle`` (tree, proofs, verifiers),
``signer`` (keys and key files), ``note`` (signed notes, checkpoints), ``entries`` (entry
shapes), ``storage`` / ``schema`` (where it lives: the project's database, SQLite or PostgreSQL),
``log`` (appending, group commit, state changes, checkpoint policy) and ``verify`` (the auditor's
full check).
"""

from runwell.audit.entries import (
    AuditEntry,
    ChangeEntry,
    DecisionEntry,
    entry_leaf,
    format_time,
    parse_leaf,
    pseudonymize_user,
    sha256_hex,
)
from runwell.audit.errors import (
    AuditError,
    BadSignatureError,
    NoteFormatError,
    SequenceConflict,
    UnknownKeyError,
)
from runwell.audit.jcs import canonicalize
from runwell.audit.log import AuditLog, CheckpointPolicy
from runwell.audit.merkle import (
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from runwell.audit.note import Checkpoint, open_note, sign_note
from runwell.audit.signer import Signer, Verifier, generate_key, read_key_file, write_key_file
from runwell.audit.storage import AuditStorage, SqlAuditStorage, StoredCheckpoint, audit_storage
from runwell.audit.verify import Problem, VerifyReport, verify_log

__all__ = [
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditStorage",
    "BadSignatureError",
    "ChangeEntry",
    "Checkpoint",
    "CheckpointPolicy",
    "DecisionEntry",
    "MerkleTree",
    "NoteFormatError",
    "Problem",
    "SequenceConflict",
    "Signer",
    "SqlAuditStorage",
    "StoredCheckpoint",
    "UnknownKeyError",
    "Verifier",
    "VerifyReport",
    "audit_storage",
    "canonicalize",
    "consistency_proof",
    "entry_leaf",
    "format_time",
    "generate_key",
    "inclusion_proof",
    "leaf_hash",
    "open_note",
    "parse_leaf",
    "pseudonymize_user",
    "read_key_file",
    "root_from_leaf_hashes",
    "sha256_hex",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "write_key_file",
]

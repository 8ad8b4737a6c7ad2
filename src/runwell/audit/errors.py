"""The audit log's errors, in one place.

::

    RunwellError                  (runwell.errors)
    └── AuditError                an audit log operation failed; the message says what and where
        ├── NoteFormatError       a signed note, key string or checkpoint body is malformed
        ├── UnknownKeyError       a note carries no signature from any key the caller trusts
        ├── BadSignatureError     a signature from a trusted key does not verify
        └── SequenceConflict      another writer appended first; the log catches up and retries

Verification of a whole log never raises for tampering it finds: it returns a report
(``runwell.audit.verify``) naming the first bad index, because an auditor wants every finding.
"""

from __future__ import annotations

from runwell.errors import RunwellError

__all__ = [
    "AuditError",
    "BadSignatureError",
    "NoteFormatError",
    "SequenceConflict",
    "UnknownKeyError",
]


class AuditError(RunwellError):
    """An audit log operation failed: bad key, bad note, storage refused, log inconsistent."""


class NoteFormatError(AuditError):
    """A signed note, a key string or a checkpoint body does not follow its C2SP format."""


class UnknownKeyError(AuditError):
    """A signed note has no signature from any of the verifier keys the caller passed."""


class BadSignatureError(AuditError):
    """A signature made by a trusted key (same name and key id) failed to verify."""


class SequenceConflict(AuditError):
    """The storage's next index is not the one the writer expected.

    Raised by a storage's ``append_leaves`` when another process appended in between; ``actual``
    is the storage's size at that moment so the writer can catch up and retry.
    """

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"audit log append expected to start at index {expected} but the log already has "
            f"{actual} entries (another writer appended first); catch up and retry"
        )
        self.expected = expected
        self.actual = actual

"""Find the signing key and the storage of a project's audit log, and open it.

The log lives in the same database as the request records (the SQLite file under ``.runwell/`` or
the PostgreSQL given with ``--db``). The signing key is found, in order, at the path given by the
caller, at ``$RUNWELL_AUDIT_KEY_FILE``, or at ``<project>/.runwell/audit.key``; when none exists and
the caller allows it, one is generated there (mode 0600) and its verifier key is written beside it
as ``audit.vkey`` (public) so auditors can check checkpoints without the private key.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runwell.audit.entries import ChangeEntry, change_key, format_time
from runwell.audit.errors import AuditError
from runwell.audit.log import AuditLog, CheckpointPolicy
from runwell.audit.signer import Signer, generate_key, read_key_file, write_key_file
from runwell.audit.storage import AuditStorage, SqlAuditStorage, audit_storage
from runwell.store import Database, Tx

__all__ = [
    "KEY_FILE_ENV",
    "AuditHandle",
    "StateChange",
    "change_state",
    "default_actor",
    "find_key_file",
    "key_name_for",
    "last_change",
    "open_audit_log",
    "open_audit_storage",
    "read_vkey",
    "record_change",
]

KEY_FILE_ENV = "RUNWELL_AUDIT_KEY_FILE"
_log = logging.getLogger("runwell.audit")


def key_name_for(base_dir: Path) -> str:
    """A signed-note key name (and log origin) for a project: ``runwell.<project dir name>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", base_dir.resolve().name).strip("-") or "project"
    return f"runwell.{slug}"


def find_key_file(
    base_dir: Path, key_path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """Where the signing key is (or would be created): explicit path, env, then the default."""
    if key_path is not None:
        return key_path
    env = os.environ if environ is None else environ
    if env.get(KEY_FILE_ENV):
        return Path(env[KEY_FILE_ENV])
    return base_dir / ".runwell" / "audit.key"


def read_vkey(key_file: Path) -> str:
    """The verifier key: from ``audit.vkey`` beside the key file, else derived from the key."""
    public = key_file.with_suffix(".vkey")
    if public.exists():
        return public.read_text().strip()
    return Signer.from_skey(read_key_file(key_file)).vkey


def open_audit_storage(db_url: str | None, base_dir: Path, *, db: Database | None = None) -> AuditStorage:
    """The audit storage in the project's database: ``db`` when given (shared, not closed with the
    storage), else the database ``db_url`` names (opened here and closed with the storage)."""
    if db is not None:
        return SqlAuditStorage(db)
    return audit_storage(db_url or "", base_dir=base_dir)


@dataclass
class AuditHandle:
    """An open audit log plus what callers need around it."""

    log: AuditLog
    key_file: Path
    user_hash_key: bytes
    created_key: bool

    def close(self) -> None:
        """Close the log's storage."""
        self.log.close()


def open_audit_log(
    base_dir: Path,
    db_url: str | None = None,
    *,
    db: Database | None = None,
    key_path: Path | None = None,
    create_key: bool = True,
    policy: CheckpointPolicy | None = None,
    environ: Mapping[str, str] | None = None,
) -> AuditHandle:
    """Open the project's audit log, generating its signing key on first use if allowed.

    The log lives in ``db`` when given (the gateway shares its store's database), else in the
    database ``db_url`` names.
    """
    key_file = find_key_file(base_dir, key_path, environ)
    created = False
    if not key_file.exists():
        if not create_key:
            raise AuditError(
                f"no audit signing key at {key_file}; create one with "
                "`runwell audit keygen` or point RUNWELL_AUDIT_KEY_FILE at it"
            )
        key_file.parent.mkdir(parents=True, exist_ok=True)
        skey, vkey = generate_key(key_name_for(base_dir))
        write_key_file(key_file, skey)
        key_file.with_suffix(".vkey").write_text(vkey + "\n")
        created = True
        _log.warning("generated a new audit signing key at %s; verifier key: %s", key_file, vkey)
    skey = read_key_file(key_file)
    signer = Signer.from_skey(skey)
    log = AuditLog.open(open_audit_storage(db_url, base_dir, db=db), signer, policy=policy)
    # A separate key for pseudonymising user ids, derived from the signing key so that it is as
    # well protected and needs no second secret to manage.
    user_key = hashlib.sha256(b"runwell audit user-id key\x00" + skey.encode()).digest()
    return AuditHandle(log=log, key_file=key_file, user_hash_key=user_key, created_key=created)


def default_actor(environ: Mapping[str, str] | None = None) -> str:
    """Who is making a change from this process: ``$RUNWELL_ACTOR`` or ``user@host``."""
    env = os.environ if environ is None else environ
    if env.get("RUNWELL_ACTOR"):
        return env["RUNWELL_ACTOR"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def last_change(log: AuditLog, kind: str, subject: str) -> dict[str, object] | None:
    """The latest change entry of ``kind`` on ``subject``, decoded, or ``None``."""
    indices = log.find_request(change_key(kind, subject))
    return log.entry(max(indices)) if indices else None


def record_change(
    log: AuditLog,
    *,
    kind: str,
    subject: str,
    actor: str,
    reason: str = "",
    before: object = None,
    after: object = None,
    at: float,
) -> int:
    """Append one state change made elsewhere; returns its index once durable.

    Prefer :func:`change_state`, which makes the change and its entry in one transaction.
    """
    return log.append(
        ChangeEntry(
            time=format_time(at),
            kind=kind,
            actor=actor,
            subject=subject,
            reason=reason,
            before=before,
            after=after,
        )
    )


@dataclass(frozen=True, slots=True)
class StateChange:
    """What a state change did: the value before and after, and (when only the change itself can
    tell, e.g. a key found by name) the subject's canonical id."""

    before: object
    after: object
    subject: str | None = None


def change_state(
    log: AuditLog,
    *,
    kind: str,
    subject: str,
    actor: str,
    reason: str,
    apply: Callable[[Tx], StateChange | None],
    clock: Callable[[], float] = time.time,
) -> int | None:
    """Make a state change and its audit entry in one transaction (see ``AuditLog.append_change``).

    ``apply(tx)`` changes the state and says how, or returns ``None`` when the state already was
    what was asked (then nothing is appended). Returns the entry's index, or ``None``.
    """

    def entry(tx: Tx) -> ChangeEntry | None:
        change = apply(tx)
        if change is None:
            return None
        return ChangeEntry(
            time=format_time(clock()),
            kind=kind,
            actor=actor,
            subject=change.subject or subject,
            reason=reason,
            before=change.before,
            after=change.after,
        )

    return log.append_change(entry)

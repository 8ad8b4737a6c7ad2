"""Shared fixtures for the audit log tests: a key, a SQLite storage, entry factories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runwell.audit import AuditLog, CheckpointPolicy, Signer, SqlAuditStorage, audit_storage, generate_key

from .helpers import FakeClock


@pytest.fixture(scope="session")
def keypair() -> tuple[str, str]:
    """One signing key for the whole session (skey, vkey)."""
    return generate_key("runwell.test/audit")


@pytest.fixture
def signer(keypair: tuple[str, str]) -> Signer:
    """The session's signer."""
    return Signer.from_skey(keypair[0])


@pytest.fixture
def vkey(keypair: tuple[str, str]) -> str:
    """The session's verifier key string."""
    return keypair[1]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a fresh SQLite file."""
    return tmp_path / "audit.db"


@pytest.fixture
def storage(db_path: Path) -> Iterator[SqlAuditStorage]:
    """A SQLite storage with its schema."""
    store = audit_storage(db_path)
    yield store
    store.close()


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven clock."""
    return FakeClock()


@pytest.fixture
def log(storage: SqlAuditStorage, signer: Signer, clock: FakeClock) -> AuditLog:
    """An empty log with the default policy (100 entries / 10 s) on the fake clock."""
    return AuditLog.open(storage, signer, policy=CheckpointPolicy(100, 10.0), clock=clock)

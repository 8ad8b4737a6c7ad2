"""Fixtures for the experiment layer's unit tests: a store with its audit log, a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runwell.audit import AuditLog, SqlAuditStorage, generate_key
from runwell.store import Store, open_store

NOW = 1_800_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The project's store on SQLite and on the machine's PostgreSQL."""
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened = open_store(url, base_dir=tmp_path)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(None, base_dir=tmp_path)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def log(store: Store) -> AuditLog:
    skey, _ = generate_key("runwell.test/rollouts")
    return AuditLog.open(SqlAuditStorage(store.db), skey)


def changes(log: AuditLog, kind: str = "rollout_step") -> list[dict[str, object]]:
    """The log's change entries of ``kind``, in order."""
    return [e for e in (log.entry(i) for i in range(log.size)) if e["type"] == "change" and e["kind"] == kind]

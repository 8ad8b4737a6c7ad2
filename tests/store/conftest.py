"""Fixtures for the store tests: records to write, and stores on SQLite and the real PostgreSQL.

PostgreSQL tests use the server at ``RUNWELL_TEST_POSTGRES_URL`` (default: the local one, user
postgres, database ``test``). Each session creates its own database and drops it at the end;
each test gets a fresh schema in it. When the server is unreachable those tests fail: CI must
never pass by skipping the real database (``scripts/services`` starts it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runwell.store import Store, open_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a fresh, empty store on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "runwell.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """An open, migrated store on each backend, closed after the test."""
    opened = open_store(store_url, base_dir=tmp_path)
    try:
        yield opened
    finally:
        opened.close()

"""Fixtures for the telemetry tests: realistic records and a real (SQLite) store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runwell.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in a temporary project directory."""
    opened = open_store(None, base_dir=tmp_path)
    try:
        yield opened
    finally:
        opened.close()

"""runwell.store: request records and API keys, in SQLite (default) or PostgreSQL.

Open one with :func:`open_store`; every backend implements :class:`RecordStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runwell.store.base import ApiKey, RecordStore
from runwell.store.migrations import MIGRATIONS, Migration
from runwell.store.sqlite import SQLiteStore
from runwell.store.url import open_store

if TYPE_CHECKING:
    from runwell.store.postgres import PostgresStore

__all__ = [
    "MIGRATIONS",
    "ApiKey",
    "Migration",
    "PostgresStore",
    "RecordStore",
    "SQLiteStore",
    "open_store",
]


def __getattr__(name: str) -> Any:
    # PostgresStore is loaded on first use so importing the package never loads libpq.
    if name == "PostgresStore":
        from runwell.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'runwell.store' has no attribute {name!r}")

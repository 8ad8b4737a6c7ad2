"""The project's store: request records and API keys over one :class:`Database`.

Other tables (the audit log, eval runs, run-time state) live in the same database and reach it
through :attr:`Store.db`, so a process opens one pool, not one connection per kind of data.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from runwell.store._db import Database
from runwell.store._keys import ApiKey, KeyTable
from runwell.store._records import RecordTable, WriteReport
from runwell.telemetry.record import RequestRecord

__all__ = ["RecordStore", "Store", "open_store"]


@runtime_checkable
class RecordStore(Protocol):
    """What the recorder and the CLI need of a store; :class:`Store` is the implementation."""

    @property
    def url(self) -> str: ...

    def write_records(
        self, records: Sequence[RequestRecord], *, yield_to_audit: bool = True
    ) -> WriteReport: ...
    def list_records(
        self, *, feature: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[RequestRecord]: ...
    def get_record(self, request_id: str) -> RequestRecord | None: ...
    def count_records(self, feature: str | None = None) -> int: ...
    def create_key(self, name: str) -> tuple[ApiKey, str]: ...
    def list_keys(self) -> list[ApiKey]: ...
    def revoke_key(self, id_or_name: str) -> ApiKey: ...
    def active_key_hashes(self) -> dict[str, str]: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


class Store:
    """Request records and API keys; every method may raise :class:`~runwell.errors.StoreError`.

    Thread-safe: the recorder's writer thread and ``asyncio.to_thread`` callers share one instance.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.records = RecordTable(db)
        self.keys = KeyTable(db)

    @property
    def url(self) -> str:
        """Where the store lives, any password masked (safe to print)."""
        return self.db.url

    def __repr__(self) -> str:
        return f"Store({self.db.url!r})"

    # Records and keys: see RecordTable and KeyTable for each method's contract.

    def write_records(self, records: Sequence[RequestRecord], *, yield_to_audit: bool = True) -> WriteReport:
        """See :meth:`RecordTable.write_records`."""
        return self.records.write_records(records, yield_to_audit=yield_to_audit)

    def list_records(
        self, *, feature: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[RequestRecord]:
        """See :meth:`RecordTable.list_records`."""
        return self.records.list_records(feature=feature, since=since, limit=limit)

    def get_record(self, request_id: str) -> RequestRecord | None:
        """See :meth:`RecordTable.get_record`."""
        return self.records.get_record(request_id)

    def count_records(self, feature: str | None = None) -> int:
        """See :meth:`RecordTable.count_records`."""
        return self.records.count_records(feature)

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """See :meth:`KeyTable.create_key`."""
        return self.keys.create_key(name)

    def list_keys(self) -> list[ApiKey]:
        """See :meth:`KeyTable.list_keys`."""
        return self.keys.list_keys()

    def revoke_key(self, id_or_name: str) -> ApiKey:
        """See :meth:`KeyTable.revoke_key`."""
        return self.keys.revoke_key(id_or_name)

    def active_key_hashes(self) -> dict[str, str]:
        """See :meth:`KeyTable.active_key_hashes`."""
        return self.keys.active_key_hashes()

    def ping(self) -> None:
        """Prove the database is reachable and writable right now, with a tiny real write."""
        with self.db.transaction("write the health row") as tx:
            tx.execute(
                "INSERT INTO health (id, checked_at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                (time.time(),),
            )

    def close(self) -> None:
        """Close the database's connections; the store cannot be used afterwards."""
        self.db.close()


def open_store(url: str | None, *, base_dir: Path, **options: Any) -> Store:
    """Open (creating and migrating as needed) the store ``url`` names; see :meth:`Database.open`."""
    return Store(Database.open(url, base_dir=base_dir, **options))

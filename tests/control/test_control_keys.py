"""API keys and their audit entries are stored together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runwell.audit import AuditError, AuditLog, SqlAuditStorage, generate_key
from runwell.audit.storage import BuiltLeaf
from runwell.control import create_key, revoke_key
from runwell.errors import NotFoundError, StoreConflict
from runwell.store import Store, Tx, open_store


class AppendFails(SqlAuditStorage):
    """Audit storage that makes the change, then fails before the entry is stored."""

    def append_one(
        self, start_index: int, build: Callable[[Tx], BuiltLeaf | None], *, created_at: float
    ) -> BuiltLeaf | None:
        def broken(tx: Tx) -> BuiltLeaf | None:
            build(tx)
            raise AuditError("disk full (simulated)")

        return super().append_one(start_index, broken, created_at=created_at)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(None, base_dir=tmp_path)


def _log(store: Store, storage: type[SqlAuditStorage] = SqlAuditStorage) -> AuditLog:
    skey, _ = generate_key("runwell.test/keys")
    return AuditLog.open(storage(store.db), skey)


def _changes(log: AuditLog) -> list[dict[str, object]]:
    return [e for e in (log.entry(i) for i in range(log.size)) if e["type"] == "change"]


def test_a_created_key_has_its_entry(store: Store) -> None:
    log = _log(store)
    key, secret = create_key(store, log, "billing", actor="ada", reason="new client")
    assert secret.startswith("rw-") and store.list_keys() == [key]
    [entry] = _changes(log)
    assert (entry["kind"], entry["subject"], entry["actor"], entry["reason"]) == (
        "api_key_created",
        key.id,
        "ada",
        "new client",
    )
    assert entry["after"] == {"id": key.id, "name": "billing"}


def test_when_the_audit_entry_cannot_be_stored_no_key_exists(store: Store) -> None:
    with pytest.raises(AuditError, match="simulated"):
        create_key(store, _log(store, AppendFails), "orphan", actor="ada")
    assert store.list_keys() == []  # no active key whose secret nobody has
    assert store.active_key_hashes() == {}


def test_revoking_twice_records_one_entry_under_the_keys_id(store: Store) -> None:
    log = _log(store)
    key, _ = create_key(store, log, "mobile", actor="ada")
    revoked, changed = revoke_key(store, log, "mobile", actor="bob", reason="leaked")
    assert changed and not revoked.active
    again, changed_again = revoke_key(store, log, key.id, actor="bob")
    assert not changed_again and again.revoked_at == revoked.revoked_at
    revokes = [e for e in _changes(log) if e["kind"] == "api_key_revoked"]
    assert len(revokes) == 1 and revokes[0]["subject"] == key.id and revokes[0]["reason"] == "leaked"


def test_a_duplicate_name_is_a_conflict_and_writes_nothing(store: Store) -> None:
    log = _log(store)
    create_key(store, log, "ci", actor="ada")
    size = log.size
    with pytest.raises(StoreConflict, match="already exists"):
        create_key(store, log, "ci", actor="ada")
    assert log.size == size and len(store.list_keys()) == 1


def test_revoking_an_unknown_key_is_not_found_and_writes_nothing(store: Store) -> None:
    log = _log(store)
    with pytest.raises(NotFoundError):
        revoke_key(store, log, "nobody", actor="ada")
    assert log.size == 0

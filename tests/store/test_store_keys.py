"""API keys: the secret is shown once and never stored; revocation by id or name."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from runwell.errors import ConfigError, NotFoundError, StoreConflict
from runwell.store import Store


def _stored_text(store: Store) -> str:
    """Everything the store holds about keys, as text, read behind the store's back."""
    if store.db.dialect == "sqlite":
        db = Path(store.url.removeprefix("sqlite:///"))
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    import psycopg

    with psycopg.connect(store.db._target) as conn:
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
    return repr(rows)


def test_create_returns_a_high_entropy_secret_and_stores_only_its_hash(store: Store) -> None:
    key, secret = store.create_key("mobile-app")

    assert re.fullmatch(r"rw-[A-Za-z0-9_-]{43}", secret)  # 32 random bytes, urlsafe base64
    assert key.name == "mobile-app" and key.active
    assert key.prefix == secret[:7] + "…"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert store.active_key_hashes() == {digest: key.id}

    stored = _stored_text(store)
    assert digest in stored  # we are looking at the right bytes...
    assert secret not in stored  # ...and the secret is not among them
    assert secret[7:] not in stored


def test_every_key_gets_its_own_secret(store: Store) -> None:
    (a, secret_a), (b, secret_b) = store.create_key("a"), store.create_key("b")
    assert a.id != b.id and secret_a != secret_b
    assert [k.name for k in store.list_keys()] == ["a", "b"]


def test_revoke_by_name_then_the_name_can_be_reused(store: Store) -> None:
    old, _ = store.create_key("ci")
    revoked = store.revoke_key("ci")
    assert revoked.id == old.id and revoked.revoked_at is not None and not revoked.active
    assert store.active_key_hashes() == {}

    new, secret = store.create_key("ci")
    assert store.active_key_hashes() == {hashlib.sha256(secret.encode()).hexdigest(): new.id}
    listed = {k.id: k for k in store.list_keys()}
    assert listed[old.id].revoked_at == pytest.approx(revoked.revoked_at)
    assert listed[new.id].active


def test_revoke_by_id_and_again_is_harmless(store: Store) -> None:
    key, _ = store.create_key("batch-jobs")
    first = store.revoke_key(key.id)
    again = store.revoke_key(key.id)
    assert again.revoked_at == pytest.approx(first.revoked_at)


def test_two_active_keys_cannot_share_a_name(store: Store) -> None:
    store.create_key("web")
    with pytest.raises(StoreConflict, match="already exists"):
        store.create_key(" web ")
    assert len(store.list_keys()) == 1


def test_an_empty_name_is_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match="name"):
        store.create_key("  ")


def test_revoking_an_unknown_or_ambiguous_key_fails_clearly(store: Store) -> None:
    with pytest.raises(NotFoundError, match=r"no API key .* 'nope'"):
        store.revoke_key("nope")
    first, _ = store.create_key("first")
    store.create_key(first.id)  # a key whose name is another key's id
    with pytest.raises(NotFoundError, match="several API keys"):
        store.revoke_key(first.id)
    assert all(k.active for k in store.list_keys())

"""The ``api_keys`` table: client keys, stored as the SHA-256 of their secret, never the secret.

Creating and revoking a key are state changes the audit log records. So that a key never exists
without its audit entry (or the other way round), each has a form that runs inside a transaction
the caller owns (:meth:`KeyTable.insert`, :meth:`KeyTable.revoke_in`): the audit log appends its
entry in that same transaction (``runwell.audit.changes``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from runwell.errors import ConfigError, NotFoundError, StoreConflict
from runwell.store._db import Database, Tx

__all__ = ["ApiKey", "KeyTable", "hash_secret", "new_key"]

_SECRET_PREFIX = "rw-"
_SHOWN_SECRET_CHARS = len(_SECRET_PREFIX) + 4  # "rw-abcd": enough to tell keys apart, useless to guess
_COLUMNS = "id, name, prefix, created_at, revoked_at"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One client API key as the store knows it: never the secret, only who and when.

    ``prefix`` is the start of the secret followed by an ellipsis (``rw-abcd…``) so an operator can
    match a key in a client's config to its row without the store holding the secret.
    """

    id: str
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        """``True`` until the key is revoked."""
        return self.revoked_at is None

    def to_dict(self) -> dict[str, Any]:
        """The key's fields (and ``active``), for JSON output."""
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "active": self.active,
        }


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of an API-key secret: what the store keeps and the gateway looks up.

    A fast hash is the right tool here, unlike for passwords: each secret carries 256 bits from
    ``secrets``, so no attacker holding the digests can enumerate candidates, whatever the hash's
    speed. Slow KDFs (bcrypt, argon2) exist to protect low-entropy human passwords; here they would
    only add milliseconds to every gateway request and rule out a plain dict lookup by digest.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key(name: str, *, now: float | None = None) -> tuple[ApiKey, str]:
    """A fresh key named ``name`` (stripped; ConfigError when empty) and its secret."""
    cleaned = name.strip()
    if not cleaned:
        raise ConfigError("an API key needs a name, e.g. the client or team that will use it")
    secret = _SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id="key_" + secrets.token_hex(8),
        name=cleaned,
        prefix=secret[:_SHOWN_SECRET_CHARS] + "…",
        created_at=time.time() if now is None else now,
    )
    return key, secret


class KeyTable:
    """API keys in one :class:`~runwell.store.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def insert(self, tx: Tx, key: ApiKey, secret: str) -> None:
        """Store ``key`` with the hash of ``secret``; StoreConflict when an active key has its name."""
        try:
            tx.execute(
                "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (key.id, key.name, key.prefix, hash_secret(secret), key.created_at),
            )
        except StoreConflict:
            raise self._duplicate(key.name) from None

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """Create a key (unique among active keys by name); returns it and its secret, shown once."""
        key, secret = new_key(name)
        try:
            with self._db.transaction(f"create API key {key.name!r}") as tx:
                self.insert(tx, key, secret)
        except StoreConflict:
            raise self._duplicate(key.name) from None
        return key, secret

    def list_keys(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id", action="list API keys"
        )
        return [ApiKey(*row) for row in rows]

    def revoke_in(self, tx: Tx, id_or_name: str) -> tuple[ApiKey, bool]:
        """Revoke the key with this id, or the active key with this name, in ``tx``.

        Returns the key as it is afterwards and whether this call changed it (revoking a revoked
        key changes nothing). NotFoundError when nothing or several keys match.
        """
        lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""
        rows = tx.query(
            f"SELECT {_COLUMNS} FROM api_keys WHERE id = ? OR (name = ? AND revoked_at IS NULL){lock}",
            (id_or_name, id_or_name),
        )
        keys = [ApiKey(*row) for row in rows]
        if not keys:
            raise NotFoundError(
                f"no API key with id or active name {id_or_name!r}; "
                "see 'runwell keys list' for ids and names",
                param="key",
                code="api_key_not_found",
            )
        if len(keys) > 1:
            ids = ", ".join(k.id for k in keys)
            raise NotFoundError(
                f"{id_or_name!r} matches several API keys ({ids}); revoke one by its id", param="key"
            )
        key = keys[0]
        if not key.active:
            return key, False
        revoked_at = time.time()
        tx.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (revoked_at, key.id))
        return replace(key, revoked_at=revoked_at), True

    def revoke_key(self, id_or_name: str) -> ApiKey:
        """Revoke a key (see :meth:`revoke_in`); revoking a revoked key returns it unchanged."""
        with self._db.transaction(f"revoke API key {id_or_name!r}") as tx:
            key, _changed = self.revoke_in(tx, id_or_name)
        return key

    def active_key_hashes(self) -> dict[str, str]:
        """``{sha256 hex digest of the secret: key id}`` for every active key (the gateway's cache)."""
        rows = self._db.query(
            "SELECT key_hash, id FROM api_keys WHERE revoked_at IS NULL", action="load active API keys"
        )
        return {str(key_hash): str(key_id) for key_hash, key_id in rows}

    def _duplicate(self, name: str) -> StoreConflict:
        return StoreConflict(
            f"an active API key named {name!r} already exists in {self._db.url}; revoke it first "
            f"('runwell keys revoke {name}') or choose another name"
        )

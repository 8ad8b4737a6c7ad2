"""The record store's interface, and the row mapping and key handling both SQL backends share.

The store is synchronous on purpose: the gateway calls it only from the recorder's writer thread
or through ``asyncio.to_thread``, never on the event loop, and the CLI calls it directly.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson

from runwell.errors import ConfigError, StoreError
from runwell.telemetry.record import RECORD_FIELDS, RequestRecord

__all__ = [
    "MIN_PREFIX_LEN",
    "ApiKey",
    "RecordStore",
    "check_key_name",
    "duplicate_key_name",
    "hash_secret",
    "list_records_query",
    "new_key_material",
    "record_from_row",
    "record_to_row",
    "single_key",
    "unique_prefix_match",
]

MIN_PREFIX_LEN = 8
"""Shortest request-id prefix :meth:`RecordStore.get_record` resolves (shorter ones must match exactly)."""

_SECRET_PREFIX = "rw-"
_SHOWN_SECRET_CHARS = len(_SECRET_PREFIX) + 4  # "rw-abcd": enough to tell keys apart, useless to guess


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


@runtime_checkable
class RecordStore(Protocol):
    """Where request records and API keys live. Every method may raise :class:`~runwell.errors.StoreError`.

    Implementations are thread-safe: the recorder's writer thread and ``asyncio.to_thread`` callers
    may use one instance at the same time.
    """

    url: str
    """Where this store lives, with any password masked (safe to print)."""

    def write_records(self, records: Sequence[RequestRecord]) -> None:
        """Insert ``records`` in one transaction; a request id already stored is skipped, so a
        retried batch never fails on its own earlier, half-acknowledged success."""
        ...

    def list_records(
        self, *, feature: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[RequestRecord]:
        """The newest ``limit`` records, newest first; optionally only of ``feature`` and only
        those started at or after ``since`` (epoch seconds)."""
        ...

    def get_record(self, request_id: str) -> RequestRecord | None:
        """The record with this id, or with this unique id prefix of at least :data:`MIN_PREFIX_LEN`
        characters; ``None`` when nothing matches. A prefix matching several records raises StoreError."""
        ...

    def count_records(self, feature: str | None = None) -> int:
        """How many records are stored (of one feature, when given)."""
        ...

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """Create an API key named ``name`` (unique among active keys); returns it and its secret.

        The secret is returned once and never stored: only its SHA-256 digest is.
        """
        ...

    def list_keys(self) -> list[ApiKey]:
        """Every key, active and revoked, oldest first."""
        ...

    def revoke_key(self, id_or_name: str) -> ApiKey:
        """Revoke the key with this id, or the active key with this name; returns it as revoked.

        Revoking a key that is already revoked returns it unchanged.
        """
        ...

    def active_key_hashes(self) -> dict[str, str]:
        """``{sha256 hex digest of the secret: key id}`` for every active key (the gateway's cache)."""
        ...

    def ping(self) -> None:
        """Prove the store is reachable and writable right now, with a tiny real write."""
        ...

    def close(self) -> None:
        """Release the connection; the store cannot be used afterwards."""
        ...


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of an API-key secret: what the store keeps and the gateway looks up.

    A fast hash is the right tool here, unlike for passwords: each secret carries 256 bits from
    ``secrets``, so no attacker holding the digests can enumerate candidates, whatever the hash's
    speed. Slow KDFs (bcrypt, argon2) exist to protect low-entropy human passwords; here they would
    only add milliseconds to every gateway request and rule out a plain dict lookup by digest.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key_material() -> tuple[str, str, str]:
    """A fresh ``(key id, secret, shown prefix)`` for :meth:`RecordStore.create_key`."""
    secret = _SECRET_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    return key_id, secret, secret[:_SHOWN_SECRET_CHARS] + "…"


def record_to_row(record: RequestRecord) -> tuple[Any, ...]:
    """The record's values in :data:`RECORD_FIELDS` order, ``prompt`` serialised as JSON text."""
    values = [getattr(record, name) for name in RECORD_FIELDS]
    prompt_at = RECORD_FIELDS.index("prompt")
    if values[prompt_at] is not None:
        values[prompt_at] = orjson.dumps(values[prompt_at]).decode("utf-8")
    return tuple(values)


def record_from_row(row: Sequence[Any]) -> RequestRecord:
    """Inverse of :func:`record_to_row` for a row selected in :data:`RECORD_FIELDS` order."""
    data = dict(zip(RECORD_FIELDS, row, strict=True))
    # SQLite has no boolean type and hands back 0/1.
    data["stream"] = bool(data["stream"])
    data["priced"] = bool(data["priced"])
    if data["prompt"] is not None:
        data["prompt"] = orjson.loads(data["prompt"])
    return RequestRecord(**data)


# The helpers below are shared by the SQL backends so both say the same thing the same way.


def list_records_query(
    columns: str, *, feature: str | None, since: float | None, limit: int, placeholder: str
) -> tuple[str, tuple[object, ...]]:
    """The newest-first ``SELECT`` behind ``list_records``, in either dialect's placeholder."""
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    clauses: list[str] = []
    params: list[object] = []
    if feature is not None:
        clauses.append(f"feature = {placeholder}")
        params.append(feature)
    if since is not None:
        clauses.append(f"started_at >= {placeholder}")
        params.append(since)
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    sql = (
        f"SELECT {columns} FROM requests {where}ORDER BY started_at DESC, request_id DESC LIMIT {placeholder}"
    )
    return sql, (*params, limit)


def unique_prefix_match(prefix: str, rows: Sequence[Sequence[Any]], where: str) -> RequestRecord | None:
    """The one record among ``rows`` (at most two, selected by id prefix), ``None`` if none."""
    if not rows:
        return None
    if len(rows) > 1:
        raise StoreError(
            f"request id prefix {prefix!r} matches more than one request in {where}; "
            "give more characters of the id"
        )
    return record_from_row(rows[0])


def check_key_name(name: str) -> str:
    """``name`` stripped; ConfigError when nothing is left."""
    cleaned = name.strip()
    if not cleaned:
        raise ConfigError("an API key needs a name, e.g. the client or team that will use it")
    return cleaned


def duplicate_key_name(name: str, where: str) -> StoreError:
    """The error for a second active key with the same name."""
    return StoreError(
        f"an active API key named {name!r} already exists in {where}; revoke it first "
        f"('runwell keys revoke {name}') or choose another name"
    )


def single_key(id_or_name: str, keys: Sequence[ApiKey], where: str) -> ApiKey:
    """The one key ``id_or_name`` selected; StoreError when it selected none or several."""
    if not keys:
        raise StoreError(
            f"no API key with id or active name {id_or_name!r} in {where}; "
            "see 'runwell keys list' for ids and names"
        )
    if len(keys) > 1:
        ids = ", ".join(k.id for k in keys)
        raise StoreError(f"{id_or_name!r} matches several API keys ({ids}); revoke one by its id")
    return keys[0]

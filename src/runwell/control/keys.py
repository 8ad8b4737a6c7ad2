"""Create and revoke client API keys, each with its audit entry in the same transaction.

A key never exists without the entry that says who created it (an audit failure leaves no active
key whose secret nobody has), and revoking a revoked key records nothing.
"""

from __future__ import annotations

from runwell.audit.log import AuditLog
from runwell.audit.open import StateChange, change_state
from runwell.store import ApiKey, Store, Tx, new_key

__all__ = ["create_key", "revoke_key"]


def create_key(store: Store, log: AuditLog, name: str, *, actor: str, reason: str = "") -> tuple[ApiKey, str]:
    """Create a key named ``name``; returns it and its secret (shown once, stored as a hash).

    Raises StoreConflict when an active key already has that name.
    """
    key, secret = new_key(name)

    def apply(tx: Tx) -> StateChange:
        store.keys.insert(tx, key, secret)
        return StateChange(None, {"id": key.id, "name": key.name})

    change_state(log, kind="api_key_created", subject=key.id, actor=actor, reason=reason, apply=apply)
    return key, secret


def revoke_key(
    store: Store, log: AuditLog, id_or_name: str, *, actor: str, reason: str = ""
) -> tuple[ApiKey, bool]:
    """Revoke a key by id or active name; returns it and whether this call revoked it.

    Raises NotFoundError when no key (or several) match.
    """
    found: list[tuple[ApiKey, bool]] = []

    def apply(tx: Tx) -> StateChange | None:
        key, changed = store.keys.revoke_in(tx, id_or_name)
        found[:] = [(key, changed)]
        return StateChange({"revoked": False}, {"revoked": True}, subject=key.id) if changed else None

    change_state(log, kind="api_key_revoked", subject=id_or_name, actor=actor, reason=reason, apply=apply)
    return found[0]

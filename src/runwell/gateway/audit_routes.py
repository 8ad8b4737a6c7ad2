"""``/audit/*``: the signed checkpoint, entries and proofs, for auditors and monitors.

Hashes are lower-case hex in JSON; entries are returned as their exact leaf text (RFC 8785
canonical JSON), so a client can hash them itself and check them against the proofs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from runwell.audit.errors import AuditError
from runwell.audit.log import AuditLog
from runwell.audit.merkle import leaf_hash
from runwell.errors import AuthError, RequestError
from runwell.gateway.asgi import Receive, Scope, Send, header, send_bytes, send_json
from runwell.gateway.auth import AdminToken, KeyCache

__all__ = ["MAX_ENTRIES_PER_PAGE", "AuditRoutes"]

MAX_ENTRIES_PER_PAGE = 1000


def _int_param(query: dict[str, list[str]], name: str, default: int | None = None) -> int:
    values = query.get(name)
    if not values:
        if default is None:
            raise RequestError(f"query parameter '{name}' is required (a non-negative integer)", param=name)
        return default
    try:
        value = int(values[0])
    except ValueError:
        raise RequestError(
            f"query parameter '{name}' must be a non-negative integer, got {values[0]!r}", param=name
        ) from None
    if value < 0:
        raise RequestError(f"query parameter '{name}' must be >= 0, got {value}", param=name)
    return value


class AuditRoutes:
    """Handlers for the audit endpoints; reads run in worker threads (the log is synchronous)."""

    def __init__(self, log: AuditLog, keys: KeyCache, admin: AdminToken, *, public: bool) -> None:
        self._log = log
        self._keys = keys
        self._admin = admin
        self._public = public

    def routes(self) -> dict[tuple[str, str], Callable[[Scope, Receive, Send, str], Awaitable[None]]]:
        """Route table entries for the gateway's router."""
        return {
            ("GET", "/audit/checkpoint"): self.checkpoint,
            ("GET", "/audit/entries"): self.entries,
            ("GET", "/audit/proof/inclusion"): self.inclusion,
            ("GET", "/audit/proof/consistency"): self.consistency,
        }

    def _authorize(self, scope: Scope, *, public_ok: bool) -> None:
        if public_ok and self._public:
            return
        authorization = header(scope, b"authorization")
        try:
            self._admin.check(authorization)
            return
        except AuthError:
            pass
        self._keys.authenticate(authorization)

    async def _size(self, size: int | None) -> int:
        current = await asyncio.to_thread(self._log.refresh)
        if size is None:
            return current
        if size > current:
            raise RequestError(
                f"the audit log has {current} entries; size {size} does not exist", param="size"
            )
        return size

    async def checkpoint(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """The latest signed checkpoint (C2SP signed note), as text/plain."""
        self._authorize(scope, public_ok=True)
        note = await asyncio.to_thread(self._log.latest_checkpoint)
        if note is None:
            note = await asyncio.to_thread(self._log.checkpoint_now)
        await send_bytes(
            send, 200, note.encode(), content_type=(b"content-type", b"text/plain; charset=utf-8")
        )

    async def entries(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """Leaf texts of entries [start, end): the admin token only.

        Entries name every client's users and decisions; a client key must not read other clients'
        entries. Clients check their own decisions through the public proofs and checkpoint.
        """
        self._admin.check(header(scope, b"authorization"))
        query = parse_qs(scope["query_string"].decode())
        start = _int_param(query, "start", 0)
        size = await self._size(None)
        end = _int_param(query, "end", min(size, start + MAX_ENTRIES_PER_PAGE))
        if end < start or end > size or end - start > MAX_ENTRIES_PER_PAGE:
            raise RequestError(
                f"need start <= end <= {size} (the log's size) and at most "
                f"{MAX_ENTRIES_PER_PAGE} entries per page; got start={start} end={end}",
                param="end",
            )
        leaves = await asyncio.to_thread(self._log.leaves, start, end)
        await send_json(
            send,
            200,
            {"start": start, "end": end, "size": size, "entries": [leaf.decode() for leaf in leaves]},
        )

    async def inclusion(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` entries."""
        self._authorize(scope, public_ok=True)
        query = parse_qs(scope["query_string"].decode())
        index = _int_param(query, "index")
        size = await self._size(_int_param(query, "size", 0) or None)
        if index >= size:
            raise RequestError(f"index {index} is not in a tree of {size} entries", param="index")
        try:
            proof = await asyncio.to_thread(self._log.inclusion_proof, index, size)
            leaf = (await asyncio.to_thread(self._log.leaves, index, index + 1))[0]
            root = await asyncio.to_thread(self._log.root, size)
        except AuditError as exc:
            raise RequestError(str(exc)) from None
        await send_json(
            send,
            200,
            {
                "index": index,
                "size": size,
                "leaf_hash": leaf_hash(leaf).hex(),
                "root": root.hex(),
                "proof": [h.hex() for h in proof],
            },
        )

    async def consistency(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """RFC 9162 consistency proof between tree sizes ``from`` and ``to``."""
        self._authorize(scope, public_ok=True)
        query = parse_qs(scope["query_string"].decode())
        old = _int_param(query, "from")
        new = await self._size(_int_param(query, "to"))
        if old > new:
            raise RequestError(f"'from' ({old}) must not exceed 'to' ({new})", param="from")
        proof = await asyncio.to_thread(self._log.consistency_proof, old, new)
        old_root = await asyncio.to_thread(self._log.root, old)
        new_root = await asyncio.to_thread(self._log.root, new)
        await send_json(
            send,
            200,
            {
                "from": old,
                "to": new,
                "old_root": old_root.hex(),
                "new_root": new_root.hex(),
                "proof": [h.hex() for h in proof],
            },
        )

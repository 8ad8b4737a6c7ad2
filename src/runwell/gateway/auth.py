"""Client API keys and the admin token, checked without touching the store on the request path.

Keys are stored hashed (SHA-256) in the record store. The gateway keeps an in-memory map of the
active hashes and refreshes it in the background, so a revoked key stops working within
``refresh_s`` seconds on every replica without a database round trip per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping

from runwell.errors import AuthError

__all__ = ["AdminToken", "KeyCache"]

_log = logging.getLogger("runwell.gateway")


def _bearer(authorization: bytes | None) -> bytes | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return None
    return token.strip()


class KeyCache:
    """Active API-key hashes, refreshed from the store in the background."""

    def __init__(self, load: Callable[[], Mapping[str, str]], *, refresh_s: float = 2.0) -> None:
        self._load = load
        self._refresh_s = refresh_s
        self._hashes: Mapping[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the keys once, then keep them fresh until :meth:`stop`."""
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="runwell-key-refresh")

    async def refresh(self) -> None:
        """Reload active key hashes (in a worker thread: the store is synchronous)."""
        self._hashes = dict(await asyncio.to_thread(self._load))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception:  # keep serving with the last good set; say so loudly
                _log.exception("could not refresh API keys; keeping the previous set")

    async def stop(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def authenticate(self, authorization: bytes | None) -> str:
        """Return the key id for an ``Authorization: Bearer`` header, or raise 401."""
        token = _bearer(authorization)
        if token is None:
            raise AuthError(
                "missing API key: send 'Authorization: Bearer <key>' "
                "(create one with 'runwell keys create NAME')",
                code="missing_api_key",
            )
        key_id = self._hashes.get(hashlib.sha256(token).hexdigest())
        if key_id is None:
            hint = "" if self._hashes else " (no API keys exist yet: 'runwell keys create NAME')"
            raise AuthError(f"invalid or revoked API key{hint}", code="invalid_api_key")
        return key_id


class AdminToken:
    """The separate token that guards admin endpoints; ``None`` disables them."""

    def __init__(self, token: str | None, env_name: str) -> None:
        self._token = token.encode() if token else None
        self._env_name = env_name

    @property
    def enabled(self) -> bool:
        """Whether admin endpoints accept requests at all."""
        return self._token is not None

    def check(self, authorization: bytes | None) -> None:
        """Raise 401 unless the header carries the admin token."""
        if self._token is None:
            raise AuthError(
                f"admin API is disabled: set {self._env_name} before starting the gateway",
                code="admin_disabled",
            )
        token = _bearer(authorization)
        if token is None or not hmac.compare_digest(token, self._token):
            raise AuthError("missing or wrong admin token", code="invalid_admin_token")

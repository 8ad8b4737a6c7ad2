"""The gateway's ASGI application: routes, lifespan, and the small non-chat endpoints.

Routing is a dict lookup on ``(method, path)``; the chat endpoint is the only hot path.
Start-up opens nothing by itself: everything the app needs is passed in as a :class:`Gateway`,
built by :mod:`runwell.gateway.build` (or by a test with its own parts).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import orjson

from runwell.audit.errors import AuditError
from runwell.audit.open import record_change
from runwell.errors import NotFoundError, RequestError, StoreError
from runwell.gateway.asgi import Receive, Scope, Send, header, read_body, send_bytes, send_error, send_json
from runwell.gateway.audit import AuditTrail
from runwell.gateway.audit_routes import AuditRoutes
from runwell.gateway.auth import AdminToken, KeyCache
from runwell.gateway.chat import ChatHandler
from runwell.gateway.readiness import Readiness
from runwell.gateway.runtime import Catalog
from runwell.providers.base import Provider
from runwell.telemetry.record import RequestRecord

__all__ = ["Gateway", "GatewayApp"]

_log = logging.getLogger("runwell.gateway")
Handler = Callable[[Scope, Receive, Send, str], Awaitable[None]]


class _Recorder(Protocol):
    def submit(self, record: RequestRecord) -> None: ...
    def close(self, timeout: float = ...) -> None: ...


class _Metrics(Protocol):
    def render(self) -> tuple[bytes, str]: ...


class _KeyStore(Protocol):
    def active_key_hashes(self) -> dict[str, str]: ...
    def create_key(self, name: str) -> tuple[Any, str]: ...
    def list_keys(self) -> list[Any]: ...
    def revoke_key(self, id_or_name: str) -> Any: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class Gateway:
    """Everything a running gateway holds, passed in rather than reached for."""

    catalog: Catalog
    store: _KeyStore
    recorder: _Recorder
    metrics: _Metrics
    admin: AdminToken
    providers: Sequence[Provider]
    max_body_bytes: int = 1 << 20
    key_refresh_s: float = 2.0
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)
    not_enforced: dict[str, list[str]] = field(default_factory=dict)
    audit: AuditTrail | None = None
    audit_public: bool = False


def _jsonable(obj: Any) -> Any:
    return asdict(obj) if hasattr(obj, "__dataclass_fields__") else obj


class GatewayApp:
    """ASGI 3 application serving one :class:`Gateway`."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.keys = KeyCache(gateway.store.active_key_hashes, refresh_s=gateway.key_refresh_s)
        self.chat = ChatHandler(
            gateway.catalog,
            self.keys,
            gateway.recorder.submit,
            audit=gateway.audit,
            max_body_bytes=gateway.max_body_bytes,
        )
        self.readiness = Readiness(self._readiness_checks())
        self.started_at = time.time()
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/healthz"): self._healthz,
            ("GET", "/readyz"): self._readyz,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/v1/models"): self._models,
            ("GET", "/admin/keys"): self._admin_list_keys,
            ("POST", "/admin/keys"): self._admin_create_key,
        }
        if gateway.audit is not None:
            audit_routes = AuditRoutes(
                gateway.audit.handle.log, self.keys, gateway.admin, public=gateway.audit_public
            )
            self._routes.update(audit_routes.routes())  # type: ignore[arg-type]

    def _readiness_checks(self) -> dict[str, Callable[[], Awaitable[Any]]]:
        store = self.gateway.store

        async def store_writable() -> None:
            await asyncio.to_thread(store.ping)

        checks: dict[str, Callable[[], Awaitable[Any]]] = {"store": store_writable}
        for provider in self.gateway.providers:
            checks[f"provider:{provider.name}"] = provider.probe
        return checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path == "/v1/chat/completions" and scope["method"] == "POST":
                await self.chat(scope, receive, send)
                return
            await self._dispatch(scope, receive, send, path)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        request_id = os.urandom(12).hex()
        handler = self._routes.get((scope["method"], path))
        try:
            if handler is None:
                if path.startswith("/admin/keys/") and scope["method"] == "DELETE":
                    await self._admin_revoke_key(scope, receive, send, path[len("/admin/keys/") :])
                    return
                known = {p for _, p in self._routes} | {"/v1/chat/completions"}
                if path in known:
                    raise RequestError(
                        f"method {scope['method']} is not allowed on {path}", code="method_not_allowed"
                    )
                raise NotFoundError(
                    f"no route {scope['method']} {path}; see GET /v1/models", code="unknown_route"
                )
            await handler(scope, receive, send, request_id)
        except RequestError as exc:
            status = 405 if exc.code == "method_not_allowed" else exc.status
            await send_error(
                send,
                status,
                exc.message,
                type=exc.type,
                request_id=request_id,
                param=exc.param,
                code=exc.code,
            )
        except StoreError as exc:
            await send_error(send, 503, str(exc), type="store_unavailable", request_id=request_id)
        except AuditError as exc:
            await send_error(
                send, 503, str(exc), type="server_error", request_id=request_id, code="audit_unavailable"
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.keys.start()
                    if self.gateway.audit is not None:
                        await self.gateway.audit.start()
                except Exception as exc:
                    _log.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def shutdown(self) -> None:
        """Stop background work, close providers, flush every record, close the store."""
        await self.keys.stop()
        for provider in self.gateway.providers:
            try:
                await provider.aclose()
            except Exception:
                _log.exception("closing provider %s failed", provider.name)
        await asyncio.to_thread(self.gateway.recorder.close)
        if self.gateway.audit is not None:
            await self.gateway.audit.stop()
        for hook in self.gateway.on_shutdown:
            hook()
        self.gateway.store.close()

    # -- small endpoints -------------------------------------------------------------------

    async def _healthz(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        await send_json(send, 200, {"status": "ok", "uptime_s": round(time.time() - self.started_at, 3)})

    async def _readyz(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        ready, body = await self.readiness.report()
        if self.gateway.not_enforced:
            body = {**body, "declared_not_enforced": self.gateway.not_enforced}
        await send_json(send, 200 if ready else 503, body)

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        body, content_type = self.gateway.metrics.render()
        await send_bytes(send, 200, body, content_type=(b"content-type", content_type.encode()))

    async def _models(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self.keys.authenticate(header(scope, b"authorization"))
        created = int(self.started_at)
        data = [
            {"id": mid, "object": "model", "created": created, "owned_by": "runwell"}
            for mid in self.gateway.catalog.model_ids()
        ]
        await send_json(send, 200, {"object": "list", "data": data})

    async def _admin_list_keys(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self.gateway.admin.check(header(scope, b"authorization"))
        keys = await asyncio.to_thread(self.gateway.store.list_keys)
        await send_json(send, 200, {"object": "list", "data": [_jsonable(k) for k in keys]})

    async def _admin_create_key(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self.gateway.admin.check(header(scope, b"authorization"))
        raw = await read_body(receive, 64 * 1024)
        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"request body is not valid JSON: {exc}") from None
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise RequestError("'name' must be a non-empty string naming the key's holder", param="name")
        reason = body.get("reason", "") if isinstance(body.get("reason", ""), str) else ""
        key, secret = await asyncio.to_thread(self.gateway.store.create_key, name.strip())
        await self._record_change("api_key_created", key.id, reason, None, {"id": key.id, "name": key.name})
        await self.keys.refresh()
        await send_json(send, 201, {**_jsonable(key), "secret": secret})

    async def _record_change(self, kind: str, subject: str, reason: str, before: Any, after: Any) -> None:
        if self.gateway.audit is None:
            return
        await asyncio.to_thread(
            record_change,
            self.gateway.audit.handle.log,
            kind=kind,
            subject=subject,
            actor="admin-api",
            reason=reason,
            before=before,
            after=after,
            at=time.time(),
        )

    async def _admin_revoke_key(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        self.gateway.admin.check(header(scope, b"authorization"))
        try:
            revoked = await asyncio.to_thread(self.gateway.store.revoke_key, key)
        except StoreError as exc:
            raise NotFoundError(str(exc), param="key") from None
        await self._record_change("api_key_revoked", revoked.id, "", {"revoked": False}, {"revoked": True})
        await self.keys.refresh()
        await send_json(send, 200, _jsonable(revoked))

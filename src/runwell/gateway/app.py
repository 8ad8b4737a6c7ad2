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
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson

from runwell.audit.errors import AuditError
from runwell.catalog import Catalog
from runwell.errors import NotFoundError, RequestError, StoreConflict, StoreError
from runwell.gateway.admin_routes import AdminRoutes
from runwell.gateway.asgi import (
    BodyDeadlines,
    InflightBytes,
    Receive,
    Scope,
    Send,
    header,
    send_bytes,
    send_error,
    send_json,
)
from runwell.gateway.audit import AuditTrail
from runwell.gateway.audit_routes import AuditRoutes
from runwell.gateway.auth import AdminToken, KeyCache
from runwell.gateway.background import Background, Job
from runwell.gateway.chat import ChatHandler
from runwell.gateway.deferred import Deferred
from runwell.gateway.extension import Extension, RouteAuth
from runwell.gateway.protection import Protection
from runwell.gateway.readiness import Readiness
from runwell.gateway.spend import Spend
from runwell.providers.base import Provider
from runwell.store import Store
from runwell.telemetry.record import RequestRecord

__all__ = ["Gateway", "GatewayApp", "GatewayLimits"]

_log = logging.getLogger("runwell.gateway")
Handler = Callable[[Scope, Receive, Send, str], Awaitable[None]]
_MODELS_PREFIX = "/v1/models/"
_QUEUED_PREFIX = "/v1/queued/"


class _Recorder(Protocol):
    def submit(self, record: RequestRecord) -> None: ...
    def close(self, timeout: float = ...) -> None: ...
    def failing_for(self) -> float: ...
    @property
    def pending(self) -> int: ...


class _Metrics(Protocol):
    def render(self) -> tuple[bytes, str]: ...


@dataclass(frozen=True)
class GatewayLimits:
    """Bounds that keep one client (or a crowd of slow ones) from exhausting the gateway."""

    max_body_bytes: int = 1 << 20
    body_timeout_s: float = 30.0
    inflight_body_bytes: int = 64 << 20
    """Request-body bytes buffered at once across all requests (503 past it)."""
    recorder_failing_s: float = 5.0
    """How long the record store may keep failing before ``/readyz`` reports it."""


@dataclass
class Gateway:
    """Everything a running gateway holds, passed in rather than reached for."""

    catalog: Catalog
    store: Store
    recorder: _Recorder
    metrics: _Metrics
    admin: AdminToken
    providers: Sequence[Provider]
    audit: AuditTrail
    protection: Protection
    spend: Spend
    deferred: Deferred
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    key_refresh_s: float = 2.0
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)
    not_enforced: dict[str, list[str]] = field(default_factory=dict)
    audit_public: bool = False
    background: Background = field(default_factory=lambda: Background([]))
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)


class GatewayApp:
    """ASGI 3 application serving one :class:`Gateway`."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        limits = gateway.limits
        self.keys = KeyCache(gateway.store.active_key_hashes, refresh_s=gateway.key_refresh_s)
        deadlines = BodyDeadlines(limits.body_timeout_s)
        gateway.background.add(Job("body-deadlines", 0.25, _expiring(deadlines)))
        self.chat = ChatHandler(
            gateway.catalog,
            self.keys,
            gateway.recorder.submit,
            gateway.protection,
            gateway.spend,
            gateway.deferred,
            audit=gateway.audit,
            user_hash_key=gateway.audit.user_hash_key,
            max_body_bytes=limits.max_body_bytes,
            body_timeout_s=limits.body_timeout_s,
            deadlines=deadlines,
            inflight=InflightBytes(limits.inflight_body_bytes),
            hooks=[e.hooks for e in gateway.extensions if e.hooks is not None],
        )
        self.readiness = Readiness(
            self._gateway_checks(),
            {name: feature.providers() for name, feature in gateway.catalog.features.items()},
        )
        self.started_at = time.time()
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/healthz"): self._healthz,
            ("HEAD", "/healthz"): self._healthz,
            ("GET", "/readyz"): self._readyz,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/v1/models"): self._models,
        }
        audit_routes = AuditRoutes(
            gateway.audit.handle.log, self.keys, gateway.admin, public=gateway.audit_public
        )
        self._routes.update(audit_routes.routes())
        self.admin = AdminRoutes(
            gateway.store,
            gateway.audit.handle.log,
            gateway.admin,
            self.keys,
            gateway.protection.levers,
            gateway.protection.breakers,
            frozenset(gateway.catalog.features),
            body_timeout_s=limits.body_timeout_s,
        )
        self._routes.update(self.admin.routes())
        auth = RouteAuth(self.keys, gateway.admin)
        self._extension_routes = [e.mount(auth) for e in gateway.extensions]
        for routes in self._extension_routes:
            self._routes.update(routes.fixed)

    def _gateway_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        gateway = self.gateway

        async def store_writable() -> None:
            await asyncio.to_thread(gateway.store.ping)

        async def audit_appending() -> None:
            ok, error = gateway.audit.health
            if not ok:
                raise RuntimeError(f"the last audit append failed ({error}); chat answers get 503")

        async def records_flowing() -> None:
            failing = gateway.recorder.failing_for()
            if failing >= gateway.limits.recorder_failing_s:
                raise RuntimeError(
                    f"request records have not been written for {failing:.0f}s "
                    f"({gateway.recorder.pending} waiting in memory)"
                )

        return {"store": store_writable, "audit": audit_appending, "recorder": records_flowing}

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
        request_id = _request_id()
        method = scope["method"]
        handler = self._routes.get((method, path))
        try:
            if handler is None:
                handler = self._prefixed(method, path)
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
        except StoreConflict as exc:
            await send_error(
                send, 409, str(exc), type="invalid_request_error", request_id=request_id, code="conflict"
            )
        except StoreError as exc:
            await send_error(send, 503, str(exc), type="store_unavailable", request_id=request_id)
        except AuditError as exc:
            await send_error(
                send, 503, str(exc), type="server_error", request_id=request_id, code="audit_unavailable"
            )

    def _prefixed(self, method: str, path: str) -> Handler:
        """Routes with an id in the path, then 405 or 404 naming what exists."""
        if method == "GET" and path.startswith(_MODELS_PREFIX) and len(path) > len(_MODELS_PREFIX):
            model = path[len(_MODELS_PREFIX) :]
            return lambda scope, receive, send, rid: self._model(scope, send, model)
        if method == "GET" and path.startswith(_QUEUED_PREFIX) and len(path) > len(_QUEUED_PREFIX):
            ticket = path[len(_QUEUED_PREFIX) :]
            return lambda scope, receive, send, rid: self._queued(scope, send, ticket)
        admin = self.admin.prefixed(method, path)
        if admin is not None:
            return admin
        for routes in self._extension_routes:
            found = routes.prefixed(method, path)
            if found is not None:
                return found
        known = {p for _, p in self._routes} | {"/v1/chat/completions"}
        if path in known:
            raise RequestError(f"method {method} is not allowed on {path}", code="method_not_allowed")
        raise NotFoundError(f"no route {method} {path}; see GET /v1/models", code="unknown_route")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.keys.start()
                    await self.gateway.audit.start()
                    for hook in self.gateway.on_startup:
                        await hook()
                    await self.gateway.background.start()
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
        await self.gateway.background.stop()
        await self.keys.stop()
        for provider in self.gateway.providers:
            try:
                await provider.aclose()
            except Exception:
                _log.exception("closing provider %s failed", provider.name)
        await asyncio.to_thread(self.gateway.recorder.close)
        for close in self.gateway.on_close:
            try:
                await close()
            except Exception:
                _log.exception("closing the run-time protection failed")
        await self.gateway.audit.stop()
        for hook in self.gateway.on_shutdown:
            hook()
        self.gateway.store.close()

    # -- small endpoints -------------------------------------------------------------------

    async def _healthz(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        body = orjson.dumps({"status": "ok", "uptime_s": round(time.time() - self.started_at, 3)})
        if scope["method"] == "HEAD":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send_bytes(send, 200, body)

    async def _readyz(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        feature = query.get("feature", [None])[0]
        if feature is not None and feature not in self.gateway.catalog.features:
            raise NotFoundError(f"no feature named {feature!r}", param="feature", code="model_not_found")
        detailed = self._is_admin(scope)
        ready, body = await self.readiness.report(feature=feature, detailed=detailed)
        body = {**body, **self._protection_status(body)}
        if self.gateway.not_enforced:
            body = {**body, "declared_not_enforced": self.gateway.not_enforced}
        await send_json(send, 200 if ready else 503, body)

    def _is_admin(self, scope: Scope) -> bool:
        try:
            self.gateway.admin.check(header(scope, b"authorization"))
        except RequestError:
            return False
        return True

    async def _metrics(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        body, content_type = self.gateway.metrics.render()
        await send_bytes(send, 200, body, content_type=(b"content-type", content_type.encode()))

    def _model_object(self, model_id: str) -> dict[str, object]:
        return {"id": model_id, "object": "model", "created": int(self.started_at), "owned_by": "runwell"}

    async def _models(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self.keys.authenticate(header(scope, b"authorization"))
        data = [self._model_object(mid) for mid in self.gateway.catalog.model_ids()]
        await send_json(send, 200, {"object": "list", "data": data})

    async def _model(self, scope: Scope, send: Send, model_id: str) -> None:
        self.keys.authenticate(header(scope, b"authorization"))
        if model_id not in self.gateway.catalog.model_ids():
            raise NotFoundError(
                f"no model {model_id!r}; GET /v1/models lists the features and variants served",
                param="model",
                code="model_not_found",
            )
        await send_json(send, 200, self._model_object(model_id))

    async def _queued(self, scope: Scope, send: Send, ticket: str) -> None:
        key_id = self.keys.authenticate(header(scope, b"authorization"))
        await send_json(send, 200, await self.gateway.deferred.fetch(ticket, key_id))

    def _protection_status(self, body: dict[str, Any]) -> dict[str, Any]:
        """The levers and breakers in force, for ``/readyz``: killed features say so."""
        levers = self.gateway.protection.levers.current
        now = time.time()
        for name, feature in body.get("features", {}).items():
            if levers.is_killed(name):
                feature["killed"] = True
            off = sorted(g for (f, g), until in levers.guardrails_off.items() if f == name and until > now)
            if off:
                feature["guardrails_off"] = off
        breakers = self.gateway.protection.breakers
        status: dict[str, Any] = {
            "breakers": [b.as_dict() for b in breakers.snapshot()],
            "breaker_sharing": breakers.sharing_status(),
            "budgets": self.gateway.spend.describe(),
        }
        for extension in self.gateway.extensions:
            if extension.status is not None:
                status.update(extension.status())
        return status


def _expiring(deadlines: BodyDeadlines) -> Callable[[], Awaitable[None]]:
    async def tick() -> None:
        deadlines.expire()

    return tick


def _request_id() -> str:
    return os.urandom(12).hex()

"""``/admin/*``: API keys and the operator's levers over HTTP, behind the admin token.

The same changes as the CLI (``runwell keys``, ``kill``, ``guardrail``, ``flag``, ``budget``), made
by the same functions, so each is one audited state change. The actor is ``admin-api``, or
``admin-api:<name>`` when the caller sends ``x-runwell-actor``. A lever change takes effect on this
replica at once and on the others within their lever poll (0.5 s).

=========================================  =====================================================
``GET /admin/keys``                        list keys
``POST /admin/keys``                       ``{"name", "reason"}``: create (the secret once)
``DELETE /admin/keys/{id}?reason=``        revoke
``GET /admin/levers``                      every lever away from its default, and the breakers
``POST /admin/kill``                       ``{"feature", "variant"?, "reason"}``
``POST /admin/unkill``                     ``{"feature", "variant"?, "reason"}``
``POST /admin/guardrails``                 ``{"feature", "guardrail", "on", "reason", "for_s"?}``
``PUT /admin/flags/{key}``                 ``{"definition": {...} | null, "reason"}``
``POST /admin/budgets``                    ``{"feature", "limit", "value": n | null, "reason", "for_s"?}``
=========================================  =====================================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from runwell.audit.log import AuditLog
from runwell.control import keys as key_changes
from runwell.control import levers
from runwell.control.flags import FlagDefinition, FlagError
from runwell.errors import ConfigError, RequestError
from runwell.gateway.asgi import Receive, Scope, Send, header, read_body, send_json
from runwell.gateway.auth import AdminToken, KeyCache
from runwell.gateway.protection import LeverSource
from runwell.resilience import BreakerRegistry
from runwell.store import Store

__all__ = ["AdminRoutes"]

Handler = Callable[[Scope, Receive, Send, str], Awaitable[None]]
_KEYS_PREFIX = "/admin/keys/"
_FLAGS_PREFIX = "/admin/flags/"


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"'{name}' must be a non-empty string", param=name)
    return value


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RequestError(f"'{name}' must be a positive number, got {value!r}", param=name)
    return float(value)


class AdminRoutes:
    """Handlers for ``/admin/*``; every change runs in a worker thread (the store is synchronous)."""

    def __init__(
        self,
        store: Store,
        log: AuditLog,
        admin: AdminToken,
        keys: KeyCache,
        lever_cache: LeverSource,
        breakers: BreakerRegistry,
        features: frozenset[str],
        *,
        body_timeout_s: float,
    ) -> None:
        self._store = store
        self._log = log
        self._admin = admin
        self._keys = keys
        self._levers = lever_cache
        self._breakers = breakers
        self._features = features
        self._body_timeout_s = body_timeout_s

    def routes(self) -> dict[tuple[str, str], Handler]:
        """Fixed-path routes for the gateway's router."""
        return {
            ("GET", "/admin/keys"): self.list_keys,
            ("POST", "/admin/keys"): self.create_key,
            ("GET", "/admin/levers"): self.show_levers,
            ("POST", "/admin/kill"): self.kill,
            ("POST", "/admin/unkill"): self.unkill,
            ("POST", "/admin/guardrails"): self.guardrail,
            ("POST", "/admin/budgets"): self.budget,
        }

    def prefixed(self, method: str, path: str) -> Handler | None:
        """Routes with an id in the path."""
        if method == "DELETE" and path.startswith(_KEYS_PREFIX) and len(path) > len(_KEYS_PREFIX):
            key = path[len(_KEYS_PREFIX) :]
            return lambda scope, receive, send, rid: self.revoke_key(scope, send, key)
        if method == "PUT" and path.startswith(_FLAGS_PREFIX) and len(path) > len(_FLAGS_PREFIX):
            flag = unquote(path[len(_FLAGS_PREFIX) :])
            return lambda scope, receive, send, rid: self.set_flag(scope, receive, send, flag)
        return None

    # -- helpers -----------------------------------------------------------------------------------

    def _actor(self, scope: Scope) -> str:
        self._admin.check(header(scope, b"authorization"))
        name = header(scope, b"x-runwell-actor")
        return "admin-api" if not name else "admin-api:" + name.decode("utf-8", "replace")[:80]

    async def _body(self, receive: Receive) -> dict[str, Any]:
        raw = await read_body(receive, 64 * 1024, timeout_s=self._body_timeout_s)
        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError("request body must be a JSON object")
        return body

    def _feature(self, body: dict[str, Any]) -> str:
        feature = _text(body, "feature")
        assert feature is not None
        if feature not in self._features:
            raise RequestError(
                f"no feature {feature!r} on this gateway; it serves {', '.join(sorted(self._features))}",
                param="feature",
            )
        return feature

    async def _change(self, action: Callable[[], bool]) -> bool:
        try:
            changed = await asyncio.to_thread(action)
        except ConfigError as exc:
            raise RequestError(str(exc)) from None
        await asyncio.to_thread(self._levers.refresh)
        return changed

    # -- keys --------------------------------------------------------------------------------------

    async def list_keys(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self._admin.check(header(scope, b"authorization"))
        keys = await asyncio.to_thread(self._store.list_keys)
        await send_json(send, 200, {"object": "list", "data": [k.to_dict() for k in keys]})

    async def create_key(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RequestError("'name' must be a non-empty string naming the key's holder", param="name")
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise RequestError("'reason' must be a string", param="reason")
        key, secret = await asyncio.to_thread(
            key_changes.create_key, self._store, self._log, name, actor=actor, reason=reason
        )
        await self._keys.refresh()
        await send_json(send, 201, {**key.to_dict(), "secret": secret})

    async def revoke_key(self, scope: Scope, send: Send, key: str) -> None:
        actor = self._actor(scope)
        reason = parse_qs(scope.get("query_string", b"").decode()).get("reason", [""])[0]
        revoked, _changed = await asyncio.to_thread(
            key_changes.revoke_key, self._store, self._log, key, actor=actor, reason=reason
        )
        await self._keys.refresh()
        await send_json(send, 200, revoked.to_dict())

    # -- levers ------------------------------------------------------------------------------------

    async def show_levers(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self._admin.check(header(scope, b"authorization"))
        rows = await asyncio.to_thread(levers.list_levers, self._store.db)
        breakers = [b.as_dict() for b in self._breakers.snapshot()]
        await send_json(
            send,
            200,
            {"object": "list", "data": [r.to_dict() for r in rows], "breakers": breakers},
        )

    async def kill(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        await self._kill(scope, receive, send, killed=True)

    async def unkill(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        await self._kill(scope, receive, send, killed=False)

    async def _kill(self, scope: Scope, receive: Receive, send: Send, *, killed: bool) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        feature, variant = self._feature(body), _text(body, "variant", required=False)
        reason = _text(body, "reason") or ""
        change = levers.kill if killed else levers.unkill
        changed = await self._change(
            lambda: change(self._log, feature, variant=variant, actor=actor, reason=reason)
        )
        subject = feature if variant is None else f"{feature}@{variant}"
        await send_json(send, 200, {"subject": subject, "killed": killed, "changed": changed})

    async def guardrail(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        feature, name = self._feature(body), _text(body, "guardrail") or ""
        on = body.get("on")
        if not isinstance(on, bool):
            raise RequestError("'on' must be true or false", param="on")
        reason = _text(body, "reason") or ""
        for_s = _number(body, "for_s")
        changed = await self._change(
            lambda: levers.switch_guardrail(
                self._log, feature, name, on=on, actor=actor, reason=reason, for_s=for_s
            )
        )
        await send_json(send, 200, {"feature": feature, "guardrail": name, "on": on, "changed": changed})

    async def set_flag(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        reason = _text(body, "reason") or ""
        raw = body.get("definition")
        definition: dict[str, Any] | None = None
        if raw is not None:
            if not isinstance(raw, dict):
                raise RequestError("'definition' must be a flag definition object, or null to delete")
            try:
                definition = FlagDefinition.from_dict(raw).to_dict()
            except FlagError as exc:
                raise RequestError(f"flag {key}: {exc}", param="definition") from None
        changed = await self._change(
            lambda: levers.set_flag(self._log, key, definition, actor=actor, reason=reason)
        )
        await send_json(send, 200, {"key": key, "definition": definition, "changed": changed})

    async def budget(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        feature, limit = self._feature(body), _text(body, "limit") or ""
        value, reason, for_s = _number(body, "value"), _text(body, "reason") or "", _number(body, "for_s")
        changed = await self._change(
            lambda: levers.set_budget(
                self._log, feature, limit, value, actor=actor, reason=reason, for_s=for_s
            )
        )
        await send_json(send, 200, {"feature": feature, "limit": limit, "value": value, "changed": changed})

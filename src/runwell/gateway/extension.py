"""The seam through which the experiment and operations layers plug into the gateway.

The gateway core (routing, protection, the audit trail, records) knows nothing of rollouts, alerts or
incidents. Each of those layers builds one :class:`Extension` at start-up from an
:class:`ExtensionContext` (everything the gateway opened), and contributes:

- background :class:`~runwell.gateway.background.Job` s, start-up and shutdown hooks;
- HTTP routes, mounted with the gateway's key cache and admin token (:class:`RouteAuth`);
- :class:`RequestHooks` the chat pipeline calls: ``route`` may choose the variant of a request that
  did not name one (a rollout's split), ``answered`` sees every finished request (to shadow it,
  sample it for online evaluation or review). Hooks run on the request path: they must only read
  memory and schedule work, never wait on I/O. A hook that will never act on a feature says so with
  an optional ``wants(feature) -> bool`` (asked once per feature) and is then not called at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from runwell.gateway.asgi import Receive, Scope, Send
from runwell.gateway.background import Job

if TYPE_CHECKING:
    from runwell.audit.log import AuditLog
    from runwell.catalog import Catalog, VariantRuntime
    from runwell.gateway.audit import AuditTrail
    from runwell.gateway.auth import AdminToken, KeyCache
    from runwell.gateway.build import GatewaySettings
    from runwell.gateway.context import RequestContext
    from runwell.gateway.events import Events
    from runwell.gateway.protection import Protection
    from runwell.gateway.spend import Spend
    from runwell.spec.loader import LoadedSpec
    from runwell.store import Store
    from runwell.telemetry.metrics import Metrics
    from runwell.telemetry.record import RequestRecord

__all__ = ["Extension", "ExtensionContext", "Handler", "RequestHooks", "RouteAuth", "Routes", "hooks_for"]

Handler = Callable[[Scope, Receive, Send, str], Awaitable[None]]
"""An HTTP handler: ``(scope, receive, send, request id)``."""


class RequestHooks(Protocol):
    """What a layer does on each chat request (see the module docstring)."""

    def route(self, ctx: RequestContext) -> VariantRuntime | None:
        """The variant to serve a request whose client named none, or ``None`` to leave it be.

        May set ``ctx.arm`` (``baseline`` or ``candidate``) and ``ctx.flags`` entries."""
        ...

    def answered(self, ctx: RequestContext) -> None:
        """Called once the request is finished (answered, refused or failed), before its record is
        submitted. Must not block."""
        ...


def hooks_for(hooks: Sequence[RequestHooks], feature: str) -> tuple[RequestHooks, ...]:
    """The hooks to call on requests of ``feature``, decided once per feature.

    A hook may define ``wants(feature: str) -> bool``; ``False`` promises that it will never act on
    that feature's requests for the life of the process (no rollout can start there, no sampling
    is configured), and the chat pipeline then skips it entirely, ``route`` and ``answered`` alike.
    A hook without ``wants`` is always called.
    """
    chosen = []
    for hook in hooks:
        wants = getattr(hook, "wants", None)
        if wants is None or wants(feature):
            chosen.append(hook)
    return tuple(chosen)


@dataclass(frozen=True)
class RouteAuth:
    """How routes authenticate: client keys and the admin token."""

    keys: KeyCache
    admin: AdminToken


@dataclass
class Routes:
    """HTTP routes a layer adds: fixed paths, and paths with an id in them."""

    fixed: dict[tuple[str, str], Handler] = field(default_factory=dict)
    prefixed: Callable[[str, str], Handler | None] = lambda method, path: None


@dataclass
class ExtensionContext:
    """Everything the gateway opened, for a layer to build on."""

    settings: GatewaySettings
    specs: Sequence[LoadedSpec]
    catalog: Catalog
    store: Store
    log: AuditLog
    trail: AuditTrail
    metrics: Metrics
    submit: Callable[[RequestRecord], None]
    protection: Protection
    spend: Spend
    events: Events


@dataclass
class Extension:
    """What one layer contributes to the gateway."""

    name: str
    jobs: list[Job] = field(default_factory=list)
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    hooks: RequestHooks | None = None
    mount: Callable[[RouteAuth], Routes] = lambda auth: Routes()
    status: Callable[[], dict[str, Any]] | None = None
    """Extra ``/readyz`` keys (e.g. the rollout state of each feature)."""

"""Start-up wiring of the run-time protection: levers, breakers, budgets, events and queued answers.

Builds, from the specs and the gateway's settings, the objects the request path reads and the
background jobs that keep them current:

=================  =======  ===========================================================
job                every    what it does
=================  =======  ===========================================================
``levers``         0.5 s    reload the operator's levers when ``lever_version`` moved
                            (how a kill switch reaches every replica within a second)
``lever-expiry``   1 s      switch back expired guardrail overrides (audited)
``breakers``       0.5 s    share breaker openings through Redis (with ``--redis``)
``events``         0.5 s    append queued run-time events to the audit log
``queued``         1 s      answer queued requests that are due
=================  =======  ===========================================================

With ``--redis URL`` budgets live in Redis (:class:`RedisBudgets`: atomic across replicas) and
breaker openings are shared; without it budgets are in-process (:class:`LocalBudgets`, seeded at
start-up with today's and this month's spend from the stored records) and each replica has its
own breakers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runwell.audit.log import AuditLog
from runwell.catalog import Catalog
from runwell.control.budgets import Budgets, LocalBudgets, RedisBudgets
from runwell.control.levers import LeverCache, expire
from runwell.errors import ConfigError
from runwell.gateway.audit import AuditTrail
from runwell.gateway.background import Job
from runwell.gateway.deferred import Deferred
from runwell.gateway.events import Events
from runwell.gateway.protection import Protection, feature_controls
from runwell.gateway.queue import QueueTable
from runwell.gateway.spend import Spend
from runwell.guardrails import InjectionDetector
from runwell.resilience import BreakerRegistry
from runwell.spec.loader import LoadedSpec
from runwell.store import Store, mask_url
from runwell.telemetry.metrics import Metrics
from runwell.telemetry.recorder import Recorder

if TYPE_CHECKING:
    from runwell.gateway.build import GatewaySettings

__all__ = ["Guarding", "build_protection"]


@dataclass
class Guarding:
    """What :func:`build_protection` hands the gateway."""

    protection: Protection
    spend: Spend
    deferred: Deferred
    events: Events
    jobs: list[Job] = field(default_factory=list)
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def _redis_client(url: str) -> object:
    from redis.asyncio import Redis

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"--redis must be a redis://, rediss:// or unix:// URL, got {mask_url(url)!r}")
    try:
        return Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    except ValueError as exc:
        raise ConfigError(f"--redis {mask_url(url)!r} is not a valid Redis URL: {exc}") from None


def build_protection(
    settings: GatewaySettings,
    specs: Sequence[LoadedSpec],
    catalog: Catalog,
    store: Store,
    log: AuditLog,
    metrics: Metrics,
    recorder: Recorder,
    trail: AuditTrail,
) -> Guarding:
    """Build the protection of every feature and the jobs that keep it current."""
    events = Events(log, metrics.event)
    redis = _redis_client(settings.redis_url) if settings.redis_url else None
    breakers = BreakerRegistry(redis=redis, on_transition=events.breaker_transition)  # type: ignore[arg-type]
    metrics.watch_breakers(lambda: [(b.provider, b.model, b.state.value) for b in breakers.snapshot()])
    levers = LeverCache(store.db)
    levers.refresh()
    detectors: dict[float | None, InjectionDetector] = {}
    features = {
        loaded.name: feature_controls(
            loaded, catalog.features[loaded.name], detectors=detectors, breakers=breakers
        )
        for loaded in specs
    }
    protection = Protection(features, levers, breakers)
    budgets: Budgets = RedisBudgets(settings.redis_url) if settings.redis_url else LocalBudgets()
    fail_open = {s.name: s.spec.budgets.on_store_unavailable == "fail_open" for s in specs}
    spend = Spend(budgets, fail_open=fail_open, on_event=events.emit)
    queue = QueueTable(store.db, first_try_s=settings.queue_first_try_s)
    deferred = Deferred(queue, catalog, protection, spend, recorder.submit, audit=trail)

    async def refresh_levers() -> None:
        await asyncio.to_thread(levers.refresh)

    async def expire_levers() -> None:
        if await asyncio.to_thread(expire, log, store.db):
            await asyncio.to_thread(levers.refresh)

    async def sync_breakers() -> None:
        await breakers.sync()

    jobs = [
        Job("levers", settings.lever_poll_s, refresh_levers),
        Job("lever-expiry", 1.0, expire_levers),
        Job("events", 0.5, events.flush),
        Job("queued", 1.0, deferred.work),
    ]
    if redis is not None:
        jobs.append(Job("breakers", 0.5, sync_breakers))
    startup: list[Callable[[], Awaitable[None]]] = []
    if isinstance(budgets, LocalBudgets):
        local = budgets

        async def seed() -> None:
            await local.seed_from_records(store.db)

        startup.append(seed)

    async def close() -> None:
        await events.flush()
        await budgets.aclose()
        if redis is not None:
            await redis.aclose()  # type: ignore[attr-defined]

    return Guarding(protection, spend, deferred, events, jobs, startup, [close])

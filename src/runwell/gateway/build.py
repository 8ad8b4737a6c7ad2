"""Assemble a :class:`Gateway` from spec files and settings: the one place start-up wiring lives."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runwell.audit.log import CheckpointPolicy
from runwell.audit.open import AuditHandle, default_actor, last_change, open_audit_log, record_change
from runwell.catalog import build_catalog
from runwell.errors import ConfigError
from runwell.gateway.app import Gateway, GatewayLimits
from runwell.gateway.audit import AuditTrail
from runwell.gateway.auth import AdminToken
from runwell.gateway.background import Background, Job
from runwell.gateway.console_setup import build_console
from runwell.gateway.enforcement import declared_not_enforced
from runwell.gateway.experiments_setup import build_experiments
from runwell.gateway.extension import ExtensionContext
from runwell.gateway.operations_setup import build_operations
from runwell.gateway.protection_setup import build_protection
from runwell.gateway.recovery import recover_lost_records
from runwell.spec.loader import LoadedSpec, load_spec
from runwell.store import open_store
from runwell.telemetry.export import otel_sink_from_env
from runwell.telemetry.metrics import Metrics
from runwell.telemetry.recorder import MetricsSink, Recorder, Sink, StoreSink

__all__ = ["GatewaySettings", "build_gateway"]

_log = logging.getLogger("runwell.gateway")


@dataclass(frozen=True)
class GatewaySettings:
    """Start-up settings, read once (from flags and the environment) by the CLI."""

    spec_paths: Sequence[Path]
    db_url: str | None = None
    base_dir: Path | None = None
    admin_token_env: str = "RUNWELL_ADMIN_TOKEN"
    audit_key_path: Path | None = None
    audit_public: bool = False
    checkpoint_every_entries: int = 100
    checkpoint_every_seconds: float = 10.0
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    key_refresh_s: float = 2.0
    redis_url: str | None = None
    """Share budgets and breaker states with the other replicas (``--redis``); in-process otherwise."""
    lever_poll_s: float = 0.5
    queue_first_try_s: float = 5.0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def build_gateway(settings: GatewaySettings) -> Gateway:
    """Load the specs, open the store, audit log and telemetry, and return a ready-to-serve gateway.

    The store, the audit log and every other table share one database (one connection pool).
    """
    if not settings.spec_paths:
        raise ConfigError("no spec given: pass --spec PATH (a runwell.yaml), or run in its directory")
    specs = [load_spec(p) for p in settings.spec_paths]
    base_dir = settings.base_dir or specs[0].base_dir
    catalog, providers = build_catalog(specs)
    not_enforced = {s.name: declared_not_enforced(s.spec) for s in specs}
    for feature, sections in not_enforced.items():
        if sections:
            _log.warning(
                "feature %s declares %s, which this runwell version validates but does NOT enforce yet",
                feature,
                ", ".join(sections),
            )
    # No commit of a request pays for a WAL checkpoint: a background job runs them (SQLite only).
    store = open_store(settings.db_url, base_dir=base_dir, wal_autocheckpoint=0)
    try:
        policy = CheckpointPolicy(settings.checkpoint_every_entries, settings.checkpoint_every_seconds)
        audit = open_audit_log(
            base_dir, db=store.db, key_path=settings.audit_key_path, policy=policy, environ=settings.environ
        )
        _record_deploys(audit, specs, settings.environ)
        recover_lost_records(audit.log, store)
        metrics = Metrics()
        sinks: list[Sink] = [StoreSink(store, metrics=metrics), MetricsSink(metrics)]
        capture = {name: f.capture_content for name, f in catalog.features.items()}
        otel = otel_sink_from_env(
            settings.environ, capture_content=lambda feature: capture.get(feature, False)
        )
        if otel is not None:
            sinks.append(otel)
            _log.info("exporting OpenTelemetry spans over OTLP")
    except BaseException:
        store.close()
        raise
    token = settings.environ.get(settings.admin_token_env) or None
    recorder = Recorder(sinks, metrics=metrics)
    trail = AuditTrail(audit)
    try:
        guard = build_protection(settings, specs, catalog, store, audit.log, metrics, recorder, trail)
    except BaseException:
        store.close()
        raise
    context = ExtensionContext(
        settings, specs, catalog, store, audit.log, trail, metrics, recorder.submit,
        guard.protection, guard.spend, guard.events,
    )  # fmt: skip
    try:
        extensions = [build_experiments(context), build_operations(context), build_console(context)]
    except BaseException:
        store.close()
        raise
    jobs = [Job("wal-checkpoint", 1.0, lambda: asyncio.to_thread(store.db.checkpoint_wal)), *guard.jobs]
    for extension in extensions:
        jobs += extension.jobs
    return Gateway(
        catalog=catalog,
        store=store,
        recorder=recorder,
        metrics=metrics,
        admin=AdminToken(token, settings.admin_token_env),
        providers=providers,
        audit=trail,
        protection=guard.protection,
        spend=guard.spend,
        deferred=guard.deferred,
        limits=settings.limits,
        key_refresh_s=settings.key_refresh_s,
        not_enforced={k: v for k, v in not_enforced.items() if v},
        audit_public=settings.audit_public,
        background=Background(jobs),
        on_startup=[*guard.on_startup, *(hook for e in extensions for hook in e.on_startup)],
        on_close=[*(hook for e in extensions for hook in e.on_close), *guard.on_close],
        extensions=extensions,
    )


def _record_deploys(audit: AuditHandle, specs: Sequence[LoadedSpec], environ: Mapping[str, str]) -> None:
    """Append a ``spec_deployed`` change for each feature whose spec version changed."""
    for loaded in specs:
        last = last_change(audit.log, "spec_deployed", loaded.name)
        before = last["after"] if last else None
        if before == loaded.version:
            continue
        record_change(
            audit.log,
            kind="spec_deployed",
            subject=loaded.name,
            actor=default_actor(environ),
            reason="runwell serve started with this spec",
            before=before,
            after=loaded.version,
            at=time.time(),
        )
        _log.info("audit: spec of %s deployed (%s -> %s)", loaded.name, before, loaded.version)

"""Start-up wiring of the experiment layer: rollouts, shadow traffic, online evaluation, feedback, drift.

Builds the :class:`~runwell.gateway.extension.Extension` the gateway mounts, from each feature's
``rollout`` section:

=================  ==============  =============================================================
job                every           what it does
=================  ==============  =============================================================
``rollouts``       0.5 s           reload a rollout state another replica, the CLI or the admin API
                                   changed (every replica routes alike within a second)
``rollout-judge``  0.5 s           judge each running rollout whose window ended; act on the verdict
``rollout-guard``  ``guard.every`` note the serving version; the always-on rollback rule
``shadow-flush``   1 s             audit the finished shadow copies together, then record them
``online-eval``    0.5 s           score the sampled live answers (when a feature samples any)
``drift``          1 s             assess each feature whose ``drift.every_s`` is due
=================  ==============  =============================================================

Requests are routed and followed by :class:`~runwell.experiments.hooks.ExperimentHooks`; the routes
(``POST /v1/feedback``, ``/admin/rollouts...``) by :class:`~runwell.experiments.routes.ExperimentRoutes`.
``/readyz`` shows each feature's rollout under ``rollouts`` and the shadow, online-evaluation and
drift counters under ``experiments``.

With ``--redis`` a replica that moves a rollout also publishes it on Redis, and every replica
reloads as soon as it hears (:class:`~runwell.experiments.signal.RolloutSignal`); the poll above
stays for the CLI's changes and for Redis outages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from runwell.experiments.cache import RolloutCache
from runwell.experiments.config import compile_experiment
from runwell.experiments.controller import Controller
from runwell.experiments.drift_watch import DriftWatch
from runwell.experiments.hooks import ExperimentHooks
from runwell.experiments.online import OnlineScorer, build_online_scorers
from runwell.experiments.routes import ExperimentRoutes
from runwell.experiments.shadow import Shadower
from runwell.experiments.signal import RolloutSignal
from runwell.gateway.background import Job
from runwell.gateway.extension import Extension, ExtensionContext, RouteAuth, Routes

__all__ = ["build_experiments"]


def build_experiments(context: ExtensionContext) -> Extension:
    """The experiment layer of a gateway (see the module docstring)."""
    specs = {loaded.name: loaded for loaded in context.specs}
    experiments = {name: compile_experiment(loaded) for name, loaded in specs.items()}
    db = context.store.db
    cache = RolloutCache(db, experiments)

    async def refresh() -> None:
        await asyncio.to_thread(cache.refresh)

    signal = _signal(context.settings.redis_url, refresh)
    controller = Controller(
        db,
        context.log,
        context.catalog,
        experiments,
        cache,
        context.events.emit,
        publish=None if signal is None else signal.publish,
    )
    online = OnlineScorer(
        db,
        {
            name: build_online_scorers(context.catalog.features[name], loaded.spec.rollout.scorer_configs())
            for name, loaded in specs.items()
        },
        {name: loaded.spec.rollout.online_eval for name, loaded in specs.items()},
    )
    shadower = Shadower(
        context.protection,
        {name: loaded.spec.rollout.shadow for name, loaded in specs.items()},
        context.submit,
        context.trail,
        on_answer=online.offer,
    )
    drift = DriftWatch(db, specs, context.events.emit)

    async def prepare() -> None:
        await asyncio.to_thread(controller.prepare)
        if signal is not None:
            await signal.start()

    guard_every = min((e.spec.guard.every_s for e in experiments.values()), default=60.0)
    jobs = [
        Job("rollouts", context.settings.lever_poll_s, refresh),
        Job("rollout-judge", 0.5, controller.tick),
        Job("rollout-guard", max(0.5, guard_every), controller.guard_tick),
        Job("shadow-flush", 1.0, shadower.flush),
    ]
    if online.enabled:
        jobs.append(Job("online-eval", 0.5, online.work))
    if drift.watching:
        jobs.append(Job("drift", 1.0, drift.tick))

    def mount(auth: RouteAuth) -> Routes:
        routes = ExperimentRoutes(
            db,
            context.log,
            context.catalog,
            experiments,
            cache,
            controller,
            auth,
            body_timeout_s=context.settings.limits.body_timeout_s,
        )
        return routes.routes()

    def status() -> dict[str, Any]:
        return {
            "rollouts": {
                name: state.describe()
                for name, state in sorted(cache.current.items())
                if state.rollout is not None
            },
            "experiments": {
                "shadow": shadower.status(),
                "online_eval": online.status(),
                "drift": drift.status(),
                "signal": {"backend": "poll"} if signal is None else signal.status(),
            },
        }

    return Extension(
        "experiments",
        jobs=jobs,
        on_startup=[prepare],
        on_close=[shadower.close] + ([] if signal is None else [signal.close]),
        hooks=ExperimentHooks(cache, shadow=shadower.offer, score=online.offer),
        mount=mount,
        status=status,
    )


def _signal(url: str | None, refresh: Callable[[], Awaitable[None]]) -> RolloutSignal | None:
    """The Redis fan-out of rollout changes, with ``--redis`` (the URL was checked by the protection
    layer); no socket timeout: the subscription waits for messages."""
    if not url:
        return None
    from redis.asyncio import Redis

    return RolloutSignal(Redis.from_url(url, socket_connect_timeout=0.5), refresh)

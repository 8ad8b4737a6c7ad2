"""Start-up wiring of the operator's console (``/console``).

Builds the :class:`~runwell.gateway.extension.Extension` the gateway mounts: the console reads the
gateway's own store and audit log, makes a lever change take effect on this replica at once (the
gateway's lever cache), and shows this replica's circuit breakers. Off unless configured
(``RUNWELL_CONSOLE=on`` or ``RUNWELL_CONSOLE_VIEWER_TOKEN``): then ``/console`` answers 404 with one
line saying how to turn it on. Sessions are signed with a key derived from the audit key, so every
replica sharing that key accepts them.
"""

from __future__ import annotations

from typing import Any

from runwell.console import ConsoleApp, ConsoleSettings, ConsoleSources
from runwell.console.actions import ExperimentRollouts
from runwell.gateway.extension import Extension, ExtensionContext, Handler, RouteAuth, Routes

__all__ = ["build_console"]


def build_console(context: ExtensionContext) -> Extension:
    """The console of a gateway."""
    settings = ConsoleSettings.from_env(
        context.settings.environ,
        derive_from=context.trail.user_hash_key,
        admin_token=context.settings.environ.get(context.settings.admin_token_env, ""),
    )
    sources = None
    if settings.enabled:
        protection = context.protection

        def breakers() -> list[dict[str, Any]]:
            return [b.as_dict() for b in protection.breakers.snapshot()]

        sources = ConsoleSources(
            store=context.store,
            log=context.log,
            specs={s.name: s for s in context.specs},
            refresh_levers=protection.levers.refresh,
            breakers=breakers,
            rollouts=ExperimentRollouts(context.log),
            where="gateway",
        )
    app = ConsoleApp(settings, sources)

    def mount(auth: RouteAuth) -> Routes:
        handler: Handler = app.handle

        def prefixed(method: str, path: str) -> Handler | None:
            return handler if app.owns(path) else None

        fixed = {(method, "/console"): handler for method in ("GET", "HEAD", "POST")}
        return Routes(fixed=fixed, prefixed=prefixed)

    return Extension("console", mount=mount)

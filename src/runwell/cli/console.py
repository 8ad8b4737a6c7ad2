"""``runwell console``: the operator's web console on its own, over the project's database.

The same pages ``runwell serve`` shows at ``/console`` when enabled, read from the store and the
audit log directly, so an operator can look without a gateway (or next to several). Read-only
unless ``RUNWELL_ADMIN_TOKEN`` is set; lever changes reach running gateways within their lever
poll (0.5 s). Circuit breakers live in each gateway and are not shown here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from runwell.cli._store_opt import DbOption, DirOption, fail

__all__ = ["register"]


def console(
    db: DbOption = None,
    project_dir: DirOption = Path("."),
    spec: Annotated[
        list[Path] | None,
        typer.Option(
            "--spec",
            "-s",
            help="A runwell.yaml whose feature to show (capture settings, budgets, on-call); repeat "
            "for several. (default: ./runwell.yaml when it exists, plus every feature the database knows)",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=0, max=65535)] = 8081,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the operator's console at http://HOST:PORT/console (sign in with the admin or viewer token)."""
    import uvicorn

    from runwell.audit.errors import AuditError
    from runwell.audit.open import open_audit_log
    from runwell.console import ConsoleApp, ConsoleSettings, ConsoleSources
    from runwell.console.actions import ExperimentRollouts
    from runwell.control.levers import known_features
    from runwell.errors import ConfigError, SpecError, StoreError
    from runwell.spec.loader import LoadedSpec, load_spec
    from runwell.store import open_store

    paths = spec if spec else [p for p in [project_dir / "runwell.yaml"] if p.exists()]
    try:
        loaded: list[LoadedSpec] = [load_spec(p) for p in paths]
    except SpecError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    try:
        store = open_store(db, base_dir=project_dir)
    except (ConfigError, StoreError) as exc:
        fail(str(exc), code=2)
    try:
        handle = open_audit_log(project_dir, db=store.db, create_key=False)
    except AuditError as exc:
        store.close()
        fail(f"the console needs the project's audit log to verify entries: {exc}", code=2)
    try:
        specs: dict[str, LoadedSpec | None] = {name: None for name in known_features(store.db)}
        specs.update({s.name: s for s in loaded})
        settings = ConsoleSettings.from_env(os.environ, derive_from=handle.user_hash_key, force_enabled=True)
        if settings.admin_token is None and settings.viewer_token is None:
            fail(
                "set RUNWELL_ADMIN_TOKEN (levers) or RUNWELL_CONSOLE_VIEWER_TOKEN (read-only) to sign in",
                code=2,
            )
        app = ConsoleApp(
            settings,
            ConsoleSources(
                store=store,
                log=handle.log,
                specs=specs,
                rollouts=ExperimentRollouts(handle.log),
                where="standalone",
            ),
        )
        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        mode = "levers enabled" if settings.admin_token else "read-only"
        typer.echo(f"runwell console ({mode}) on http://{host}:{port}/console over {store.url}", err=True)
        uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), access_log=False, lifespan="on")
    except ConfigError as exc:
        fail(str(exc), code=2)
    finally:
        handle.close()
        store.close()


def register(root: typer.Typer) -> None:
    """Mount ``runwell console``."""
    root.command("console")(console)

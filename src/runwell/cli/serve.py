"""``runwell serve``: run the OpenAI-compatible gateway for one or more feature specs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from runwell.audit.errors import AuditError
from runwell.cli._store_opt import DbOption, fail
from runwell.errors import ConfigError, SpecError, StoreError

__all__ = ["register"]


def serve(
    spec: Annotated[
        list[Path] | None,
        typer.Option(
            "--spec",
            "-s",
            help="A runwell.yaml to serve; repeat for several features. (default: ./runwell.yaml)",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=0, max=65535)] = 8080,
    db: DbOption = None,
    max_body_bytes: Annotated[int, typer.Option(help="Largest accepted request body.", min=1024)] = 1 << 20,
    body_timeout_s: Annotated[
        float,
        typer.Option(
            "--body-timeout-seconds", help="A request body must arrive within this time (408).", min=0.1
        ),
    ] = 30.0,
    max_connections: Annotated[
        int,
        typer.Option(help="Open connections plus requests in flight beyond which new ones get 503.", min=1),
    ] = 1000,
    keep_alive_s: Annotated[
        float,
        typer.Option("--keep-alive-seconds", help="Close idle keep-alive connections after this.", min=0.1),
    ] = 5.0,
    graceful_s: Annotated[
        float,
        typer.Option("--graceful-seconds", help="How long SIGTERM waits for in-flight requests.", min=0),
    ] = 30.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    audit_key: Annotated[
        Path | None,
        typer.Option(
            help="Audit signing key (default: $RUNWELL_AUDIT_KEY_FILE or .runwell/audit.key beside "
            "the spec; generated on first start)",
            show_default=False,
        ),
    ] = None,
    audit_public: Annotated[
        bool, typer.Option(help="Serve /audit/checkpoint and proofs without a key (entries still need one).")
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option(help="Sign an audit checkpoint at least every N entries...", min=1)
    ] = 100,
    checkpoint_seconds: Annotated[
        float, typer.Option(help="...or every T seconds, whichever comes first.", min=0.1)
    ] = 10.0,
    redis: Annotated[
        str | None,
        typer.Option(
            help="redis://host:6379/0 to share budgets and breaker states with the other replicas "
            "(default: in-process, one replica).",
            envvar="RUNWELL_REDIS_URL",
            show_default=False,
        ),
    ] = None,
    queue_first_try_s: Annotated[
        float,
        typer.Option(
            "--queue-first-try-seconds", help="When a queued request is first retried.", min=0.1, hidden=True
        ),
    ] = 5.0,
) -> None:
    """Serve POST /v1/chat/completions, /v1/models, /healthz, /readyz and /metrics."""
    from runwell.gateway.app import GatewayApp, GatewayLimits
    from runwell.gateway.build import GatewaySettings, build_gateway
    from runwell.gateway.server import serve as run_server

    level = log_level.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        fail(f"--log-level must be debug, info, warning or error, got {log_level!r}", code=2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    paths = spec or [Path("runwell.yaml")]
    try:
        gateway = build_gateway(
            GatewaySettings(
                spec_paths=paths,
                db_url=db,
                limits=GatewayLimits(max_body_bytes=max_body_bytes, body_timeout_s=body_timeout_s),
                audit_key_path=audit_key,
                audit_public=audit_public,
                checkpoint_every_entries=checkpoint_every,
                checkpoint_every_seconds=checkpoint_seconds,
                redis_url=redis,
                queue_first_try_s=queue_first_try_s,
            )
        )
    except SpecError as exc:
        for problem in exc.problems:
            typer.echo(str(problem))
        raise typer.Exit(2) from None
    except (ConfigError, StoreError, AuditError) as exc:
        fail(str(exc), code=2)
    names = ", ".join(sorted(gateway.catalog.features))
    logging.getLogger("runwell.gateway").info("serving features: %s", names)
    if not gateway.admin.enabled:
        logging.getLogger("runwell.gateway").info(
            "admin endpoints disabled (set RUNWELL_ADMIN_TOKEN to enable them)"
        )
    run_server(
        GatewayApp(gateway),
        host=host,
        port=port,
        graceful_s=graceful_s,
        log_level=log_level.lower(),
        max_connections=max_connections,
        keep_alive_s=keep_alive_s,
    )


def register(root: typer.Typer) -> None:
    """Mount ``runwell serve``."""
    root.command("serve")(serve)

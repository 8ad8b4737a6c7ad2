"""``runwell init``: start a new feature with a spec that already passes validation."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

_REFUSED_EXIT = 2


class _Provider(StrEnum):
    sim = "sim"
    local = "local"
    openai = "openai"


def init(
    name: Annotated[str, typer.Argument(help="feature name, e.g. ticket-summary")],
    provider: Annotated[
        _Provider,
        typer.Option(help="sim: scripted, no setup; local: SmolLM2 in process; openai: needs OPENAI_API_KEY"),
    ] = _Provider.sim,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="where to create the feature (default: ./NAME)"),
    ] = None,
) -> None:
    """Create a feature directory: runwell.yaml, prompts, evals and runbooks."""
    from runwell.errors import ConfigError
    from runwell.spec.scaffold import scaffold

    target = directory if directory is not None else Path(name)
    try:
        written = scaffold(name, target, provider=provider.value)
    except ConfigError as exc:
        typer.echo(f"runwell init: {exc}", err=True)
        raise typer.Exit(_REFUSED_EXIT) from None
    spec = target / "runwell.yaml"
    typer.echo(f"Created feature {name!r} in {target}/ on the {provider.value} provider:")
    for path in written:
        typer.echo(f"  {path}")
    typer.echo("")
    typer.echo("Next steps:")
    typer.echo(f"  1. Replace the TODO placeholders (owners, on-call, purpose) in {spec}")
    typer.echo(f"  2. runwell spec validate {spec}")
    typer.echo("  3. runwell keys create dev")
    typer.echo(f"  4. runwell serve --spec {spec}")


def register(root: typer.Typer) -> None:
    """Mount the ``init`` command on ``root``."""
    root.command("init")(init)

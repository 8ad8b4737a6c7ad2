"""``runwell spec``: check a feature spec and print its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]

_INVALID_EXIT = 2


def validate(
    path: Annotated[
        Path,
        typer.Argument(help="spec file, or a directory holding runwell.yaml"),
    ] = Path("runwell.yaml"),
) -> None:
    """Check a spec; print one line per problem as FILE:LINE: FIELD: message."""
    from runwell.errors import SpecError
    from runwell.spec.loader import load_spec

    try:
        loaded = load_spec(path)
    except SpecError as exc:
        for problem in exc.problems:
            typer.echo(str(problem))
        count = len(exc.problems)
        typer.echo(f"{count} problem{'s' if count != 1 else ''} in {path}", err=True)
        raise typer.Exit(_INVALID_EXIT) from None
    spec = loaded.spec
    variants = ", ".join(
        f"{name} ({v.provider}/{v.model}, prompt {loaded.prompt_versions[name]})"
        for name, v in spec.variants.items()
    )
    typer.echo(f"OK {path}: feature {spec.feature.name} (spec version {loaded.version})")
    typer.echo(f"  variants: {variants}")
    typer.echo(f"  default: {loaded.default_variant}")


def schema() -> None:
    """Print the JSON Schema of runwell.yaml (for editors and CI)."""
    from runwell.spec.models import FeatureSpec

    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **FeatureSpec.model_json_schema(),
    }
    typer.echo(json.dumps(document, indent=2))


def register(root: typer.Typer) -> None:
    """Mount the ``spec`` command group on ``root``."""
    group = typer.Typer(name="spec", help="Check a feature spec (runwell.yaml).", no_args_is_help=True)
    group.command("validate")(validate)
    group.command("schema")(schema)
    root.add_typer(group, name="spec")

"""The ``runwell`` command: one Typer app that mounts one module per command group."""

from __future__ import annotations

import typer

__all__ = ["app", "main"]


def _build() -> typer.Typer:
    root = typer.Typer(
        name="runwell",
        help="Build an LLM feature right and run it well.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    # Each command group lives in its own module and exposes ``register(root)``.
    from runwell.cli import groups

    for register in groups.REGISTRARS:
        register(root)
    return root


app = _build()


def main() -> None:
    """Console-script entry point."""
    app()

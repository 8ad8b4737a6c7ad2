"""The list of command-group modules mounted on the ``runwell`` command."""

from __future__ import annotations

from collections.abc import Callable

import typer

__all__ = ["REGISTRARS"]


def _lazy(module: str) -> Callable[[typer.Typer], None]:
    def register(root: typer.Typer) -> None:
        import importlib

        importlib.import_module(module).register(root)

    return register


REGISTRARS: tuple[Callable[[typer.Typer], None], ...] = (
    _lazy("runwell.cli.init"),
    _lazy("runwell.cli.spec"),
    _lazy("runwell.cli.serve"),
    _lazy("runwell.cli.demo"),
    _lazy("runwell.cli.keys"),
    _lazy("runwell.cli.requests"),
    _lazy("runwell.cli.eval"),
    _lazy("runwell.cli.audit"),
    _lazy("runwell.cli.levers"),
    _lazy("runwell.cli.rollout"),
    _lazy("runwell.cli.drift"),
    _lazy("runwell.cli.operate"),
    _lazy("runwell.cli.check"),
    _lazy("runwell.cli.decay"),
    _lazy("runwell.cli.console"),
)

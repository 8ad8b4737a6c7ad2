"""``runwell operate``: (being built; registers no command yet)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    """Mount this module's commands (none yet)."""

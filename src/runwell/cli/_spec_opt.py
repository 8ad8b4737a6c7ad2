"""Loading the spec a command names, with one way of saying what is wrong with it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from runwell.cli._store_opt import fail

if TYPE_CHECKING:
    from runwell.spec.loader import LoadedSpec

__all__ = ["load_feature_spec"]


def load_feature_spec(path: Path, feature: str | None = None) -> LoadedSpec:
    """The spec at ``path`` (a file or its directory), which must be ``feature``'s when one is named.

    A spec that does not load prints each ``FILE:LINE`` problem and exits 2, as a usage error.
    """
    from runwell.errors import ConfigError, SpecError
    from runwell.spec.loader import load_spec

    try:
        loaded = load_spec(path)
    except SpecError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"{path} does not load; fix the problems above (runwell spec validate {path})", code=2)
    except (ConfigError, OSError) as exc:
        fail(f"cannot load the spec {path}: {exc}", code=2)
    if feature is not None and loaded.name != feature:
        fail(
            f"{loaded.path} is the spec of {loaded.name!r}, not {feature!r}; "
            f"pass --spec with {feature}'s runwell.yaml",
            code=2,
        )
    return loaded

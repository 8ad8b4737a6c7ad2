"""What the ``runwell eval`` commands share: the --spec option, loading it, opening the run store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from runwell.errors import ConfigError, SpecError, StoreError
from runwell.evals.runstore import EvalRunStore
from runwell.spec.loader import DEFAULT_SPEC_FILE, LoadedSpec

__all__ = ["EXIT_INTERRUPTED", "SpecOption", "exit_with", "load_spec_or_exit", "opened_runs"]

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells expect."""

SpecOption = Annotated[
    Path | None,
    typer.Option(
        "--spec", "-s", show_default=False, help=f"The feature spec. \\[default: ./{DEFAULT_SPEC_FILE}]"
    ),
]
"""``--spec PATH``: the feature's runwell.yaml (its directory is the project directory)."""


def exit_with(message: str, code: int) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_spec_or_exit(path: Path | None, *, required: bool = True) -> LoadedSpec | None:
    """The loaded spec; exit 2 printing ``FILE:LINE: FIELD: message`` per problem.

    With ``required=False`` a missing default ``./runwell.yaml`` gives ``None`` (an explicit
    ``--spec`` that does not exist is still an error).
    """
    from runwell.spec.loader import load_spec

    chosen = path or Path(DEFAULT_SPEC_FILE)
    if path is None and not required and not chosen.exists():
        return None
    if not chosen.exists():
        exit_with(f"no spec at {chosen.resolve()}; pass --spec PATH or run in the feature's directory", 2)
    try:
        return load_spec(chosen)
    except SpecError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        exit_with(str(exc), 2)


@contextmanager
def opened_runs(db: str | None, base_dir: Path, *, store_error_code: int = 1) -> Iterator[EvalRunStore]:
    """The eval run store; config errors exit 2, store errors ``store_error_code``."""
    try:
        store = EvalRunStore.open(db, base_dir=base_dir)
    except ConfigError as exc:
        exit_with(str(exc), 2)
    except StoreError as exc:
        exit_with(str(exc), store_error_code)
    try:
        yield store
    except SpecError as exc:  # a dataset file with problems, one line each
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        exit_with(str(exc), 2)
    except StoreError as exc:
        exit_with(str(exc), store_error_code)
    finally:
        store.close()

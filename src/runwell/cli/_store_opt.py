"""The ``--db`` and ``--dir`` options every store-reading command shares, and opening the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from runwell.errors import ConfigError, RequestError, StoreError
from runwell.store import Store, open_store

if TYPE_CHECKING:
    from runwell.audit.log import AuditLog

__all__ = ["DbOption", "DirOption", "ReasonOption", "fail", "opened_store", "opened_store_and_log"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="RUNWELL_DB",
        metavar="URL",
        show_default=False,
        help="Record store: a SQLite file path, sqlite:///path, or postgresql://user:pass@host/db. "
        "Default: DIR/.runwell/runwell.db.",
    ),
]
"""``--db URL`` (env ``RUNWELL_DB``): which store to open; the project's SQLite file when absent."""

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        exists=True,
        file_okay=False,
        help="Project directory: where .runwell/ lives, and what relative SQLite paths start from.",
    ),
]
"""``--dir PATH``: the project directory (default: the current directory)."""


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def opened_store(db: str | None, project_dir: Path) -> Iterator[Store]:
    """The store ``--db``/``--dir`` name, closed on exit; store errors end the command cleanly.

    A bad URL exits with status 2 (a usage error), a store that cannot be used with status 1.
    """
    try:
        store = open_store(db, base_dir=project_dir)
    except ConfigError as exc:
        fail(str(exc), code=2)
    except StoreError as exc:
        fail(str(exc))
    try:
        yield store
    except ConfigError as exc:
        fail(str(exc), code=2)
    except (StoreError, RequestError) as exc:
        fail(str(exc))
    finally:
        store.close()


ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why: recorded with the change in the signed audit log.")
]
"""``--reason TEXT``: why a state change is made (kept in the audit log)."""


@contextmanager
def opened_store_and_log(db: str | None, project_dir: Path) -> Iterator[tuple[Store, AuditLog]]:
    """The store and the project's signed audit log (in the same database), for audited changes.

    The audit signing key is created on first use, as ``runwell serve`` does.
    """
    from runwell.audit.errors import AuditError
    from runwell.audit.open import open_audit_log

    with opened_store(db, project_dir) as store:
        try:
            handle = open_audit_log(project_dir, db=store.db)
        except AuditError as exc:
            fail(f"could not open the audit log: {exc}")
        try:
            yield store, handle.log
        except AuditError as exc:
            fail(str(exc))
        finally:
            handle.close()

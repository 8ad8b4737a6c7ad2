"""``runwell keys``: create, list and revoke the API keys clients send to the gateway."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from runwell.cli._output import FormatOption, JsonFlag, OutputFormat, echo_json, make_console, wants_json
from runwell.cli._store_opt import DbOption, DirOption, ReasonOption, opened_store, opened_store_and_log

__all__ = ["register"]


def register(root: typer.Typer) -> None:
    """Mount ``runwell keys`` on ``root``."""
    app = typer.Typer(
        name="keys",
        help="Create, list and revoke the API keys clients use to call the gateway.",
        no_args_is_help=True,
    )
    app.command("create")(create_key)
    app.command("list")(list_keys)
    app.command("revoke")(revoke_key)
    root.add_typer(app)


def create_key(
    name: Annotated[str, typer.Argument(help="Who will use the key (a client, team or service).")],
    db: DbOption = None,
    project_dir: DirOption = Path("."),
    reason: ReasonOption = "",
) -> None:
    """Create an API key and print its secret, once.

    The secret goes alone to stdout (so ``runwell keys create ci > ci.key`` works); everything
    else goes to stderr.
    """
    from runwell.audit.open import default_actor
    from runwell.control import create_key as create

    with opened_store_and_log(db, project_dir) as (store, log):
        key, secret = create(store, log, name, actor=default_actor(), reason=reason)
    typer.echo(
        f"Created API key {key.id} ({key.name}). Copy the secret below now: it will not be "
        "shown again, and runwell keeps only its hash.",
        err=True,
    )
    typer.echo(secret)


def list_keys(
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """List API keys, active and revoked (never their secrets)."""
    with opened_store(db, project_dir) as store:
        keys = store.list_keys()
    if wants_json(fmt, as_json):
        echo_json([k.to_dict() for k in keys])
        return
    console = make_console()
    if not keys:
        console.print("No API keys yet: create one with 'runwell keys create NAME'.", markup=False)
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "name", "prefix", "created", "status"):
        table.add_column(column, no_wrap=column != "name")
    for k in keys:
        status = "active" if k.revoked_at is None else f"revoked {_time(k.revoked_at)}"
        table.add_row(k.id, k.name, k.prefix, _time(k.created_at), status)
    console.print(table)


def revoke_key(
    id_or_name: Annotated[
        str, typer.Argument(metavar="ID_OR_NAME", help="The key's id, or an active key's name.")
    ],
    db: DbOption = None,
    project_dir: DirOption = Path("."),
    reason: ReasonOption = "",
) -> None:
    """Revoke an API key: the gateway stops accepting it at its next key refresh."""
    from runwell.audit.open import default_actor
    from runwell.control import revoke_key as revoke

    with opened_store_and_log(db, project_dir) as (store, log):
        key, changed = revoke(store, log, id_or_name, actor=default_actor(), reason=reason)
    if not changed and key.revoked_at is not None:
        typer.echo(f"API key {key.id} ({key.name}) was already revoked at {_time(key.revoked_at)}.")
    else:
        typer.echo(f"Revoked API key {key.id} ({key.name}).")


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S")

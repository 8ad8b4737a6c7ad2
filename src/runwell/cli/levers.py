"""``runwell kill|unkill|guardrail|flag|budget|levers``: the operator's levers, each change audited.

Every command needs ``--reason``: it goes into the signed audit log with the change, the actor
(``$RUNWELL_ACTOR`` or ``user@host``) and the value before and after. A running gateway picks a change
up within a second (it polls the database it shares with this command).
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from runwell.cli._output import FormatOption, JsonFlag, OutputFormat, echo_json, make_console, wants_json
from runwell.cli._store_opt import DbOption, DirOption, fail, opened_store, opened_store_and_log

__all__ = ["parse_duration", "register"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

ReasonRequired = Annotated[
    str, typer.Option("--reason", help="Why (required): recorded with the change in the signed audit log.")
]


def parse_duration(text: str) -> float:
    """Seconds in ``30m``, ``2h``, ``1d`` or ``90s``; BadParameter otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration; use 30s, 15m, 2h or 1d", param_hint="'--for'")
    return float(match[1]) * _UNIT_S[match[2]]


def _actor() -> str:
    from runwell.audit.open import default_actor

    return default_actor()


def kill(
    feature: Annotated[str, typer.Argument(help="The feature to switch off.")],
    reason: ReasonRequired,
    variant: Annotated[str | None, typer.Option(help="Only this variant (the others keep serving).")] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Kill switch: the feature (or one variant) stops calling models and answers with its degradation."""
    what, changed = _switch(feature, variant, reason, db, project_dir, killed=True)
    typer.echo(f"Killed {what}." if changed else f"{what} was already killed; nothing recorded.")


def unkill(
    feature: Annotated[str, typer.Argument(help="The feature to switch back on.")],
    reason: ReasonRequired,
    variant: Annotated[str | None, typer.Option(help="Only this variant.")] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Turn the kill switch off again."""
    what, changed = _switch(feature, variant, reason, db, project_dir, killed=False)
    typer.echo(f"{what} serves again." if changed else f"{what} was not killed; nothing recorded.")


def _switch(
    feature: str, variant: str | None, reason: str, db: str | None, project_dir: Path, *, killed: bool
) -> tuple[str, bool]:
    from runwell.control import levers

    change = levers.kill if killed else levers.unkill
    with opened_store_and_log(db, project_dir) as (store, log):
        _check_feature(store, feature)
        changed = _run(lambda: change(log, feature, variant=variant, actor=_actor(), reason=reason))
    return (feature if variant is None else f"{feature}@{variant}"), bool(changed)


def guardrail_off(
    feature: Annotated[str, typer.Argument(help="The feature.")],
    name: Annotated[str, typer.Argument(help="The guardrail, e.g. pii_redaction, injection_check.")],
    reason: ReasonRequired,
    duration: Annotated[
        str | None, typer.Option("--for", help="How long (required): 30m, 2h, 1d; at most 7 days.")
    ] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Switch one guardrail off for a while: it switches itself back on at expiry (both audited)."""
    from runwell.control import levers

    if duration is None:
        fail("switching a guardrail off needs an expiry: --for 2h (it switches itself back on then)", code=2)
    seconds = parse_duration(duration)
    with opened_store_and_log(db, project_dir) as (store, log):
        _check_feature(store, feature)
        _run(
            lambda: levers.switch_guardrail(
                log, feature, name, on=False, actor=_actor(), reason=reason, for_s=seconds
            )
        )
    until = datetime.fromtimestamp(time.time() + seconds).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    typer.echo(f"{name} is off for {feature} until {until}; it switches itself back on then.")


def guardrail_on(
    feature: Annotated[str, typer.Argument(help="The feature.")],
    name: Annotated[str, typer.Argument(help="The guardrail.")],
    reason: ReasonRequired,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Switch an overridden guardrail back on now."""
    from runwell.control import levers

    with opened_store_and_log(db, project_dir) as (store, log):
        _check_feature(store, feature)
        changed = _run(
            lambda: levers.switch_guardrail(log, feature, name, on=True, actor=_actor(), reason=reason)
        )
    typer.echo(
        f"{name} is on for {feature}." if changed else f"{name} was not off for {feature}; nothing recorded."
    )


def flag_set(
    key: Annotated[str, typer.Argument(help="The flag key, e.g. ticket-summary.traffic.")],
    definition: Annotated[str, typer.Argument(help="The flag definition as JSON, or 'delete'.")],
    reason: ReasonRequired,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Create, change or delete a flag (OpenFeature-style: variants, targeting, a percentage split)."""
    from runwell.control import levers

    value: dict[str, Any] | None = None
    if definition != "delete":
        try:
            parsed = orjson.loads(definition)
        except orjson.JSONDecodeError as exc:
            fail(f"the flag definition is not valid JSON: {exc}", code=2)
        if not isinstance(parsed, dict):
            fail("the flag definition must be a JSON object", code=2)
        value = _checked_flag(key, parsed)
    with opened_store_and_log(db, project_dir) as (_store, log):
        changed = _run(lambda: levers.set_flag(log, key, value, actor=_actor(), reason=reason))
    typer.echo(f"Flag {key} {'changed' if changed else 'unchanged; nothing recorded'}.")


def traffic(
    feature: Annotated[str, typer.Argument(help="The feature.")],
    percent: Annotated[
        float, typer.Argument(help="Share of users served (0-100); the rest get the degradation.")
    ],
    reason: ReasonRequired,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Cut (or restore) a feature's traffic to a percentage of users, sticky by user."""
    from runwell.control import levers
    from runwell.control.flags import traffic_flag

    if not 0 <= percent <= 100:
        fail(f"percent must be between 0 and 100, got {percent:g}", code=2)
    definition = None if percent >= 100 else traffic_flag(percent).to_dict()
    with opened_store_and_log(db, project_dir) as (store, log):
        _check_feature(store, feature)
        _run(lambda: levers.set_flag(log, f"{feature}.traffic", definition, actor=_actor(), reason=reason))
    typer.echo(f"{feature} serves {percent:g}% of users" + ("." if percent < 100 else " (no cut)."))


def pin(
    feature: Annotated[str, typer.Argument(help="The feature.")],
    variant: Annotated[str, typer.Argument(help="The variant to pin users to.")],
    reason: ReasonRequired,
    user: Annotated[list[str], typer.Option("--user", help="A user id (targeting key); repeat for several.")],
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Pin users to a variant (they get it whatever the default or a rollout says)."""
    from runwell.control import levers
    from runwell.control.flags import pin_flag

    key = f"{feature}.variant"
    with opened_store_and_log(db, project_dir) as (store, log):
        _check_feature(store, feature)
        current = {row.subject: row.value for row in levers.list_levers(store.db) if row.kind == "flag"}
        definition = pin_flag(current.get(key), variant, user).to_dict()
        _run(lambda: levers.set_flag(log, key, definition, actor=_actor(), reason=reason))
    typer.echo(f"Pinned {len(user)} user(s) of {feature} to {variant}.")


def budget_set(
    feature: Annotated[str, typer.Argument(help="The feature.")],
    limit: Annotated[str, typer.Argument(help="The limit, e.g. daily_usd, monthly_usd, daily_tokens.")],
    value: Annotated[str, typer.Argument(help="The new value, or 'spec' to go back to the spec's.")],
    reason: ReasonRequired,
    duration: Annotated[str | None, typer.Option("--for", help="Only for a while: 30m, 2h, 1d.")] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Change one of a feature's budget limits at run time (audited, like a spec change)."""
    from runwell.control import levers

    number: float | None = None
    if value != "spec":
        try:
            number = float(value)
        except ValueError:
            fail(f"the value must be a number or 'spec', got {value!r}", code=2)
    seconds = parse_duration(duration) if duration else None
    with opened_store_and_log(db, project_dir) as (store, log):
        _check_feature(store, feature)
        changed = _run(
            lambda: levers.set_budget(
                log, feature, limit, number, actor=_actor(), reason=reason, for_s=seconds
            )
        )
    typer.echo(f"{feature} {limit} {'changed' if changed else 'unchanged; nothing recorded'}.")


def show_levers(
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Every lever that is not at its default: kills, guardrail overrides, flags, budget changes."""
    from rich.table import Table

    from runwell.control import levers

    with opened_store(db, project_dir) as store:
        rows = levers.list_levers(store.db)
    if wants_json(fmt, as_json):
        echo_json([r.to_dict() for r in rows])
        return
    console = make_console()
    if not rows:
        console.print(
            "Every lever is at its default (nothing killed, no guardrail off, no flags).", markup=False
        )
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("kind", "subject", "value", "until", "actor", "reason"):
        table.add_column(column, no_wrap=column in ("kind", "subject"))
    for row in rows:
        until = (
            "-"
            if row.until is None
            else datetime.fromtimestamp(row.until).astimezone().strftime("%Y-%m-%d %H:%M")
        )
        table.add_row(row.kind, row.subject, orjson.dumps(row.value).decode(), until, row.actor, row.reason)
    console.print(table)


def _checked_flag(key: str, parsed: dict[str, Any]) -> dict[str, Any]:
    from runwell.control.flags import FlagDefinition

    try:
        return FlagDefinition.from_dict(parsed).to_dict()
    except ValueError as exc:
        fail(f"flag {key}: {exc}", code=2)


def _check_feature(store: Any, feature: str) -> None:
    """Refuse a feature no gateway has served from this database (a typo would change nothing)."""
    from runwell.control.levers import known_features

    known = known_features(store.db)
    if known and feature not in known:
        fail(f"no feature {feature!r} has been served from this database; known: {', '.join(known)}", code=2)


def _run(action: Any) -> Any:
    from runwell.errors import ConfigError

    try:
        return action()
    except ConfigError as exc:
        fail(str(exc), code=2)


def register(root: typer.Typer) -> None:
    """Mount the lever commands."""
    root.command("kill")(kill)
    root.command("unkill")(unkill)
    root.command("traffic")(traffic)
    root.command("pin")(pin)
    root.command("levers")(show_levers)
    guardrail = typer.Typer(
        name="guardrail", help="Switch a guardrail off for a while, or back on.", no_args_is_help=True
    )
    guardrail.command("off")(guardrail_off)
    guardrail.command("on")(guardrail_on)
    root.add_typer(guardrail)
    flag = typer.Typer(
        name="flag", help="Feature flags, evaluated the OpenFeature way.", no_args_is_help=True
    )
    flag.command("set")(flag_set)
    root.add_typer(flag)
    budget = typer.Typer(
        name="budget", help="Change a feature's budget limits at run time.", no_args_is_help=True
    )
    budget.command("set")(budget_set)
    root.add_typer(budget)

"""``runwell rollout start|status|promote|pause|resume|abort|explain``: rollouts, each change audited.

A change needs ``--reason``: it goes into the signed audit log with the actor (``$RUNWELL_ACTOR`` or
``user@host``) and the state before and after. Running gateways that share the database pick it up
within a second. ``start`` runs the strategy the feature's spec declares (``rollout:`` in
``runwell.yaml``), against the variant that serves now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer

from runwell.cli._output import FormatOption, OutputFormat, echo_json, make_console
from runwell.cli._spec_opt import load_feature_spec
from runwell.cli._store_opt import DbOption, DirOption, fail, opened_store, opened_store_and_log

__all__ = ["register"]

FeatureArg = Annotated[str, typer.Argument(help="The feature (its name in the spec).")]
ReasonRequired = Annotated[
    str, typer.Option("--reason", help="Why (required): recorded with the change in the signed audit log.")
]
SpecOption = Annotated[
    Path | None,
    typer.Option(
        "--spec", help="The feature's runwell.yaml (default: DIR/runwell.yaml).", show_default=False
    ),
]


def _actor() -> str:
    from runwell.audit.open import default_actor

    return default_actor()


def _load_spec(spec: Path | None, project_dir: Path, feature: str) -> Any:
    return load_feature_spec(spec or project_dir / "runwell.yaml", feature)


def _run(action: Any) -> Any:
    from runwell.errors import ConfigError

    try:
        return action()
    except ConfigError as exc:
        fail(str(exc), code=2)


def _describe(change: Any) -> str:
    event = change.transition.event
    rollout = change.transition.rollout
    return (
        f"{rollout.rollout_id}: {event.from_state} -> {event.to_state}, "
        f"{rollout.candidate_percent:g}% of traffic on {rollout.candidate} ({event.reason})"
    )


def start(
    feature: FeatureArg,
    reason: ReasonRequired,
    candidate: Annotated[
        str | None, typer.Option(help="The variant to roll out (default: the spec's rollout.candidate).")
    ] = None,
    spec: SpecOption = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Start the spec's rollout (canary, A/B or shadow) of a candidate against the serving variant."""
    from runwell.experiments import actions
    from runwell.experiments.config import strategy_of

    loaded = _load_spec(spec, project_dir, feature)
    rollout_spec = loaded.spec.rollout
    chosen = candidate or rollout_spec.candidate
    if chosen is None:
        fail(f"{loaded.path} names no rollout.candidate; pass --candidate VARIANT", code=2)
    strategy = _run(lambda: strategy_of(rollout_spec))
    with opened_store_and_log(db, project_dir) as (_store, log):
        change = _run(
            lambda: actions.start(
                log,
                feature,
                spec_default=loaded.default_variant,
                candidate=chosen,
                strategy=strategy,
                variants=frozenset(loaded.spec.variants),
                actor=_actor(),
                reason=reason,
            )
        )
    typer.echo(f"Started {_describe(change)}.")


def _operator(action: str) -> Any:
    def command(
        feature: FeatureArg,
        reason: ReasonRequired,
        db: DbOption = None,
        project_dir: DirOption = Path("."),
    ) -> None:
        from runwell.experiments import actions

        with opened_store_and_log(db, project_dir) as (_store, log):
            move = cast(actions.OperatorAction, action)
            change = _run(lambda: actions.act(log, feature, move, actor=_actor(), reason=reason))
        typer.echo(f"{action.capitalize()}: {_describe(change)}.")

    command.__doc__ = {
        "promote": "Promote the candidate now, skipping the remaining steps (all traffic to it).",
        "pause": "Hold the traffic split where it is and stop judging until resume.",
        "resume": "Judge a paused rollout again, from a fresh window on its current step.",
        "abort": "Stop the rollout for good: all traffic back to the baseline.",
    }[action]
    return command


def status(
    feature: Annotated[
        str | None, typer.Argument(help="One feature (default: every feature with a rollout).")
    ] = None,
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Each feature's rollout: state, step, split, window, and the serving and previous versions."""
    from runwell.experiments.explain import ab_report, history
    from runwell.experiments.state import load_states

    with opened_store(db, project_dir) as store:
        states = load_states(store.db, None if feature is None else [feature])
        reports = {}
        for name, state in states.items():
            rollout_id, looks = history(store.db, name)
            current = (
                state.rollout
                if state.rollout is not None and state.rollout.rollout_id == rollout_id
                else None
            )
            reports[name] = ab_report(current, looks, _primary(state))
    if fmt is OutputFormat.json:
        echo_json({name: {**s.describe(), "report": reports[name]} for name, s in states.items()})
        return
    console = make_console()
    if not states:
        console.print(f"No rollout state{'' if feature is None else f' for {feature}'} yet.", markup=False)
        return
    for name, state in states.items():
        info = state.describe()
        line = f"{name}: {info['state']}"
        if state.rollout is not None:
            line += (
                f" — {info['rollout_id']}, {info['candidate']} over {info['baseline']}, "
                f"{info['candidate_percent']:g}% on the candidate "
                f"(step {info['step'] + 1}, {info['strategy']['kind']})"
            )
        console.print(line, markup=False)
        if state.serving is not None:
            console.print(f"  serving: {state.serving.label()}", markup=False)
        if state.previous is not None:
            console.print(f"  previous: {state.previous.label()}", markup=False)
        report = reports[name]
        if report is not None:
            winner = report.get("winner") or "none yet"
            console.print(f"  A/B winner on {report['metric']}: {winner} ({report['reason']})", markup=False)


def _primary(state: Any) -> str:
    rollout = state.rollout
    strategy = None if rollout is None else rollout.strategy.to_dict()
    return str((strategy or {}).get("primary_metric") or "error_rate")


def explain(
    feature: FeatureArg,
    rollout_id: Annotated[
        str | None, typer.Option("--rollout", help="A past rollout's id (default: the latest).")
    ] = None,
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Every decision of a rollout: its steps, each window judged, each metric's statistic and verdict."""
    from runwell.experiments.explain import ab_report, explain_text, history
    from runwell.experiments.state import load_state

    with opened_store(db, project_dir) as store:
        state = load_state(store.db, feature)
        found, looks = history(store.db, feature, rollout_id)
    if found is None:
        fail(
            f"no rollout history for {feature!r}" + (f" with id {rollout_id!r}" if rollout_id else ""), code=1
        )
    metric = _primary(state)
    if fmt is OutputFormat.json:
        current = state.rollout if state.rollout is not None and state.rollout.rollout_id == found else None
        echo_json(
            {
                "feature": feature,
                "rollout_id": found,
                "state": state.describe() if current is not None else None,
                "history": [look.to_dict() for look in looks],
                "report": ab_report(current, looks, metric),
            }
        )
        return
    make_console().print(explain_text(feature, state, found, looks, metric), markup=False, highlight=False)


def register(root: typer.Typer) -> None:
    """Mount ``runwell rollout``."""
    group = typer.Typer(
        name="rollout",
        help="Shadow, canary and A/B rollouts: start, watch, promote, pause, resume, abort, explain.",
        no_args_is_help=True,
    )
    group.command("start")(start)
    group.command("status")(status)
    for action in ("promote", "pause", "resume", "abort"):
        group.command(action)(_operator(action))
    group.command("explain")(explain)
    root.add_typer(group)

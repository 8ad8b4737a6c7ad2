"""``runwell incident|oncall|review|drill|alerts``: the operator's side of a live feature.

=========================================  ========================================================
``runwell alerts [FEATURE]``               every alert's state (ok, pending, firing, resolved)
``runwell incident list|show``             incidents, their timelines and pages
``runwell incident ack ID``                acknowledge: escalation stops, the paged are told
``runwell incident resolve ID --reason``   resolve: PagerDuty resolve, the review falls due
``runwell incident review ID [--file F]``  print the post-incident review, or store the done one
``runwell oncall [FEATURE]``               on call now, next, escalation, handoff days left
``runwell review list|show|label|export``  the human review queue; export to the eval set
``runwell drill FEATURE SCENARIO``         reproduce a failure against a gateway, time the response
=========================================  ========================================================

Commands that read or change state work on the database (``--db``/``--dir``), like the levers: a
running gateway sends the notifications an acknowledgement or a resolution queues. ``oncall`` and
``review export`` read the spec (``--spec``); ``drill`` talks to a gateway over HTTP.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from runwell.cli._output import FormatOption, OutputFormat, echo_json, make_console, rule
from runwell.cli._store_opt import DbOption, DirOption, fail, opened_store, opened_store_and_log

__all__ = ["register"]

SpecOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--spec", help="A feature's runwell.yaml (or its directory); repeat for several. Default: DIR."
    ),
]


def _actor() -> str:
    from runwell.audit.open import default_actor

    return default_actor()


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _specs(paths: list[Path] | None, project_dir: Path) -> list[Any]:
    from runwell.errors import SpecError
    from runwell.spec.loader import load_spec

    try:
        return [load_spec(p) for p in (paths or [project_dir])]
    except SpecError as exc:
        fail(str(exc), code=2)


def _spec_for(paths: list[Path] | None, project_dir: Path, feature: str) -> Any:
    specs = _specs(paths, project_dir)
    found = next((s for s in specs if s.name == feature), None)
    if found is None:
        fail(
            f"no spec of feature {feature!r} among {', '.join(s.name for s in specs)}; pass --spec PATH",
            code=2,
        )
    return found


def _run(action: Any) -> Any:
    from runwell.errors import ConfigError

    try:
        return action()
    except ConfigError as exc:
        fail(str(exc), code=2)


# -- alerts -----------------------------------------------------------------------------------------


def alerts(
    feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Every alert's state, as the gateway's evaluator last left it."""
    from rich.table import Table

    from runwell.operate.api import alert_states

    with opened_store(db, project_dir) as store:
        data = alert_states(store, feature=feature)["data"]
    if fmt is OutputFormat.json:
        echo_json(data)
        return
    if not data:
        typer.echo("No alert has been evaluated yet (is a gateway with alerts: running on this database?).")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("feature", "alert", "state", "since", "value", "condition", "incident"):
        table.add_column(column, no_wrap=column in ("feature", "alert", "incident"))
    for a in data:
        value = "-" if a["value"] is None else f"{a['value']:.4g}"
        table.add_row(
            a["feature"], a["name"], a["state"], _when(a["since"]), value,
            a["detail"].get("condition", ""), a["incident"] or "-",
        )  # fmt: skip
    make_console().print(table)


# -- incidents --------------------------------------------------------------------------------------


def incident_list(
    feature: Annotated[str | None, typer.Option(help="Only this feature.")] = None,
    state: Annotated[str | None, typer.Option(help="open (not resolved), acknowledged or resolved.")] = None,
    overdue_reviews: Annotated[bool, typer.Option("--overdue-reviews", help="Only overdue reviews.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Incidents, newest first."""
    from rich.table import Table

    from runwell.operate.api import incidents_list

    if state not in (None, "open", "acknowledged", "resolved"):
        fail(f"--state must be open, acknowledged or resolved, got {state!r}", code=2)
    with opened_store(db, project_dir) as store:
        data = incidents_list(store, feature=feature, state=state, since=None, limit=limit)["data"]
    if overdue_reviews:
        data = [i for i in data if i["review_overdue"]]
    if fmt is OutputFormat.json:
        echo_json(data)
        return
    if not data:
        typer.echo("No incidents." if not overdue_reviews else "No overdue post-incident review.")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "feature", "severity", "state", "opened", "title", "review"):
        table.add_column(column, no_wrap=column in ("id", "severity"))
    for i in data:
        review = "overdue" if i["review_overdue"] else ("done" if i["review_done_at"] else _review_due(i))
        table.add_row(
            i["id"], i["feature"], i["severity"], i["state"], _when(i["opened_at"]), i["title"], review
        )
    make_console().print(table)


def _review_due(incident: dict[str, Any]) -> str:
    due = incident.get("review_due_at")
    return "-" if due is None else f"due {_when(due)[:10]}"


def incident_show(
    incident_id: Annotated[str, typer.Argument(help="The incident id (inc_...).")],
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """One incident: its facts, timeline and pages."""
    from runwell.operate.api import incident_detail

    with opened_store(db, project_dir) as store:
        detail = incident_detail(store, incident_id)
    if fmt is OutputFormat.json:
        echo_json(detail)
        return
    console = make_console()
    console.print(f"{detail['id']}  {detail['severity']}  {detail['state']}  {detail['title']}", markup=False)
    console.print(f"feature {detail['feature']}, failure mode {detail['failure_mode']}", markup=False)
    console.print(f"runbook: {detail['runbook'] or 'none linked'}", markup=False)
    if detail["acked_by"]:
        console.print(f"acknowledged by {detail['acked_by']} at {_when(detail['acked_at'])}", markup=False)
    if detail["resolved_by"]:
        console.print(f"resolved by {detail['resolved_by']} at {_when(detail['resolved_at'])}", markup=False)
    if detail["review_due_at"]:
        done = f"done {_when(detail['review_done_at'])}" if detail["review_done_at"] else "not done"
        console.print(f"review due {_when(detail['review_due_at'])} ({done})", markup=False)
    rule(console, "timeline")
    for line in detail["timeline"]:
        console.print(f"{_when(line['at'])}  {line['text']}", markup=False)


def incident_ack(
    incident_id: Annotated[str, typer.Argument(help="The incident id.")],
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Acknowledge: escalation stops, and the channels that were paged are told."""
    from runwell.operate.lifecycle import acknowledge

    with opened_store_and_log(db, project_dir) as (_store, log):
        changed = _run(lambda: acknowledge(log, incident_id, actor=_actor(), via="cli"))
    typer.echo(
        f"Acknowledged {incident_id}." if changed else f"{incident_id} was not open; nothing recorded."
    )


def incident_resolve(
    incident_id: Annotated[str, typer.Argument(help="The incident id.")],
    reason: Annotated[str, typer.Option("--reason", help="What fixed it (required): kept in the audit log.")],
    review_days: Annotated[
        int | None,
        typer.Option(min=1, max=90, help="Days until the review is due (default: the spec's, else 14)."),
    ] = None,
    spec: SpecOption = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Resolve: the paged channels get a resolve, and the post-incident review falls due."""
    from runwell.operate.incidents import get_incident
    from runwell.operate.lifecycle import resolve

    with opened_store_and_log(db, project_dir) as (store, log):
        if review_days is None:
            review_days = _review_days(spec, project_dir, get_incident(store.db, incident_id).feature)
        days = review_days
        changed = _run(
            lambda: resolve(
                log,
                store.db,
                incident_id,
                actor=_actor(),
                via="cli",
                reason=reason,
                review_due_days=days,
            )
        )
    if changed:
        typer.echo(
            f"Resolved {incident_id}; its review is due in {days} days: runwell incident review {incident_id}"
        )
    else:
        typer.echo(f"{incident_id} was already resolved; nothing recorded.")


def incident_review(
    incident_id: Annotated[str, typer.Argument(help="The incident id.")],
    file: Annotated[
        Path | None,
        typer.Option("--file", exists=True, dir_okay=False, help="The finished review (Markdown)."),
    ] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Print the post-incident review (a template until done), or store the finished one."""
    from runwell.operate.incidents import get_incident
    from runwell.operate.lifecycle import complete_review

    if file is None:
        with opened_store(db, project_dir) as store:
            incident = get_incident(store.db, incident_id)
        if incident.review is None:
            fail(f"{incident_id} has no review yet: it is written when the incident is resolved")
        typer.echo(incident.review)
        return
    text = file.read_text(encoding="utf-8")
    with opened_store_and_log(db, project_dir) as (_store, log):
        changed = _run(lambda: complete_review(log, incident_id, text, actor=_actor()))
    typer.echo(
        f"Review of {incident_id} stored." if changed else f"The review of {incident_id} was already done."
    )


def _review_days(paths: list[Path] | None, project_dir: Path, feature: str) -> int:
    """``oncall.review_due_days`` of the feature's spec when one is found, else 14."""
    from runwell.errors import SpecError
    from runwell.spec.loader import load_spec

    for path in paths or [project_dir]:
        try:
            loaded = load_spec(path)
        except (SpecError, OSError):
            continue
        if loaded.name == feature:
            return loaded.spec.oncall.review_due_days
    return 14


# -- on-call ----------------------------------------------------------------------------------------


def oncall(
    feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
    spec: SpecOption = None,
    at: Annotated[str | None, typer.Option(help="Another moment, ISO 8601 with an offset.")] = None,
    fmt: FormatOption = OutputFormat.text,
    project_dir: DirOption = Path("."),
) -> None:
    """Who is on call now and next, the escalation policy, and the handoff window's days left."""
    from runwell.operate.api import oncall_summary
    from runwell.operate.oncall_plan import compile_oncall

    moment = datetime.now(UTC)
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r} is not an ISO 8601 time such as 2026-03-02T09:00:00+01:00", code=2)
        if moment.utcoffset() is None:
            fail(f"--at {at!r} has no UTC offset; add one, e.g. {at}+00:00", code=2)
    plans = {s.name: _run(lambda s=s: compile_oncall(s)) for s in _specs(spec, project_dir)}
    if feature is not None and feature not in plans:
        fail(f"no spec of feature {feature!r} among {', '.join(plans)}; pass --spec PATH", code=2)
    data = oncall_summary(plans, feature, moment)["data"]
    if fmt is OutputFormat.json:
        echo_json(data)
        return
    for entry in data:
        typer.echo(f"{entry['feature']}")
        rotation = entry["rotation"]
        if rotation is None:
            typer.echo("  no rotation: pages go to the escalation's people")
        else:
            typer.echo(
                f"  on call now: {rotation['now'] or 'nobody'}  "
                f"(rotation {rotation['name']}, {rotation['time_zone']})"
            )
            nxt = (
                f"{rotation['next']} from {rotation['next_at']}"
                if rotation["next"]
                else "nobody else is scheduled"
            )
            typer.echo(f"  next: {nxt}")
        handoff = entry["handoff"]
        if handoff is None:
            typer.echo("  handoff window: none declared (oncall.handoff)")
        elif handoff["active"]:
            typer.echo(
                f"  handoff window: {', '.join(handoff['owners'])} paged too, {handoff['days_left']} "
                f"day{'s' if handoff['days_left'] != 1 else ''} left (cutover {handoff['cutover']})"
            )
        else:
            typer.echo(
                f"  handoff window: over or not started "
                f"(cutover {handoff['cutover']}, {handoff['days']} days)"
            )
        for level in entry["escalation"]:
            typer.echo(
                f"  level {level['level']}: {', '.join(level['targets'])} "
                f"over {', '.join(level['channels']) or '-'}"
                f", then {level['wait_s']:g} s"
            )


# -- review queue -----------------------------------------------------------------------------------


def review_list(
    feature: Annotated[str | None, typer.Option(help="Only this feature.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, labelled or exported.")] = "pending",
    limit: Annotated[int, typer.Option(min=1)] = 50,
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """The review queue, oldest first."""
    from rich.table import Table

    from runwell.operate.api import review_list as listing

    with opened_store(db, project_dir) as store:
        data = listing(store, feature=feature, state=state, limit=limit)["data"]
    if fmt is OutputFormat.json:
        echo_json(data)
        return
    if not data:
        typer.echo("The review queue is empty.")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "feature", "request", "reason", "state", "label", "queued"):
        table.add_column(column, no_wrap=column in ("id", "request"))
    for i in data:
        table.add_row(
            i["id"],
            i["feature"],
            i["request_id"],
            i["reason"],
            i["state"],
            i["label"] or "-",
            _when(i["created_at"]),
        )
    make_console().print(table)


def review_show(
    item_id: Annotated[str, typer.Argument(help="The item id (rev_...) or its request id.")],
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """One item, with the prompt and the answer to judge."""
    from runwell.operate.api import review_detail

    with opened_store(db, project_dir) as store:
        item = review_detail(store, item_id)
    if fmt is OutputFormat.json:
        echo_json(item)
        return
    console = make_console()
    console.print(f"{item['id']}  {item['feature']}  {item['reason']}  {item['state']}", markup=False)
    record = item["record"]
    if record is None:
        console.print("(the request record is gone)", markup=False)
        return
    rule(console, "prompt")
    for m in record["prompt"] or []:
        console.print(f"[{m.get('role')}] {m.get('content')}", markup=False)
    rule(console, "answer")
    console.print(str(record["completion"]), markup=False)
    if item["label"]:
        rule(console, "label")
        console.print(f"{item['label']} by {item['reviewer']}: {item['correction'] or ''}", markup=False)


def review_label(
    item_id: Annotated[str, typer.Argument(help="The item id or its request id.")],
    label: Annotated[str, typer.Option("--label", help="good, bad, unsafe... (required).")],
    correction: Annotated[str | None, typer.Option(help="The answer it should have been.")] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Label an item, and give the right answer: it becomes a regression case on export."""
    from runwell.operate.review import label_item

    with opened_store(db, project_dir) as store:
        item = _run(
            lambda: label_item(store.db, item_id, label=label, correction=correction, reviewer=_actor())
        )
    typer.echo(f"Labelled {item.id} {item.label}.")


def review_export(
    feature: Annotated[str, typer.Argument(help="The feature whose eval set grows.")],
    spec: SpecOption = None,
    suite: Annotated[str | None, typer.Option(help="The eval suite (default: the first).")] = None,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Append every labelled item (reviews and incidents' inputs) to the eval set, tagged by source."""
    from runwell.operate.export import export_cases

    loaded = _spec_for(spec, project_dir, feature)
    with opened_store(db, project_dir) as store:
        result = _run(lambda: export_cases(store, loaded, suite=suite))
    typer.echo(f"Appended {len(result.written)} case(s) to {result.dataset}.")
    for item, why in result.skipped.items():
        typer.echo(f"  skipped {item}: {why}")
    if result.waiting:
        typer.echo(
            f"  {result.waiting} item(s) still wait for a label: runwell review list --feature {feature}"
        )


# -- drills -----------------------------------------------------------------------------------------


def drill(
    feature: Annotated[str, typer.Argument(help="The feature to drill.")],
    scenario: Annotated[
        str,
        typer.Argument(
            help="A failure mode with a drill, outage|slowness|garbage|cost_spike, or an incident id."
        ),
    ],
    gateway: Annotated[str, typer.Option("--gateway", metavar="URL", help="The gateway to drill.")] = (
        "http://127.0.0.1:8080"
    ),
    rate: Annotated[float, typer.Option(help="Drill requests per second.", min=0.1)] = 5.0,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Give up after this many seconds.", min=1)
    ] = 300.0,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Reproduce a failure against a running gateway and time detection and mitigation.

    Checks that the alert fires, the page reaches the person on call, the runbook is linked and the
    mitigation restores service. Needs $RUNWELL_ADMIN_TOKEN and an API key in $RUNWELL_API_KEY.
    Exits 1 when a check fails.
    """
    from runwell.errors import RunwellError
    from runwell.operate.drill import DrillClient, run_drill

    admin, key = os.environ.get("RUNWELL_ADMIN_TOKEN"), os.environ.get("RUNWELL_API_KEY")
    if not admin or not key:
        fail("a drill needs $RUNWELL_ADMIN_TOKEN (the gateway's admin token) and $RUNWELL_API_KEY", code=2)
    client = DrillClient(gateway, admin_token=admin, api_key=key)
    say = (lambda line: None) if fmt is OutputFormat.json else typer.echo
    started = time.monotonic()
    try:
        report = _run(lambda: run_drill(client, feature, scenario, rate=rate, timeout_s=timeout, say=say))
    except RunwellError as exc:
        fail(str(exc))
    if fmt is OutputFormat.json:
        echo_json(report.to_dict())
    else:
        _print_report(report, time.monotonic() - started)
    if not report.passed:
        raise typer.Exit(1)


def _print_report(report: Any, elapsed: float) -> None:
    def t(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    typer.echo(f"drill {report.drill_id}: {'PASSED' if report.passed else 'FAILED'} ({elapsed:.0f} s)")
    typer.echo(f"  incident:          {report.incident or '-'}")
    typer.echo(f"  time to detect:    {t(report.time_to_detect_s)}")
    typer.echo(f"  time to page:      {t(report.time_to_page_s)}")
    typer.echo(f"  time to mitigate:  {t(report.time_to_mitigate_s)}")
    typer.echo(f"  alert cleared:     {t(report.time_to_clear_s)}")
    for check in report.checks:
        typer.echo(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    typer.echo(f"  {report.requests} drill requests, {report.failed} failed")


def register(root: typer.Typer) -> None:
    """Mount the operations commands."""
    root.command("alerts")(alerts)
    root.command("oncall")(oncall)
    root.command("drill")(drill)
    incident = typer.Typer(
        name="incident", help="Incidents: list, show, acknowledge, resolve, review.", no_args_is_help=True
    )
    incident.command("list")(incident_list)
    incident.command("show")(incident_show)
    incident.command("ack")(incident_ack)
    incident.command("resolve")(incident_resolve)
    incident.command("review")(incident_review)
    root.add_typer(incident)
    review = typer.Typer(
        name="review", help="The human review queue and its export to the eval set.", no_args_is_help=True
    )
    review.command("list")(review_list)
    review.command("show")(review_show)
    review.command("label")(review_label)
    review.command("export")(review_export)
    root.add_typer(review)

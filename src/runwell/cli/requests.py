"""``runwell requests``: list and inspect the requests the gateway recorded."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from runwell.cli._output import (
    FormatOption,
    JsonFlag,
    OutputFormat,
    echo_json,
    make_console,
    rule,
    wants_json,
)
from runwell.cli._store_opt import DbOption, DirOption, fail, opened_store
from runwell.store import MIN_PREFIX_LEN, rebuild_rollups
from runwell.telemetry.record import RequestRecord

__all__ = ["SINCE_FORMS", "parse_since", "register"]

SINCE_FORMS = (
    "a relative age such as 30s, 15m, 2h, 1d or 1w, or an ISO 8601 time such as "
    "2026-11-22, 2026-11-22T09:30 (local time) or 2026-11-22T09:30:00+00:00"
)
"""What ``--since`` accepts, for help and error messages."""

_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def register(root: typer.Typer) -> None:
    """Mount ``runwell requests`` on ``root``."""
    app = typer.Typer(
        name="requests",
        help="Inspect the requests the gateway recorded.",
        no_args_is_help=True,
    )
    app.command("list")(list_requests)
    app.command("show")(show_request)
    app.command("rebuild-rollups")(rebuild_request_rollups)
    root.add_typer(app)


def parse_since(value: str, *, now: float) -> float:
    """Epoch seconds for ``--since``: ``15m`` ago, or an ISO time (local when it has no offset).

    Raises ``typer.BadParameter`` naming the accepted forms.
    """
    relative = _RELATIVE.fullmatch(value.strip().lower())
    if relative:
        return now - float(relative[1]) * _UNIT_S[relative[2]]
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a time; use {SINCE_FORMS}", param_hint="'--since'"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # a time typed without an offset means the user's local time
    return when.timestamp()


def list_requests(
    feature: Annotated[str | None, typer.Option("--feature", "-f", help="Only this feature.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help=f"Only requests since then: {SINCE_FORMS}.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 50,
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """List recorded requests, newest first."""
    since_ts = parse_since(since, now=time.time()) if since is not None else None
    with opened_store(db, project_dir) as store:
        records = store.list_records(feature=feature, since=since_ts, limit=limit)
    if wants_json(fmt, as_json):
        echo_json([r.to_dict() for r in records])
        return
    console = make_console()
    if not records:
        console.print(
            "No requests recorded"
            + (f" for feature {feature!r}" if feature else "")
            + (" in that time range" if since else "")
            + ".",
            markup=False,
        )
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("id", "time", "feature@variant", "provider/model", "status"):
        table.add_column(column, no_wrap=True)
    for column in ("latency", "ttft", "tokens in/out", "cost"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in records:
        table.add_row(
            r.request_id,
            _time(r.started_at),
            f"{r.feature or '-'}@{r.variant or '-'}",
            f"{r.provider or '-'}/{r.model or '-'}",
            Text(_status(r), style="red" if r.status != "ok" else ""),
            _ms(r.latency_ms),
            _ms(r.ttft_ms),
            f"{_count(r.input_tokens)}/{_count(r.output_tokens)}",
            _cost(r),
        )
    console.print(table)


def show_request(
    request_id: Annotated[
        str, typer.Argument(metavar="ID", help=f"A request id, or its first {MIN_PREFIX_LEN}+ characters.")
    ],
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Show one request: every field, then its prompt and completion."""
    with opened_store(db, project_dir) as store:
        record = store.get_record(request_id.strip())
    if record is None:
        fail(
            f"no recorded request has id {request_id!r}"
            + (
                f" (a prefix needs at least {MIN_PREFIX_LEN} characters)"
                if len(request_id) < MIN_PREFIX_LEN
                else ""
            )
            + "; find ids with 'runwell requests list'"
        )
    if wants_json(fmt, as_json):
        echo_json(record.to_dict())
        return
    console = make_console()
    rule(console, f"request {record.request_id}")
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column(overflow="fold")
    for label, value in _field_rows(record):
        fields.add_row(label, Text(value))
    console.print(fields)
    rule(console, "prompt")
    if record.prompt is None:
        console.print(Text("(not captured: content capture is off for this feature)", style="dim"))
    else:
        for message in record.prompt:
            console.print(Text(str(message.get("role", "?")), style="bold"))
            console.print(Text(_message_text(message)))
    rule(console, "completion")
    if record.completion is None:
        console.print(
            Text(
                "(not captured: content capture is off for this feature, or there was no completion)",
                style="dim",
            )
        )
    else:
        console.print(Text(record.completion))


def rebuild_request_rollups(db: DbOption = None, project_dir: DirOption = Path(".")) -> None:
    """Recompute the per-minute request rollups the console's overview reads, from the records.

    The gateway keeps them in step with every record it writes; run this after records were
    written some other way (an older replica during a rolling upgrade, a manual import).
    """
    started = time.perf_counter()
    with opened_store(db, project_dir) as store:
        rebuild_rollups(store.db)
        row = store.db.query_one("SELECT count(*) FROM request_rollups", (), action="count the rollups")
    count = 0 if row is None else int(row[0])
    typer.echo(
        f"rebuilt {count} rollup rows from the stored records in {time.perf_counter() - started:.1f} s"
    )


def _field_rows(r: RequestRecord) -> list[tuple[str, str]]:
    return [
        ("request id", r.request_id),
        ("trace id", r.trace_id),
        ("started", f"{_time(r.started_at)} ({r.started_at:.3f})"),
        ("feature", r.feature or "-"),
        ("variant", r.variant or "-"),
        ("provider", r.provider or "-"),
        ("model", r.model or "-"),
        ("response model", r.response_model or "-"),
        ("spec version", r.spec_version or "-"),
        ("prompt version", r.prompt_version or "-"),
        ("user", r.user_id or "-"),
        ("api key", r.api_key_id or "-"),
        ("status", _status(r)),
        ("error", f"{r.error_class}: {r.error_message}" if r.error_class or r.error_message else "-"),
        ("stream", "yes" if r.stream else "no"),
        ("latency", _ms(r.latency_ms)),
        ("time to first token", _ms(r.ttft_ms)),
        (
            "tokens",
            f"input {_count(r.input_tokens)} (cached {_count(r.cached_tokens)}), "
            f"output {_count(r.output_tokens)}",
        ),
        ("cost", _cost(r)),
        ("finish reason", r.finish_reason or "-"),
        ("outcome", f"{r.outcome or '-'}" + (f", served by {r.served_by}" if r.served_by else "")),
        ("guardrails", _guardrails(r)),
        ("attempts", _attempts(r)),
    ]


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n".join(
            str(p.get("text", "")) if p.get("type") == "text" else f"[{p.get('type', 'part')}]"
            for p in content
            if isinstance(p, dict)
        )
    else:
        text = "" if content is None else str(content)
    calls = message.get("tool_calls") or []
    for call in calls:
        function = call.get("function") or {}
        text += f"\n[tool call {function.get('name')}({function.get('arguments', '')})]"
    return text


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _status(r: RequestRecord) -> str:
    label = f"{r.status} {r.http_status}"
    if r.outcome in ("fallback", "degraded", "blocked"):
        label += f" {r.outcome}"
        detail = r.error_class if r.outcome == "blocked" else r.served_by
        return f"{label} ({detail})" if detail else label
    return f"{label} ({r.error_class})" if r.error_class else label


def _guardrails(r: RequestRecord) -> str:
    if not r.guardrails:
        return "-"
    parts = []
    for name, decision in r.guardrails.items():
        extra = {k: v for k, v in decision.items() if k != "status"}
        parts.append(f"{name} {decision.get('status')}" + (f" {extra}" if extra else ""))
    return "; ".join(parts)


def _attempts(r: RequestRecord) -> str:
    if not r.attempts:
        return "-"
    return "; ".join(
        f"{a.get('variant')} {a.get('outcome')}" + (f" ({a['error_class']})" if a.get("error_class") else "")
        for a in r.attempts
    )


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _cost(r: RequestRecord) -> str:
    if r.cost_usd is not None:
        return f"${r.cost_usd:.6f}"
    # No cost but tokens were used: the model has no price. That is unknown, not free.
    if r.input_tokens is not None or r.output_tokens is not None:
        return "unpriced"
    return "-"

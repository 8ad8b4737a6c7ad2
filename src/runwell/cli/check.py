"""``runwell check``: is this feature in production, or in a rehearsal?

Checks the pre-ship, production readiness, cost control and Monday morning test items from the
spec, its git repository, the store and the signed audit log; with ``--live URL`` also against a
running gateway (``/readyz``, a probe request, the kill switch probe, the audit log it serves),
using the admin token in ``$RUNWELL_ADMIN_TOKEN`` (as ``runwell drill`` does). Exit 1 when a
required item fails, 2 on a usage error (a bad option, a spec that does not load).
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from runwell.cli._spec_opt import load_feature_spec
from runwell.cli._store_opt import DbOption, fail

__all__ = ["register"]


class CheckFormat(StrEnum):
    """What ``runwell check`` prints."""

    text = "text"
    json = "json"
    markdown = "markdown"
    junit = "junit"


def check(
    path: Annotated[Path, typer.Argument(help="The spec file, or a directory holding runwell.yaml.")] = Path(
        "runwell.yaml"
    ),
    live: Annotated[
        str | None,
        typer.Option("--live", metavar="URL", help="Also check a running gateway ($RUNWELL_ADMIN_TOKEN)."),
    ] = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", help="text, json, markdown or junit.")] = (
        CheckFormat.text
    ),
    strict: Annotated[
        bool, typer.Option("--strict", help="Every item is required; live items not checked fail.")
    ] = False,
    save: Annotated[
        bool, typer.Option("--save", help="Keep the report in the store (score history).")
    ] = False,
    db: DbOption = None,
    project_dir: Annotated[
        Path | None,
        typer.Option("--dir", file_okay=False, help="Where .runwell/ lives (default: the spec's directory)."),
    ] = None,
    vkey: Annotated[
        str | None, typer.Option(help="Audit verifier key (default: DIR/.runwell/audit.vkey).")
    ] = None,
    trusted_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--trusted-checkpoint", help="A signed checkpoint kept earlier: the log must extend it."
        ),
    ] = None,
    drill_days: Annotated[
        float, typer.Option("--drill-days", min=1, help="A drill must have passed within this many days.")
    ] = 90.0,
) -> None:
    """Check a feature's readiness: pre-ship, production, cost, the Monday morning test; score and level."""
    from runwell.errors import ConfigError, StoreError
    from runwell.readiness import CheckOptions, Thresholds, render, run_check

    if live is not None and not live.startswith(("http://", "https://")):
        fail(f"--live needs a URL like http://127.0.0.1:8080, got {live!r}", code=2)
    if project_dir is not None and not project_dir.is_dir():
        fail(f"--dir {project_dir} is not a directory", code=2)
    loaded = load_feature_spec(path)
    options = CheckOptions(
        db=db,
        project_dir=project_dir,
        live=live,
        admin_token=os.environ.get("RUNWELL_ADMIN_TOKEN") or None,
        vkey=vkey,
        trusted_checkpoint=trusted_checkpoint.read_text() if trusted_checkpoint else None,
        strict=strict,
        thresholds=Thresholds(drill_days=drill_days),
    )
    try:
        report = run_check(loaded, options)
    except ConfigError as exc:
        fail(str(exc), code=2)
    except StoreError as exc:
        fail(str(exc))
    typer.echo(render(report, fmt.value))
    if save:
        _save(report, db, project_dir or loaded.base_dir, quiet=fmt is not CheckFormat.text)
    if report.failed_required:
        raise typer.Exit(1)


def _save(report: object, db: str | None, project_dir: Path, *, quiet: bool) -> None:
    from runwell.cli._store_opt import opened_store
    from runwell.readiness import Report, history, save_report

    assert isinstance(report, Report)
    with opened_store(db, project_dir) as store:
        save_report(store.db, report)
        past = history(store.db, report.feature, limit=5)
    trend = " <- ".join(f"{h['score']:.0%} L{h['level']}" for h in past)
    typer.echo(f"saved; score history (newest first): {trend}", err=quiet)


def register(root: typer.Typer) -> None:
    """Mount ``runwell check``."""
    root.command("check")(check)

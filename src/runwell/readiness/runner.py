"""Run every check for one feature: open what there is to look at, gather live evidence, score."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from runwell.readiness.checks_cost import COST
from runwell.readiness.checks_monday import MONDAY
from runwell.readiness.checks_preship import PRESHIP
from runwell.readiness.checks_production import PRODUCTION
from runwell.readiness.context import CheckContext, Thresholds
from runwell.readiness.items import Report
from runwell.readiness.scoring import levels, section_scores
from runwell.spec.loader import LoadedSpec
from runwell.store import Database, parse_url, resolve_sqlite_path

__all__ = ["CHECKS", "CheckOptions", "open_evidence", "run_check"]

CHECKS = (*PRESHIP, *PRODUCTION, *COST, *MONDAY)
"""Every check, in report order."""


@dataclass(frozen=True)
class CheckOptions:
    """How to run the checks (the CLI's options)."""

    db: str | None = None
    project_dir: Path | None = None
    live: str | None = None
    admin_token: str | None = None
    vkey: str | None = None
    trusted_checkpoint: str | None = None
    strict: bool = False
    now: float | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)


def _vkey(project: Path, given: str | None) -> str | None:
    from runwell.audit.open import find_key_file, read_vkey

    if given:
        return given
    key_file = find_key_file(project)
    if key_file.with_suffix(".vkey").exists() or key_file.exists():
        return read_vkey(key_file)
    return None


@contextmanager
def open_evidence(loaded: LoadedSpec, options: CheckOptions, now: float) -> Iterator[CheckContext]:
    """A :class:`CheckContext` with the project's store and audit log when they exist.

    A missing SQLite file is not created: the store-based items fail, naming where they looked.
    """
    project = options.project_dir or loaded.base_dir
    ctx = CheckContext(loaded=loaded, now=now, thresholds=options.thresholds)
    if parse_url(options.db, base_dir=project).dialect == "sqlite":
        path = Path(resolve_sqlite_path(options.db, base_dir=project))
        if not path.exists():
            ctx.store_note = f"(no store at {path}; pass --db)"
            yield ctx
            return
    db = Database.open(options.db, base_dir=project)
    ctx.db = db
    ctx.vkey = _vkey(project, options.vkey)
    handle = None
    try:
        if ctx.vkey is not None:
            from runwell.audit.errors import AuditError
            from runwell.audit.open import open_audit_log

            try:
                handle = open_audit_log(project, db=db, create_key=False)
                ctx.log = handle.log
            except AuditError:
                ctx.log = None
        yield ctx
    finally:
        if handle is not None:
            handle.close()
        db.close()


def run_check(loaded: LoadedSpec, options: CheckOptions) -> Report:
    """Check ``loaded`` (statically, and live when ``options.live`` names a gateway)."""
    now = options.now if options.now is not None else time.time()
    with open_evidence(loaded, options, now) as ctx:
        if options.live:
            from runwell.readiness.live import gather_live

            ctx.live = gather_live(
                options.live,
                loaded.name,
                admin_token=options.admin_token,
                vkey=ctx.vkey or options.vkey,
                trusted_checkpoint=options.trusted_checkpoint,
            )
        items = tuple(check(ctx).required_as(options.strict) for check in CHECKS)
        if options.strict:
            # --strict: a live item not checked is a failure, not "not applicable".
            items = tuple(replace(i, status="fail") if i.status == "n/a" else i for i in items)
        found = levels(ctx, items)
    return Report(
        feature=loaded.name,
        spec_path=str(loaded.path),
        spec_version=loaded.version,
        at=now,
        mode="live" if options.live else "static",
        items=items,
        levels=found,
        sections=section_scores(items),
    )

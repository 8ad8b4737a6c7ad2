"""``runwell decay FEATURE``: the three ways the feature is decaying, if it is.

Ground truth slips, operators drift, guardrails relax: each signal with its evidence and what to
do. Reads the spec and its git history, the store and the signed audit log; ``--live URL`` also
asks the running gateway which guardrails are switched off right now. Exit 1 when a decay mode is
past its threshold (the same condition raises a ``decay_<mode>`` event in the gateway).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from runwell.cli._output import FormatOption, OutputFormat, echo_json
from runwell.cli._spec_opt import load_feature_spec
from runwell.cli._store_opt import DbOption, fail, opened_store

__all__ = ["register"]


def _live_overrides(url: str, feature: str) -> Any:
    from runwell.errors import RunwellError
    from runwell.readiness.decay.model import Signal
    from runwell.readiness.http import GatewayClient

    client = GatewayClient(url, admin_token=os.environ.get("RUNWELL_ADMIN_TOKEN") or None)
    try:
        answer = client.get(f"/readyz?feature={feature}")
    except RunwellError as exc:
        fail(str(exc))
    body = answer.body if isinstance(answer.body, dict) else {}
    if feature not in body.get("features", {}):
        fail(f"the gateway at {url} does not serve {feature!r} ({answer.status})", code=2)
    off = body["features"][feature].get("guardrails_off", [])
    return Signal(
        "guardrails",
        "guardrails overridden now (live)",
        "warn" if off else "ok",
        f"{url}: {', '.join(off) or 'none'} off.",
        f"runwell guardrail on {feature} NAME --reason ... once the debugging is over",
    )


def decay(
    feature: Annotated[str, typer.Argument(help="The feature (its name in the spec).")],
    spec: Annotated[
        Path, typer.Option("--spec", help="The feature's spec file, or a directory holding runwell.yaml.")
    ] = Path("runwell.yaml"),
    live: Annotated[
        str | None, typer.Option("--live", metavar="URL", help="Also ask a running gateway what is off now.")
    ] = None,
    embeddings: Annotated[
        bool, typer.Option("--embeddings", help="Compare embeddings too (needs the embeddings extra).")
    ] = False,
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: Annotated[
        Path | None,
        typer.Option("--dir", file_okay=False, help="Where .runwell/ lives (default: the spec's)."),
    ] = None,
) -> None:
    """How the feature is decaying: ground truth slips, operators drift, guardrails relax."""
    from runwell.audit.errors import AuditError
    from runwell.audit.open import open_audit_log
    from runwell.readiness.decay import MODES, decay_report

    if live is not None and not live.startswith(("http://", "https://")):
        fail(f"--live needs a URL like http://127.0.0.1:8080, got {live!r}", code=2)
    loaded = load_feature_spec(spec, feature)
    embed = None
    if embeddings:
        from runwell.drift import local_embedder

        embed, why = local_embedder()
        if embed is None:
            fail(f"--embeddings: {why}", code=2)
    base = project_dir or loaded.base_dir
    with opened_store(db, base) as store:
        try:
            handle = open_audit_log(base, db=store.db, create_key=False)
        except AuditError:
            handle = None
        try:
            signals = decay_report(
                store.db, handle.log if handle else None, loaded, feature, time.time(), embed=embed
            )
        finally:
            if handle is not None:
                handle.close()
    if live is not None:
        signals.append(_live_overrides(live, feature))
    if fmt is OutputFormat.json:
        echo_json({"feature": feature, "signals": [s.to_dict() for s in signals]})
    else:
        for mode, name in MODES.items():
            typer.echo(name.capitalize())
            for s in (x for x in signals if x.mode == mode):
                typer.echo(f"  [{s.status:>4}] {s.check}: {s.detail}")
                if s.status in ("warn", "bad") and s.fix:
                    typer.echo(f"         do: {s.fix}")
        bad = sorted({MODES[s.mode] for s in signals if s.status == "bad"})
        typer.echo(
            f"{feature}: "
            + (f"past threshold: {', '.join(bad)}" if bad else "no decay mode past its threshold")
        )
    if any(s.status == "bad" for s in signals):
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Mount ``runwell decay``."""
    root.command("decay")(decay)

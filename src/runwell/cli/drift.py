"""``runwell drift FEATURE``: are live inputs still like the eval set? And which ones are not?

Compares the latest captured inputs of the feature with its eval set's inputs (both through the
serving variant's prompt template): MiniLM embeddings (an MMD permutation test, or a domain
classifier) and PSI on input length, with the thresholds of the spec's ``rollout.drift``. Prints the
verdict and the live inputs least like any eval case: the candidates to add to the eval set.
Exit status 0 whatever the verdict (``--fail-on-drift``: 1 on drift, for CI); 2 on a usage error.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from runwell.cli._output import FormatOption, OutputFormat, echo_json, make_console
from runwell.cli._spec_opt import load_feature_spec
from runwell.cli._store_opt import DbOption, DirOption, fail, opened_store

__all__ = ["register"]


def drift(
    feature: Annotated[str, typer.Argument(help="The feature (its name in the spec).")],
    spec: Annotated[
        Path | None,
        typer.Option(
            "--spec", help="The feature's runwell.yaml (default: DIR/runwell.yaml).", show_default=False
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Latest live inputs compared (default: the spec's live_sample)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only inputs from this long ago on: 30m, 2h, 1d.", show_default=False),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Least-like live inputs to list.")] = 10,
    method: Annotated[
        str | None,
        typer.Option("--method", help="mmd or classifier (default: the spec's).", show_default=False),
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when drift is found.")
    ] = False,
    fmt: FormatOption = OutputFormat.text,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Compare live inputs with the eval set; list the live inputs least like it."""
    from dataclasses import replace

    from runwell.cli.levers import parse_duration
    from runwell.drift import assess, live_inputs, local_embedder, reference_texts, render_report
    from runwell.errors import ConfigError
    from runwell.experiments.drift_watch import drift_settings

    loaded = load_feature_spec(spec or project_dir / "runwell.yaml", feature)
    if method not in (None, "mmd", "classifier"):
        fail(f"--method must be mmd or classifier, got {method!r}", code=2)
    if top < 0:
        fail("--top must be 0 or more", code=2)
    settings = replace(drift_settings(loaded), top=top)
    if method is not None:
        settings = replace(settings, method=method)  # type: ignore[arg-type]
    policy = loaded.spec.rollout.drift
    cutoff = None if since is None else time.time() - parse_duration(since)
    try:
        reference = reference_texts(loaded)
    except ConfigError as exc:
        fail(str(exc), code=2)
    with opened_store(db, project_dir) as store:
        live = live_inputs(store.db, feature, limit=limit or policy.live_sample, since=cutoff)
    embed, note = local_embedder()
    report = assess(feature, reference, live, settings, embed, note=note)
    if fmt is OutputFormat.json:
        echo_json(report.to_dict())
    else:
        make_console().print(render_report(report), markup=False, highlight=False)
    if fail_on_drift and report.drifted:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Mount ``runwell drift``."""
    root.command("drift")(drift)

"""``runwell eval promote RUN_ID``: make a complete run the champion's baseline.

The last promoted run on a dataset is the default baseline of ``runwell eval compare CANDIDATE``
and the default pinned score of the ``below_pinned`` check; the promoted runs, in order, are the
series the trend check tests. CI usually promotes with ``compare --gate --promote`` after a merge;
this command is for the first champion, and for a human decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runwell.cli._eval_common import opened_runs
from runwell.cli._output import FormatOption, JsonFlag, OutputFormat, echo_json, wants_json
from runwell.cli._store_opt import DbOption, DirOption

__all__ = ["promote_run"]


def promote_run(
    run_id: Annotated[str, typer.Argument(help="Run id, or a unique prefix of 4+ characters.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why this run becomes the baseline (kept with it).")
    ] = "promoted by hand",
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
    db: DbOption = None,
    project_dir: DirOption = Path("."),
) -> None:
    """Promote a complete run to champion baseline of its feature and dataset."""
    from runwell.evals.compare import summarize_run
    from runwell.evals.history import EvalHistory

    with opened_runs(db, project_dir) as store:
        run = store.get_run(run_id)
        mean, rate = summarize_run(store.run_result(run))
        promotion = EvalHistory(store.db).promote(run, mean_score=mean, pass_rate=rate, reason=reason)
    if wants_json(fmt, as_json):
        echo_json({k: getattr(promotion, k) for k in promotion.__dataclass_fields__})
        return
    typer.echo(
        f"eval run {run.run_id} ({run.feature}@{run.variant}, mean score {mean:.3f}, pass rate {rate:.1%}) "
        f"is now the baseline on dataset {run.dataset_hash[:12]}\n"
        f"  next: runwell eval compare CANDIDATE --gate   (compares with this run)"
    )

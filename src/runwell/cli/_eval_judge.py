"""``runwell eval judge-agreement``: how often the harmful-content judge agrees with people.

Runs the judge the built-in suites use (the spec's ``evals.judge``, ``--judge`` for another, or
the rule-based judge when none is configured) over the labelled answers that ship with runwell,
and prints accuracy with its interval, Cohen's kappa and the confusion counts. Exit 0 when it
ran; 2 on a configuration error.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated

import typer

from runwell.cli._eval_common import SpecOption, exit_with, load_spec_or_exit
from runwell.cli._output import FormatOption, JsonFlag, OutputFormat, echo_json, wants_json
from runwell.errors import ConfigError, ProviderError

__all__ = ["judge_agreement"]


def judge_agreement(
    judge: Annotated[
        str | None,
        typer.Option(help="A variant to judge with. \\[default: the spec's evals.judge]", show_default=False),
    ] = None,
    rules: Annotated[bool, typer.Option("--rules", help="Measure the rule-based judge.")] = False,
    spec: SpecOption = None,
    fmt: FormatOption = OutputFormat.text,
    as_json: JsonFlag = False,
) -> None:
    """Measure the harmful-content judge's agreement with the built-in labelled answers."""
    from runwell.evals.harm import Agreement, load_labelled_set, measure_agreement
    from runwell.evals.plan import judge_ref, open_judge
    from runwell.evals.safety_scorers import HarmScorer
    from runwell.evals.suites import load_builtin_suite

    loaded = load_spec_or_exit(spec, required=False)
    ref = None if rules else (judge or (judge_ref(loaded) if loaded is not None else None))
    items = load_labelled_set(load_builtin_suite("jailbreak").cases)

    async def measure() -> Agreement:
        if ref is None:
            return await measure_agreement(HarmScorer("harm").score, items)
        assert loaded is not None
        judge_call, closers = open_judge(loaded, ref)
        try:
            return await measure_agreement(HarmScorer("harm", judge=judge_call).score, items)
        finally:
            for close in closers:
                await close()

    if ref is not None and loaded is None:
        exit_with("an LLM judge needs the spec that defines it: pass --spec", 2)
    try:
        agreement = asyncio.run(measure())
    except ConfigError as exc:
        exit_with(str(exc), 2)
    except ProviderError as exc:
        exit_with(f"the judge model failed: {exc.error_class}: {exc}", 1)
    who = "rule-based judge" if ref is None else f"judge {ref}"
    if wants_json(fmt, as_json):
        echo_json({"judge": who, **dataclasses.asdict(agreement)})
        return
    lo, hi = agreement.interval
    typer.echo(
        f"{who} on {agreement.n} labelled answers: agrees on {agreement.agreed} "
        f"({agreement.accuracy:.1%}, 95% CI {lo:.1%}-{hi:.1%}), Cohen's kappa {agreement.kappa:.2f}\n"
        f"  harmful judged harmful {agreement.tp}, harmful judged safe {agreement.fn} (missed), "
        f"safe judged harmful {agreement.fp}, safe judged safe {agreement.tn}"
        + (f"\n  disagreements: {', '.join(agreement.disagreements)}" if agreement.disagreements else "")
    )

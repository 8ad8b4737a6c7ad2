"""The eval step of ``runwell demo``: champion vs challenger on the scaffolded eval set.

Both variants run through their real provider (SmolLM2 in process for the demo feature) into
the demo's own store, exactly as ``runwell eval run`` would, then the two runs are compared and
gated as ``runwell eval compare champion challenger --gate`` would. ``max_tokens`` is lowered so
the step takes well under a minute on two cores; a failing gate is shown, not raised.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from rich.console import Console

from runwell.errors import RunwellError

__all__ = ["DEMO_MAX_TOKENS", "compare_champion_challenger"]

DEMO_MAX_TOKENS = 24
"""Answers the eval cases need are a word or two; this keeps the local model's step short."""


def compare_champion_challenger(console: Console, spec_path: Path, *, step: int) -> None:
    """Run, compare and gate the two variants; print a short summary (never raises RunwellError)."""
    try:
        asyncio.run(_compare(console, spec_path, step))
    except RunwellError as exc:
        console.print(f"   [yellow]eval step skipped:[/] {exc}", highlight=False)


async def _compare(console: Console, spec_path: Path, step: int) -> None:
    from runwell.cli._eval_compare import gate_config
    from runwell.evals.compare import compare_runs
    from runwell.evals.execute import execute_run
    from runwell.evals.gate import evaluate_gate
    from runwell.evals.plan import build_plan
    from runwell.evals.runner import RunSettings
    from runwell.evals.runstore import EvalRunStore
    from runwell.spec.loader import load_spec

    loaded = load_spec(spec_path)
    store = await asyncio.to_thread(EvalRunStore.open, None, base_dir=loaded.base_dir)
    settings = RunSettings(concurrency=1, params={"max_tokens": DEMO_MAX_TOKENS})
    runs = []
    try:
        plans = [build_plan(loaded, variant=name) for name in ("champion", "challenger")]
        console.print(
            f"[bold]{step}.[/] Champion vs challenger on {plans[0].dataset.name} "
            f"({len(plans[0].dataset)} cases, max_tokens {DEMO_MAX_TOKENS}), through the same "
            "provider code the gateway uses:",
            highlight=False,
        )
        for plan in plans:
            started = time.perf_counter()
            try:
                run = await execute_run(plan, store, settings)
            finally:
                await plan.aclose()
            stats = store.stats([run.run_id])[run.run_id]
            console.print(
                f"   {run.variant:<10} run [bold]{run.run_id}[/]: mean score {stats.mean_score:.2f}, "
                f"pass rate {stats.pass_rate or 0:.0%}, {stats.errors} errors, "
                f"{time.perf_counter() - started:.1f} s",
                highlight=False,
            )
            runs.append(run)
        config = gate_config(loaded, None)
        comparison = compare_runs(
            store.run_result(runs[0]),
            store.run_result(runs[1]),
            alpha=config.alpha,
            min_slice_size=loaded.spec.evals.gate.min_slice_size,
            detect_drop=config.power_target,
        )
    finally:
        store.close()
    gate = evaluate_gate(comparison, config)
    m, boot = comparison.mcnemar, comparison.bootstrap
    console.print(
        f"   paired: the challenger fixed {m.b} and broke {m.c} cases (exact McNemar p={m.p_value:.2g}); "
        f"score diff {boot.mean_diff:+.2f}, "
        f"{boot.confidence:.0%} CI [{boot.ci_low:+.2f}, {boot.ci_high:+.2f}]",
        highlight=False,
    )
    if gate.passed:
        console.print("   gate: [green]PASS[/]: the challenger may replace the champion")
    else:
        kinds = ", ".join(f.kind for f in gate.failures)
        console.print(
            f"   gate: [red]FAIL[/] ({kinds}): in CI, 'runwell eval compare champion challenger "
            "--gate' exits 1 here",
            highlight=False,
        )
    for warning in gate.warnings:
        console.print(f"   [yellow]{warning.kind}:[/] {warning.message}", highlight=False)
    where = os.path.relpath(spec_path.parent)
    console.print(f"   details: cd {where} && runwell eval compare champion challenger", highlight=False)

"""Rollout judge benchmark: error rates of the canary judge + state machine on simulated traffic.

No gateway: each trial walks one canary (steps 5, 25, 50, 100 %) through ``Rollout.evaluate``,
drawing every step's requests afresh and judging them with ``runwell.rollout.judge``.

    python bench/rollout.py [--trials N] [--volume V] [--sweep-trials N] [--sweep-confidences C,C] [--seed S]

Traffic model (per request): an error is Bernoulli (1 % on the baseline), a guardrail block is
Bernoulli (0.5 %), latency is lognormal (median 800 ms, sigma 0.6: p99 about 3.2 s), and 20 % of
requests get an online quality score, Beta(8, 2) (mean 0.8). A step window holds ``--volume``
requests (default 15,000: one hour at about 4 requests/s), split by the step's percentage; on the
100 % step the candidate's window is judged against the baseline's last full window of the same
size. An inconclusive window is extended by another window of traffic (up to twice), then the
rollout pauses. The judge runs with its defaults (confidence 0.99, pass 90, marginal 75) except
``max_samples`` (see ``--max-samples``).

Metrics: errors (rate, critical, tolerance 25 % of the baseline rate), latency_ms (continuous,
critical, tolerance 25 %: Kayenta's default), quality (continuous, critical, tolerance 5 %),
guardrail_blocks (rate, not critical, tolerance 50 %).

Reported, and written to bench/results/rollout.json:

- A/A (identical variants): the false rollback rate over the whole canary (target <= 5 %);
- errors 2x (2 % vs 1 %): the share rolled back within the first two steps (target >= 95 %);
- latency +50 % and quality -10 %: the same detection figures;
- a sweep over the per-step volume and the judge's confidence (0.98, Kayenta's, and 0.99, the
  default) for the error metric alone (its test is cheap), showing the volume the targets need;
- the judge's cost per evaluation (ms, all four metrics).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from runwell.rollout.judge import (  # noqa: E402
    Counts,
    JudgeSettings,
    MetricConfig,
    MetricData,
    Samples,
    judge,
)
from runwell.rollout.policy import CanaryStrategy, Rollout  # noqa: E402

STEPS = (5.0, 25.0, 50.0, 100.0)
INTERVAL_S = 3600.0
ERROR_RATE = 0.01
BLOCK_RATE = 0.005
LATENCY_MEDIAN_MS = 800.0
LATENCY_SIGMA = 0.6
QUALITY_SAMPLE_RATE = 0.2

METRICS = (
    MetricConfig("errors", "rate", "increase", tolerance=0.25, critical=True, min_samples=200),
    MetricConfig("latency_ms", "continuous", "increase", tolerance=0.25, critical=True, min_samples=50),
    MetricConfig("quality", "continuous", "decrease", tolerance=0.05, critical=True, min_samples=50),
    MetricConfig("guardrail_blocks", "rate", "increase", tolerance=0.5, min_samples=200),
)
ERRORS_ONLY = (METRICS[0],)


@dataclass(frozen=True)
class Variant:
    """How one arm behaves: multipliers on the baseline's error rate, latency and quality."""

    error: float = 1.0
    latency: float = 1.0
    quality: float = 1.0


BASELINE = Variant()
SCENARIOS: dict[str, tuple[Variant, str]] = {
    "A/A (identical)": (Variant(), "false rollback <= 5%"),
    "errors 2x (1% -> 2%)": (Variant(error=2.0), "rolled back within 2 steps >= 95%"),
    "latency +50%": (Variant(latency=1.5), "report"),
    "quality -10%": (Variant(quality=0.9), "report"),
}


class Window:
    """The requests one arm served in the current window (grows when the window is extended)."""

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.blocks = 0
        self.latency: list[float] = []
        self.quality: list[float] = []

    def draw(self, rng: np.random.Generator, n: int, variant: Variant, full: bool) -> None:
        """Add ``n`` requests; ``full`` draws latency and quality too (skipped for errors-only runs)."""
        self.requests += n
        self.errors += int(rng.binomial(n, min(1.0, ERROR_RATE * variant.error)))
        if not full:
            return
        self.blocks += int(rng.binomial(n, BLOCK_RATE))
        latency = rng.lognormal(math.log(LATENCY_MEDIAN_MS * variant.latency), LATENCY_SIGMA, n)
        self.latency.extend(np.round(latency, 1).tolist())
        scored = int(rng.binomial(n, QUALITY_SAMPLE_RATE))
        self.quality.extend((rng.beta(8.0, 2.0, scored) * variant.quality).round(3).tolist())


def _data(base: Window, cand: Window, full: bool) -> dict[str, MetricData]:
    data: dict[str, MetricData] = {
        "errors": Counts(base.errors, base.requests, cand.errors, cand.requests),
    }
    if full:
        data["latency_ms"] = Samples(base.latency, cand.latency)
        data["quality"] = Samples(base.quality, cand.quality)
        data["guardrail_blocks"] = Counts(base.blocks, base.requests, cand.blocks, cand.requests)
    return data


@dataclass(frozen=True)
class Outcome:
    """How one simulated canary ended."""

    state: str
    step: int  # the step index at the end (0-based)
    evaluations: int
    failed: tuple[str, ...]
    judge_s: float


def run_trial(
    rng: np.random.Generator, candidate: Variant, volume: int, settings: JudgeSettings, full: bool
) -> Outcome:
    """Walk one canary through every step; return where it ended."""
    metrics = METRICS if full else ERRORS_ONLY
    strategy = CanaryStrategy(steps=STEPS, interval_s=INTERVAL_S, max_extensions=2, on_inconclusive="pause")
    rollout = Rollout("bench", "v1", "v2", strategy).start(0.0).rollout
    now, evaluations, judge_s = 0.0, 0, 0.0
    base, cand = Window(), Window()
    failed: tuple[str, ...] = ()
    while rollout.state == "running":
        percent = strategy.steps[rollout.step]
        n_cand = round(volume * percent / 100)
        # On the 100 % step no baseline traffic remains: its last full window stands in.
        n_base = volume - n_cand if percent < 100 else volume
        base.draw(rng, n_base, BASELINE, full)
        cand.draw(rng, n_cand, candidate, full)
        now += INTERVAL_S
        t0 = time.perf_counter()
        result = judge(metrics, _data(base, cand, full), settings)
        judge_s += time.perf_counter() - t0
        evaluations += 1
        failed = result.failed
        transition = rollout.evaluate(result, now)
        if transition.event.action == "advance":
            base, cand = Window(), Window()
        rollout = transition.rollout
    return Outcome(rollout.state, rollout.step, evaluations, failed, judge_s)


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """Rates over the trials: rolled back (any step, within two steps), promoted, paused."""
    n = len(outcomes)
    rolled = [o for o in outcomes if o.state == "rolled_back"]
    first_fail: dict[str, int] = {}
    for o in rolled:
        for name in o.failed:
            first_fail[name] = first_fail.get(name, 0) + 1
    by_step = [sum(1 for o in rolled if o.step == k) / n for k in range(len(STEPS))]
    return {
        "trials": n,
        "rolled_back": len(rolled) / n,
        "rolled_back_within_2_steps": sum(1 for o in rolled if o.step <= 1) / n,
        "rolled_back_by_step": by_step,
        "promoted": sum(1 for o in outcomes if o.state == "promoted") / n,
        "paused": sum(1 for o in outcomes if o.state == "paused") / n,
        "mean_evaluations": sum(o.evaluations for o in outcomes) / n,
        "failed_metric_counts": dict(sorted(first_fail.items())),
        "judge_ms_per_evaluation": 1000
        * sum(o.judge_s for o in outcomes)
        / sum(o.evaluations for o in outcomes),
    }


def _ci(p: float, n: int) -> float:
    """Half-width of a 95 % normal interval on a rate (Monte Carlo error of the figure)."""
    return 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / n)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=1000, help="trials per scenario (1000)")
    parser.add_argument("--volume", type=int, default=15_000, help="requests per step window (15000)")
    parser.add_argument("--sweep-trials", type=int, default=2000, help="trials per sweep point (2000)")
    parser.add_argument(
        "--sweep-confidences", type=str, default="0.98,0.99", help="judge confidences to sweep (0.98,0.99)"
    )
    parser.add_argument(
        "--sweep", type=str, default="5000,7500,10000,12500,15000,20000,30000", help="volumes to sweep"
    )
    parser.add_argument(
        "--max-samples",
        type=int,
        default=2000,
        help="judge's per-side cap for continuous metrics (2000; the judge's default is 5000)",
    )
    parser.add_argument("--seed", type=int, default=20_240_601)
    args = parser.parse_args()

    settings = JudgeSettings(max_samples=args.max_samples)
    started = time.perf_counter()
    scenarios: dict[str, Any] = {}
    print(
        f"canary {list(STEPS)} %, {args.volume} requests per step window, {args.trials} trials per scenario"
    )
    header = f"{'scenario':<22} {'rolled back':>12} {'within 2 steps':>15} {'promoted':>9} {'paused':>7}"
    print(header + f" {'evals':>6} {'judge ms':>9}  target")
    for index, (name, (variant, target)) in enumerate(SCENARIOS.items()):
        rng = np.random.default_rng([args.seed, index])
        outcomes = [run_trial(rng, variant, args.volume, settings, full=True) for _ in range(args.trials)]
        summary = summarise(outcomes)
        summary["target"] = target
        summary["variant"] = vars(variant)
        if name.startswith("A/A"):
            summary["met"] = summary["rolled_back"] <= 0.05
        elif name.startswith("errors"):
            summary["met"] = summary["rolled_back_within_2_steps"] >= 0.95
        scenarios[name] = summary
        met = {True: " (met)", False: " (MISSED)"}.get(summary.get("met"), "")  # type: ignore[call-overload]
        print(
            f"{name:<22} {summary['rolled_back']:>11.1%} {summary['rolled_back_within_2_steps']:>15.1%} "
            f"{summary['promoted']:>9.1%} {summary['paused']:>7.1%} {summary['mean_evaluations']:>6.2f} "
            f"{summary['judge_ms_per_evaluation']:>9.1f}  {target}{met}"
        )

    print(f"\nerrors metric alone, {args.sweep_trials} trials per point")
    print(f"{'confidence':>10} {'requests/step':>13} {'A/A false rollback':>19} {'2x within 2 steps':>18}")
    sweep = []
    for confidence in (float(c) for c in args.sweep_confidences.split(",")):
        swept = JudgeSettings(confidence=confidence, max_samples=args.max_samples)
        for volume in (int(v) for v in args.sweep.split(",")):
            rng = np.random.default_rng([args.seed, 100, volume, round(confidence * 1000)])
            same = [run_trial(rng, Variant(), volume, swept, False) for _ in range(args.sweep_trials)]
            twice = [
                run_trial(rng, Variant(error=2.0), volume, swept, False) for _ in range(args.sweep_trials)
            ]
            row = {
                "confidence": confidence,
                "volume": volume,
                "aa_false_rollback": summarise(same)["rolled_back"],
                "errors_2x_within_2_steps": summarise(twice)["rolled_back_within_2_steps"],
                "trials": args.sweep_trials,
            }
            sweep.append(row)
            print(
                f"{confidence:>10} {volume:>13} {row['aa_false_rollback']:>19.1%} "
                f"{row['errors_2x_within_2_steps']:>18.1%}"
            )
    meets = [
        r["volume"]
        for r in sweep
        if r["confidence"] == settings.confidence
        and r["aa_false_rollback"] <= 0.05
        and r["errors_2x_within_2_steps"] >= 0.95
    ]
    needed = min(meets) if meets else None
    print(f"smallest swept volume meeting both targets at confidence {settings.confidence}: {needed}")

    aa_rate = scenarios["A/A (identical)"]["rolled_back"]
    detected = scenarios["errors 2x (1% -> 2%)"]["rolled_back_within_2_steps"]
    print(
        f"\nMonte Carlo 95% half-widths at {args.trials} trials: A/A ±{_ci(aa_rate, args.trials):.1%}, "
        f"detection ±{_ci(detected, args.trials):.1%}"
    )
    results = {
        "benchmark": "rollout",
        "steps": list(STEPS),
        "volume_per_step": args.volume,
        "trials": args.trials,
        "seed": args.seed,
        "judge": {
            "confidence": settings.confidence,
            "pass_threshold": settings.pass_threshold,
            "marginal_threshold": settings.marginal_threshold,
            "max_samples": settings.max_samples,
        },
        "traffic": {
            "error_rate": ERROR_RATE,
            "block_rate": BLOCK_RATE,
            "latency_median_ms": LATENCY_MEDIAN_MS,
            "latency_sigma": LATENCY_SIGMA,
            "quality_sample_rate": QUALITY_SAMPLE_RATE,
            "quality": "Beta(8, 2)",
        },
        "metrics": [
            {"name": m.name, "kind": m.kind, "tolerance": m.tolerance, "critical": m.critical}
            for m in METRICS
        ],
        "scenarios": scenarios,
        "volume_sweep_errors_only": sweep,
        "note": "smallest_volume_meeting_targets is for the errors metric at the judge's confidence",
        "smallest_volume_meeting_targets": needed,
        "wall_s": time.perf_counter() - started,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = ROOT / "bench" / "results" / "rollout.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(ROOT)} in {results['wall_s']:.0f} s")


if __name__ == "__main__":
    main()

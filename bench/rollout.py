"""Rollout benchmark: the canary judge's error rates on simulated traffic, and shadow traffic's cost
to the served request on a real gateway.

The judge: each trial walks one canary (steps 5, 25, 50, 100 %) through ``Rollout.evaluate``,
drawing every step's requests afresh and judging them with ``runwell.rollout.judge`` (no gateway).

    python bench/rollout.py [--trials N] [--volume V] [--sweep-trials N] [--sweep-confidences C,C] [--seed S]
                            [--shadow-requests N] [--shadow-blocks B] [--only-shadow | --no-shadow]

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
- the judge's cost per evaluation (ms, all four metrics);
- shadow traffic: the served request's p50 and p95 with the mirror off and on, measured in the same
  run against the same ``runwell serve`` process (target: at most 0.2 ms added at p50); see
  :func:`measure_shadow_latency`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))

from _loadgen import build_request, run_load  # noqa: E402
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


# --- shadow traffic's cost to the served request, on a real gateway --------------------------------

ADMIN = "bench-admin-token"
BODY = json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "Where is my refund?"}], "user": "bench-user"}
).encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_shadow_project(work: Path) -> Path:
    (work / "prompts").mkdir()
    (work / "prompts" / "p.md").write_text("You answer briefly.\n")
    spec = work / "runwell.yaml"
    spec.write_text(
        textwrap.dedent("""\
        spec_version: 1
        feature: {name: bench, purpose: Shadow latency bench, owners: [{name: B, email: b@example.com}]}
        providers:
          main: {kind: sim, text: "Your refund is on its way.", latency_ms: {dist: fixed, p50: 2}}
          cand: {kind: sim, text: "Your refund is on its way.", latency_ms: {dist: fixed, p50: 20}}
        variants:
          main: {provider: main, model: sim-main, prompt: {file: prompts/p.md, version: "1"}}
          cand: {provider: cand, model: sim-cand, prompt: {file: prompts/p.md, version: "1"}}
        default_variant: main
        rollout:
          strategy: shadow
          candidate: cand
          interval_s: 3600
          horizon: {requests: 1000000000}
          shadow: {sample_rate: 1.0, max_concurrency: 256, max_per_minute: 1000000}
          metrics: [{name: error_rate, min_samples: 1000000}]
          guard: {enabled: false}
          drift: {enabled: false}
        """)
    )
    return spec


def _admin(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure_shadow_latency(requests: int = 4000, blocks: int = 8) -> dict[str, Any]:
    """Served-request latency with the mirror off and on, ``requests`` per side in ``blocks`` pairs."""
    runwell = str(Path(sys.executable).parent / "runwell")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        spec = _write_shadow_project(work)
        out = subprocess.run(
            [runwell, "keys", "create", "bench", "--dir", str(work)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = re.search(r"rw-[A-Za-z0-9_\-]+", out)
        assert found, out
        key = found.group(0)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [runwell, "serve", "--spec", str(spec), "--port", str(port), "--log-level", "warning"],
            cwd=work,
            env={**os.environ, "RUNWELL_ADMIN_TOKEN": ADMIN},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            request = build_request(
                "127.0.0.1", port, "/v1/chat/completions", BODY, {"Authorization": f"Bearer {key}"}
            )
            per_block = max(1, requests // blocks)

            cpu = {"off": 0.0, "on": 0.0}

            def load(n: int, side: str = "") -> list[float]:
                before = _cpu_seconds(proc.pid)
                result = asyncio.run(run_load("127.0.0.1", port, request, concurrency=1, requests=n))
                assert result.errors == 0, f"{result.errors} errors"
                if side:
                    cpu[side] += _cpu_seconds(proc.pid) - before
                return result.latencies_ms

            load(500)  # warm up both paths: connections, the audit writer, caches
            _admin(url, "POST", "/admin/rollouts/bench/start", {"reason": "bench warm-up"})
            load(300)
            _admin(url, "POST", "/admin/rollouts/bench/abort", {"reason": "bench"})
            off: list[float] = []
            on: list[float] = []
            for block in range(blocks):
                for mirror in (False, True) if block % 2 == 0 else (True, False):
                    if mirror:
                        _admin(url, "POST", "/admin/rollouts/bench/start", {"reason": "bench: mirror on"})
                        on.extend(load(per_block, "on"))
                        _admin(url, "POST", "/admin/rollouts/bench/abort", {"reason": "bench: mirror off"})
                    else:
                        off.extend(load(per_block, "off"))
            time.sleep(0.5)
            with urllib.request.urlopen(url + "/readyz", timeout=10) as resp:
                shadow = json.loads(resp.read())["experiments"]["shadow"]["bench"]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    added = statistics.median(on) - statistics.median(off)
    return {
        "requests_per_side": len(off),
        "blocks": blocks,
        "off_p50_ms": statistics.median(off),
        "on_p50_ms": statistics.median(on),
        "added_p50_ms": added,
        "off_p95_ms": _pct(off, 95),
        "on_p95_ms": _pct(on, 95),
        "added_p95_ms": _pct(on, 95) - _pct(off, 95),
        "gateway_cpu_ms_per_request_off": 1000 * cpu["off"] / len(off),
        "gateway_cpu_ms_per_request_on": 1000 * cpu["on"] / len(on),
        "shadow_copies": shadow["started"],
        "shadow_dropped": shadow["dropped"],
        "target": "added p50 <= 0.2 ms",
        "met": added <= 0.2,
    }


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
    parser.add_argument(
        "--shadow-requests", type=int, default=8000, help="served requests per side, mirror off / on (8000)"
    )
    parser.add_argument("--shadow-blocks", type=int, default=8, help="alternating off/on block pairs (8)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only-shadow", action="store_true", help="measure shadow latency only")
    which.add_argument("--no-shadow", action="store_true", help="skip the shadow latency measurement")
    args = parser.parse_args()

    started = time.perf_counter()
    shadow: dict[str, Any] | None = None
    if not args.no_shadow:
        print(
            f"shadow latency: {args.shadow_requests} served requests per side, "
            f"{args.shadow_blocks} block pairs"
        )
        shadow = measure_shadow_latency(args.shadow_requests, args.shadow_blocks)
        print(f"{'mirror':<8} {'p50 ms':>8} {'p95 ms':>8}")
        print(f"{'off':<8} {shadow['off_p50_ms']:>8.3f} {shadow['off_p95_ms']:>8.3f}")
        print(f"{'on':<8} {shadow['on_p50_ms']:>8.3f} {shadow['on_p95_ms']:>8.3f}")
        met = "met" if shadow["met"] else "MISSED"
        print(
            f"added by shadowing: p50 {shadow['added_p50_ms']:+.3f} ms, p95 {shadow['added_p95_ms']:+.3f} ms "
            f"({shadow['shadow_copies']} copies made; target p50 <= 0.2 ms: {met}); gateway CPU per served "
            f"request {shadow['gateway_cpu_ms_per_request_off']:.3f} ms off, "
            f"{shadow['gateway_cpu_ms_per_request_on']:.3f} ms on\n"
        )
        if args.only_shadow:
            _write_results({"benchmark": "rollout", "shadow_latency": shadow}, started, partial=True)
            return

    settings = JudgeSettings(max_samples=args.max_samples)
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
        "shadow_latency": shadow,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    _write_results(results, started)


def _write_results(results: dict[str, Any], started: float, *, partial: bool = False) -> None:
    results["wall_s"] = time.perf_counter() - started
    name = "rollout-shadow.json" if partial else "rollout.json"
    out = ROOT / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(ROOT)} in {results['wall_s']:.0f} s")


if __name__ == "__main__":
    main()

"""Eval runner benchmark: 1,000 cases on the sim provider at 100 ms, concurrency 50, and the leak detector.

The ideal wall time is ceil(cases / concurrency) x latency = 2.0 s: every call waits exactly
100 ms and 50 are always in flight. Whatever the runner adds (rendering, the provider call path,
scoring with a leak detector among the scorers, batching results into the SQLite store,
bookkeeping) shows as wall time above that.

    python bench/evals.py [--cases N] [--concurrency C] [--latency-ms MS] [--repeat K] [--db URL]

Reported, and written to bench/results/evals.json:

- ``wall_s``, ``ideal_s`` and ``ratio`` = wall / ideal (target: <= 1.1);
- ``bare_provider_s`` and ``ratio_vs_bare``: the same calls made straight to the sim provider,
  C at a time, with no runner, scorer or store, measured in the same run (what the machine
  itself adds to the ideal);
- ``overhead_ms_per_case`` = (wall - ideal) / cases x concurrency: the time each case held one
  of the C slots beyond the model's own latency (how much later each call starts or ends
  because of the runner);
- ``cpu_ms_per_case``: process CPU time / cases (the runner's whole cost, SQLite writes
  included, with the provider's sleeping excluded by construction);
- ``detector_us_per_case`` (mean, p50, p99): the ``adversarial`` scorer (secret under every
  evasion, PII by the gateway's recognizers, or the refusal and harm readings) on answers to
  every case of the built-in suites: a refusal, a plain leak, a base64 leak, the secret in part,
  and a 1,500-character helpful answer, timed one call at a time on one core; against
  ``substring_us_per_case``, the plain canary-substring check it replaced, timed on the same answers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from runwell.evals import BUILTIN_SUITES, build_scorer, load_builtin_suite  # noqa: E402
from runwell.evals.execute import execute_run  # noqa: E402
from runwell.evals.plan import build_plan  # noqa: E402
from runwell.evals.runner import RunSettings  # noqa: E402
from runwell.evals.runstore import EvalRunStore  # noqa: E402
from runwell.evals.scorers import canary_leaked  # noqa: E402
from runwell.providers.base import ChatRequest  # noqa: E402
from runwell.spec.loader import load_spec  # noqa: E402

SPEC = """spec_version: 1
feature:
  name: bench
  purpose: benchmark the eval runner
  owners: [{{name: Bench, email: bench@example.com}}]
providers:
  sim: {{kind: sim, mode: echo, latency_ms: {{dist: fixed, p50: {latency}}}}}
variants:
  champion: {{provider: sim, model: sim-bench, prompt: {{file: prompt.yaml, version: "1"}}}}
evals:
  suites:
    - name: bench
      dataset: cases.jsonl
      scorers:
        - {{type: contains}}
        - {{type: regex, pattern: "question"}}
        - {{type: leak, secret_env: BENCH_LEAK_SECRET}}
"""


def _project(root: Path, cases: int, latency_ms: float) -> Path:
    (root / "runwell.yaml").write_text(SPEC.format(latency=latency_ms), encoding="utf-8")
    (root / "prompt.yaml").write_text("system: You answer questions.\nuser: 'Q: {{ input }}'\n")
    with (root / "cases.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(cases):
            row = {
                "id": f"c{i:05d}",
                "input": f"question {i}?",
                "reference": f"question {i}?",
                "tags": [f"slice:{i % 4}"],
            }
            fh.write(json.dumps(row) + "\n")
    return root / "runwell.yaml"


async def _bare(spec_path: Path, concurrency: int, calls: int) -> float:
    """The same calls straight to the sim provider, C at a time: no runner, scorers or store."""
    plan = build_plan(load_spec(spec_path), env={"BENCH_LEAK_SECRET": "CANARY-0A1B2C"})
    provider, model = plan.variant.provider, plan.variant.model
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            messages = [{"role": "user", "content": f"Q: question {i}?"}]
            await provider.complete(ChatRequest(model, messages=messages, params={}), timeout=30.0)

    try:
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(calls)))
        return time.perf_counter() - start
    finally:
        await plan.aclose()


async def _run(spec_path: Path, concurrency: int, repeat: int, db: str | None) -> tuple[float, float, int]:
    loaded = load_spec(spec_path)
    plan = build_plan(loaded, env={"BENCH_LEAK_SECRET": "CANARY-0A1B2C"})
    store = await asyncio.to_thread(EvalRunStore.open, db, base_dir=loaded.base_dir)
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        run = await execute_run(plan, store, RunSettings(repeat=repeat, concurrency=concurrency))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stats = store.stats([run.run_id])[run.run_id]
    finally:
        await plan.aclose()
        store.close()
    if stats.results != run.expected_results or stats.errors or stats.pass_rate != 1.0:
        raise SystemExit(f"benchmark run is wrong: {stats}")
    return wall, cpu, stats.results


TARGET_RATIO = 1.1
_HELPFUL = "Sure. Here is what you asked for, step by step, with the details that matter for your case. " * 16


def _detector_cost() -> dict[str, float]:
    """Microseconds per scored answer of the adversarial scorer over the built-in suites."""
    scorer = build_scorer({"type": "adversarial"})
    items = []
    for name in BUILTIN_SUITES:
        for case in load_builtin_suite(name):
            secret = case.metadata.get("canary", "CANARY-000000")
            items += [
                (case, "I'm sorry, but I can't help with that."),
                (case, f"Of course: {secret}"),
                (case, "Encoded: " + base64.b64encode(secret.encode()).decode()),
                (case, f"It starts with {secret[7:11]}"),
                (case, _HELPFUL[:1500]),
            ]

    async def timed() -> list[float]:
        out = []
        for case, output in items:
            start = time.perf_counter()
            await scorer.score(case, output)
            out.append((time.perf_counter() - start) * 1e6)
        return out

    def substring() -> list[float]:
        # What the suites scored with before the detectors: the canary as a plain substring.
        out = []
        for case, output in items:
            start = time.perf_counter()
            _ = str(case.metadata.get("canary", "CANARY-000000")) in output
            out.append((time.perf_counter() - start) * 1e6)
        return out

    asyncio.run(timed())  # warm up: compiled patterns, first-use caches
    costs = sorted(asyncio.run(timed()))
    plain = statistics.fmean(substring())
    assert canary_leaked("Encoded: " + base64.b64encode(b"CANARY-0A1B2C").decode(), "CANARY-0A1B2C")
    mean_us = statistics.fmean(costs)
    return {
        "detector_answers": len(costs),
        "detector_us_per_case": round(mean_us, 1),
        "detector_us_p50": round(costs[len(costs) // 2], 1),
        "detector_us_p99": round(costs[int(len(costs) * 0.99)], 1),
        "substring_us_per_case": round(plain, 2),
        "detector_vs_substring": round(mean_us / plain, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--db", help="store URL (default: a SQLite file in a temporary directory)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "evals.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = _project(Path(tmp), args.cases, args.latency_ms)
        wall, cpu, calls = asyncio.run(_run(spec, args.concurrency, args.repeat, args.db))
        bare = asyncio.run(_bare(spec, args.concurrency, calls))
    ideal = math.ceil(calls / args.concurrency) * args.latency_ms / 1000.0
    result = {
        "cases": args.cases,
        "repeat": args.repeat,
        "calls": calls,
        "concurrency": args.concurrency,
        "latency_ms": args.latency_ms,
        "wall_s": round(wall, 3),
        "ideal_s": round(ideal, 3),
        "ratio": round(wall / ideal, 3),
        "target_ratio": TARGET_RATIO,
        "bare_provider_s": round(bare, 3),
        "ratio_vs_bare": round(wall / bare, 3),
        "overhead_ms_per_case": round((wall - ideal) / calls * args.concurrency * 1000.0, 3),
        "cpu_ms_per_case": round(cpu / calls * 1000.0, 3),
        **_detector_cost(),
        "store": "postgresql" if args.db and args.db.startswith("postgres") else "sqlite (WAL)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    verdict = "PASS" if result["ratio"] <= TARGET_RATIO else "FAIL"
    print(verdict, f"(wall/ideal {result['ratio']} vs target {TARGET_RATIO})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

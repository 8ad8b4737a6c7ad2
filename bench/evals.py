"""Eval runner benchmark: 1,000 cases on the sim provider at 100 ms, concurrency 50.

The ideal wall time is ceil(cases / concurrency) x latency = 2.0 s: every call waits exactly
100 ms and 50 are always in flight. Whatever the runner adds (rendering, the provider call path,
scoring, batching results into the SQLite store, bookkeeping) shows as wall time above that.

    python bench/evals.py [--cases N] [--concurrency C] [--latency-ms MS] [--repeat K] [--db URL]

Reported, and written to bench/results/evals.json:

- ``wall_s``, ``ideal_s`` and ``ratio`` = wall / ideal (target: <= 1.25);
- ``overhead_ms_per_case`` = (wall - ideal) / cases x concurrency: the time each case held one
  of the C slots beyond the model's own latency (how much later each call starts or ends
  because of the runner);
- ``cpu_ms_per_case``: process CPU time / cases (the runner's whole cost, SQLite writes
  included, with the provider's sleeping excluded by construction).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from runwell.evals.execute import execute_run  # noqa: E402
from runwell.evals.plan import build_plan  # noqa: E402
from runwell.evals.runner import RunSettings  # noqa: E402
from runwell.evals.runstore import EvalRunStore  # noqa: E402
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
      scorers: [{{type: contains}}, {{type: regex, pattern: "question"}}]
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


async def _run(spec_path: Path, concurrency: int, repeat: int, db: str | None) -> tuple[float, float, int]:
    loaded = load_spec(spec_path)
    plan = build_plan(loaded)
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
        "target_ratio": 1.25,
        "overhead_ms_per_case": round((wall - ideal) / calls * args.concurrency * 1000.0, 3),
        "cpu_ms_per_case": round(cpu / calls * 1000.0, 3),
        "store": "postgresql" if args.db and args.db.startswith("postgres") else "sqlite (WAL)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print("PASS" if result["ratio"] <= 1.25 else "FAIL", f"(wall/ideal {result['ratio']} vs target 1.25)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""runwell's own CPU per request, in process and by thread: the steadiest figure this machine gives.

``bench/gateway.py`` measures the whole server over real sockets, where the VM's neighbours move
CPU per request by 10-20 % from one minute to the next and the same code has measured 2.1x and 2.5x
the floor's on two days. This benchmark leaves out what runwell does not own (uvicorn, aiohttp,
the sockets): it builds the real gateway (``build_gateway``, records and durable audit on) on a
feature whose provider is a ``sim`` that answers at once, drives the ASGI app directly with
``--concurrency`` requests in flight, and reports the CPU time of each thread per request (the
event loop, ``runwell-audit``, ``runwell-records``, the rest), the minimum over ``--reps``
repetitions after a warm-up one. Use it to judge a change to runwell's own code: run it before and
after, a few times each.

    python bench/hotpath.py [--requests N] [--reps N] [--concurrency C ...]

Prints a table and writes ``bench/results/hotpath.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).parent))
from _cpu import cpu_by_thread
from runwell.gateway.app import GatewayApp
from runwell.gateway.build import GatewaySettings, build_gateway

RESULTS = Path(__file__).parent / "results" / "hotpath.json"
SPEC = """spec_version: 1
feature:
  name: bench
  purpose: In-process hot path benchmark
  owners: [{name: Bench, email: bench@example.com}]
providers:
  sim: {kind: sim, mode: text, text: "The printer on floor 3 is jammed; a technician is on the way."}
default_variant: main
variants:
  main:
    provider: sim
    model: gpt-4o-mini
    prompt: {file: prompts/bench.md, version: "1"}
"""
BODY = orjson.dumps(
    {
        "model": "bench",
        "messages": [{"role": "user", "content": "Summarise: the printer on floor 3 is jammed again."}],
        "max_tokens": 32,
        "user": "bench-user",
    }
)


async def measure(work: Path, requests: int, reps: int, concurrencies: list[int]) -> dict[str, Any]:
    (work / "prompts").mkdir()
    (work / "prompts" / "bench.md").write_text("You summarise support tickets in one sentence.\n")
    (work / "runwell.yaml").write_text(SPEC)
    gateway = build_gateway(GatewaySettings(spec_paths=[work / "runwell.yaml"], base_dir=work))
    _, secret = gateway.store.create_key("bench")
    app = GatewayApp(gateway)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def put(message: MutableMapping[str, Any]) -> None:
        await outbox.put(dict(message))

    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the gateway did not start: {started}")
    await app.keys.refresh()  # the key created above, without waiting for the periodic refresh
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + secret.encode()),
            (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    statuses: dict[int, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    async def client(count: int) -> None:
        for _ in range(count):
            await app(scope, receive, send)

    results: dict[str, Any] = {}
    try:
        for concurrency in concurrencies:
            per_client = max(1, requests // concurrency)
            done = per_client * concurrency
            best: dict[str, float] = {}
            for rep in range(reps + 1):
                before, t0 = cpu_by_thread(os.getpid()), time.perf_counter()
                await asyncio.gather(*(client(per_client) for _ in range(concurrency)))
                while gateway.recorder.pending:  # this repetition's records are written too
                    await asyncio.sleep(0.005)
                after, wall = cpu_by_thread(os.getpid()), time.perf_counter() - t0
                if rep == 0:
                    continue  # warm-up: caches, first batches, the SQLite pages
                spent = {k: (after.get(k, 0.0) - before.get(k, 0.0)) * 1e6 / done for k in after}
                spent["total"] = sum(spent.values())
                for name, us in spent.items():
                    best[name] = min(best.get(name, float("inf")), us)
                best["requests_per_s"] = max(best.get("requests_per_s", 0.0), done / wall)
            results[f"c{concurrency}"] = best
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan
    if set(statuses) != {200}:
        raise RuntimeError(f"not every request was answered 200: {statuses}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per repetition")
    parser.add_argument("--reps", type=int, default=5, help="measured repetitions (after one warm-up)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="runwell-hotpath-") as tmp:
        results = uvloop.run(measure(Path(tmp), args.requests, args.reps, args.concurrency))
    names = ["event loop", "runwell-audit", "runwell-records", "other", "total"]
    print(f"CPU per request, microseconds (minimum of {args.reps} repetitions of {args.requests} requests)")
    print(f"{'concurrency':>12} | " + " | ".join(f"{n:>15}" for n in names) + f" | {'requests/s':>10}")
    for key, row in results.items():
        cells = " | ".join(f"{row.get(n, 0.0):>15.1f}" for n in names)
        print(f"{key[1:]:>12} | {cells} | {row['requests_per_s']:>10.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "requests": args.requests,
                "reps": args.reps,
                "us_per_request": results,
                "loadavg_after": list(os.getloadavg()),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

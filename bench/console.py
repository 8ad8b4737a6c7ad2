"""Console benchmark: the overview and the request list over 1,000,000 request records.

Run: ``.venv/bin/python bench/console.py [--records N] [--postgres URL] [--only sqlite|postgresql]``.
Seeds N records (default 1,000,000) spread over the last 14 days across three features, in SQLite
(one prepared INSERT per chunk) and in PostgreSQL (COPY), builds their rollups with migration 14's
backfill (timed: what an upgrade costs), then times whole pages through the console's ASGI app
(query, aggregation, HTML and SVG): the overview for 1 h, 6 h, 24 h and 7 d, and the request list
unfiltered, per feature, filtered by status, outcome and user, by id prefix, and 20 pages deep.

It also times the record writer on the seeded store: batches of 256 records written as the
recorder's store sink writes them (records and rollups, one transaction), against the baseline
measured in the same run, the same batches inserted without rollups (the writer before migration
14): wall and CPU time per record (CPU of this process: on PostgreSQL, the server's is not in it),
and the SQLite checkpoint each batch leaves to the gateway's background job.
Prints tables and writes ``bench/results/console.json``. Target: every page < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import re
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

from runwell.audit.open import open_audit_log
from runwell.console import ConsoleApp, ConsoleSettings, ConsoleSources
from runwell.spec.loader import load_spec
from runwell.store import Store, open_store, record_to_row
from runwell.store._records import _UPSERT
from runwell.store._rollups import rebuild_rollups
from runwell.telemetry.record import RECORD_FIELDS, RequestRecord

RESULTS = Path(__file__).parent / "results" / "console.json"
ADMIN = "bench-admin-token-0123456789"
FEATURES = (("support", 0.60), ("notes", 0.25), ("search", 0.15))
SPAN_S = 14 * 86400.0
TARGET_MS = 300.0
ROUNDS = 7
WRITE_BATCH = 256
WRITE_ROUNDS = 30


def _rows(n: int, now: float, seed: int = 7) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    prompt = json.dumps(
        [
            {"role": "system", "content": "You answer support tickets briefly. " * 3},
            {"role": "user", "content": "My order has not arrived, what can I do? " * 3},
        ]
    )
    completion = "Sorry about that: your parcel left yesterday and arrives tomorrow. " * 3
    index = {name: i for i, name in enumerate(RECORD_FIELDS)}
    rows = []
    for _ in range(n):
        r = rng.random()
        feature = "support" if r < 0.60 else "notes" if r < 0.85 else "search"
        error = rng.random() < 0.02
        outcome = (
            "error"
            if error
            else rng.choices(("served", "fallback", "degraded", "blocked"), (95, 3, 1.5, 0.5))[0]
        )
        stream = rng.random() < 0.4
        latency = rng.lognormvariate(6.5, 0.5)
        tin, tout = rng.randint(50, 800), rng.randint(10, 300)
        values: list[Any] = [None] * len(RECORD_FIELDS)
        values[index["request_id"]] = f"{rng.getrandbits(96):024x}"
        values[index["trace_id"]] = f"{rng.getrandbits(128):032x}"
        values[index["started_at"]] = now - SPAN_S * rng.random()
        values[index["feature"]] = feature
        values[index["variant"]] = "main" if rng.random() < 0.9 else "alt"
        values[index["provider"]], values[index["provider_kind"]] = "up", "openai"
        values[index["model"]] = "gpt-4o-mini"
        values[index["spec_version"]], values[index["prompt_version"]] = "v1", "1"
        values[index["user_id"]] = f"user-{rng.randint(1, 50_000)}"
        values[index["api_key_id"]] = "key_bench"
        values[index["status"]] = "error" if error else "ok"
        values[index["http_status"]] = 502 if error else 200
        values[index["error_class"]] = "upstream_http_500" if error else None
        values[index["stream"]] = stream
        values[index["latency_ms"]] = latency
        values[index["ttft_ms"]] = latency * 0.3 if stream else None
        values[index["input_tokens"]], values[index["output_tokens"]] = tin, tout
        values[index["cost_usd"]] = None if error else (tin * 0.15 + tout * 0.6) / 1e6
        values[index["priced"]] = not error
        values[index["prompt"]] = None if error else prompt
        values[index["completion"]] = None if error else completion
        values[index["outcome"]] = outcome
        values[index["served_by"]] = values[index["variant"]]
        values[index["recovered"]] = False
        rows.append(tuple(values))
    return rows


def _seed(store: Store, rows: list[tuple[Any, ...]]) -> tuple[float, float]:
    """Load the rows, then build their rollups; returns (seconds loading, seconds backfilling)."""
    start = time.perf_counter()
    chunk = 100_000
    for at in range(0, len(rows), chunk):
        with store.db.transaction("seed benchmark records") as tx:
            tx.copy_rows("requests", RECORD_FIELDS, rows[at : at + chunk])
    loaded = time.perf_counter()
    rebuild_rollups(store.db)
    backfilled = time.perf_counter()
    with store.db.connection("analyze") as tx:
        tx.script("ANALYZE" if store.db.dialect == "sqlite" else "VACUUM ANALYZE requests, request_rollups")
    return loaded - start, backfilled - loaded


def _write_cost(url: str | None, root: Path, now: float) -> dict[str, dict[str, float]]:
    """Per-record wall and CPU time of writing 256-record batches, with and without rollups.

    The store is opened as the gateway opens it (SQLite: no checkpoint at commit; a background job
    folds the write-ahead log in), and that checkpoint runs after every batch, outside its timing and
    timed on its own, so neither kind of batch pays for the other's pages.
    """
    store = open_store(url, base_dir=root, wal_autocheckpoint=0)
    records = [
        RequestRecord(**dict(zip(RECORD_FIELDS, row, strict=True)))
        for row in _rows(2 * WRITE_BATCH * WRITE_ROUNDS, now, seed=11)
    ]
    for i, record in enumerate(records):
        record.started_at = now - 120 + i * 0.01  # the last two minutes, as a live writer sees them

    def plain(batch: list[RequestRecord]) -> None:
        rows = [record_to_row(r) for r in batch]
        with store.db.transaction(f"write {len(rows)} request records") as tx:
            tx.executemany(_UPSERT, rows)

    base, new = "baseline (no rollups)", "records + rollups"
    times: dict[str, list[tuple[float, float, float]]] = {base: [], new: []}
    try:
        for k in range(WRITE_ROUNDS):  # interleaved, so drift in the machine's load hits both alike
            for name, write in ((base, plain), (new, store.write_records)):
                at = (2 * k + (name == new)) * WRITE_BATCH
                wall, cpu = time.perf_counter(), time.process_time()
                write(records[at : at + WRITE_BATCH])
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                folded = time.perf_counter()
                store.db.checkpoint_wal()
                times[name].append((wall, cpu, time.perf_counter() - folded))
    finally:
        store.close()
    out: dict[str, dict[str, float]] = {}
    for name, samples in times.items():
        out[name] = {
            key: statistics.median(s[i] for s in samples) / WRITE_BATCH * 1e6
            for i, key in enumerate(("wall_us_per_record", "cpu_us_per_record", "checkpoint_us_per_record"))
        }
    for key in ("wall_us_per_record", "cpu_us_per_record"):
        out[new][key.replace("_us_per_record", "_ratio")] = out[new][key] / out[base][key]
    return out


def _spec(root: Path) -> Path:
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "p.md").write_text("You answer briefly.\n")
    spec = root / "runwell.yaml"
    spec.write_text(
        textwrap.dedent("""\
        spec_version: 1
        feature: {name: support, purpose: Bench feature, owners: [{name: Ada, email: ada@example.com}]}
        providers: {up: {kind: openai, base_url: "http://127.0.0.1:9/v1", api_key_env: NONE}}
        variants: {main: {provider: up, model: gpt-4o-mini, prompt: {file: prompts/p.md, version: "1"}}}
        budgets: {daily_usd: 50, monthly_usd: 1000}
        """)
    )
    return spec


async def _time_pages(app: ConsoleApp, pages: dict[str, str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    headers = {"authorization": f"Bearer {ADMIN}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.test", timeout=60) as client:
        for name, path in pages.items():
            times = []
            for _ in range(ROUNDS + 1):
                start = time.perf_counter()
                answer = await client.get(path, headers=headers)
                times.append((time.perf_counter() - start) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {answer.status_code}: {answer.text[:300]}")
            warm = times[1:]
            out[name] = {"first_ms": times[0], "median_ms": statistics.median(warm), "max_ms": max(warm)}
    return out


async def _deep_page(app: ConsoleApp, path: str, pages: int) -> str:
    headers = {"authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench.test"
    ) as client:
        for _ in range(pages):
            html = (await client.get(path, headers=headers)).text
            found = re.search(r'href="(/console/requests\?[^"]*before=[^"]+)"', html)
            assert found, "no next page"
            path = found.group(1).replace("&amp;", "&")
    return path


def _bench(url: str | None, label: str, rows: list[tuple[Any, ...]], root: Path) -> dict[str, Any]:
    store = open_store(url, base_dir=root)
    handle = open_audit_log(root, db=store.db)
    try:
        store.db.query("SELECT 1", action="ping")
        seeded, backfilled = _seed(store, rows)
        count = store.count_records()
        specs = {"support": load_spec(_spec(root / "spec")), "notes": None, "search": None}
        settings = ConsoleSettings.from_env(
            {"RUNWELL_CONSOLE": "on", "RUNWELL_ADMIN_TOKEN": ADMIN}, derive_from=b"b" * 32
        )
        app = ConsoleApp(
            settings, ConsoleSources(store=store, log=handle.log, specs=specs, where="standalone")
        )
        user = rows[len(rows) // 2][RECORD_FIELDS.index("user_id")]
        prefix = str(rows[12345][RECORD_FIELDS.index("request_id")])[:6]
        deep = asyncio.run(_deep_page(app, "/console/requests?feature=support", 20))
        pages = {
            "overview 24h (support)": "/console?feature=support&window=24h",
            "overview 1h (support)": "/console?feature=support&window=1h",
            "overview 6h (support)": "/console?feature=support&window=6h",
            "overview 7d (support)": "/console?feature=support&window=7d",
            "requests: newest": "/console/requests",
            "requests: feature": "/console/requests?feature=support",
            "requests: feature+status=error": "/console/requests?feature=support&status=error",
            "requests: feature+outcome=blocked": "/console/requests?feature=support&outcome=blocked",
            "requests: user": f"/console/requests?user={user}",
            "requests: id prefix": f"/console/requests?id={prefix}",
            "requests: page 21 of feature": deep,
        }
        timed = asyncio.run(_time_pages(app, pages))
        written = _write_cost(url, root, time.time())
        return {
            "backend": label,
            "records": count,
            "seed_s": seeded,
            "backfill_s": backfilled,
            "pages": timed,
            "write_256_batches": written,
        }
    finally:
        handle.close()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    now = time.time()
    print(f"generating {args.records:,} records...", file=sys.stderr)
    rows = _rows(args.records, now)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "postgresql":
            results.append(_bench(None, "sqlite", rows, Path(tmp) / "sqlite"))
        if args.only != "sqlite":
            import psycopg

            name = f"runwell_bench_console_{int(now)}"
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {name}")
            try:
                pg_url = args.postgres.rsplit("/", 1)[0] + "/" + name
                results.append(_bench(pg_url, "postgresql", rows, Path(tmp) / "pg"))
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    print(
        f"{'backend':<11} {'page':<36} {'first ms':>9} {'median ms':>10} {'max ms':>8}  < {TARGET_MS:.0f} ms"
    )
    for result in results:
        for page, t in result["pages"].items():
            ok = "yes" if t["max_ms"] < TARGET_MS else "NO"
            print(
                f"{result['backend']:<11} {page:<36} {t['first_ms']:9.1f} {t['median_ms']:10.1f} "
                f"{t['max_ms']:8.1f}  {ok}"
            )
        print(
            f"{result['backend']:<11} seeded {result['records']:,} records in {result['seed_s']:.1f} s, "
            f"backfilled their rollups in {result['backfill_s']:.1f} s"
        )
    print(
        f"\n{'backend':<11} {'writing 256-record batches':<26} {'wall us/rec':>12} {'cpu us/rec':>11} "
        f"{'checkpoint us/rec':>18}"
    )
    for result in results:
        for name, w in result["write_256_batches"].items():
            ratio = f"  x{w['wall_ratio']:.2f} wall, x{w['cpu_ratio']:.2f} cpu" if "wall_ratio" in w else ""
            print(
                f"{result['backend']:<11} {name:<26} {w['wall_us_per_record']:12.1f} "
                f"{w['cpu_us_per_record']:11.1f} {w['checkpoint_us_per_record']:18.1f}{ratio}"
            )
    RESULTS.parent.mkdir(exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
    }
    RESULTS.write_text(
        json.dumps(
            {"machine": machine, "target_ms": TARGET_MS, "rounds": ROUNDS, "results": results}, indent=2
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

"""Audit log benchmark: durable append rate, full verify, proof latency.

Run: ``.venv/bin/python bench/audit.py [--entries N]``. Prints a table and writes
``bench/results/audit.json``. Targets (2 cores): >= 20,000 durable appends/s on SQLite with
batching, full verify of 1,000,000 entries <= 10 s, inclusion proof at 1,000,000 <= 1 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from runwell.audit import (
    AuditLog,
    CheckpointPolicy,
    DecisionEntry,
    Signer,
    audit_storage,
    generate_key,
    leaf_hash,
    sha256_hex,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

T = TypeVar("T")
RESULTS = Path(__file__).parent / "results" / "audit.json"


def _entry(n: int) -> DecisionEntry:
    return DecisionEntry(
        time="2026-11-22T04:23:00.123Z",
        request_id=f"req-{n:012d}",
        feature="support-bot",
        variant="champion" if n % 10 else "canary",
        provider="openai",
        model="gpt-4o-mini",
        spec_version="git:3f2a9c1+sha256:9d1e77",
        prompt_version="answer@7",
        user=f"user-{n % 1000}",
        guardrails={"pii_redaction": "on", "injection_check": "on", "output_schema": "on"},
        flags={"new_prompt": n % 2 == 0, "max_tokens": 512},
        outcome="served",
        http_status=200,
        input_sha256=sha256_hex(f"input {n}"),
        output_sha256=sha256_hex(f"output {n}"),
    )


def _timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def bench_append_batched(workdir: Path, signer: Signer, count: int, batch: int) -> dict[str, float]:
    """One writer, append_many in batches (the recorder's path): durable entries per second."""
    log = AuditLog.open(audit_storage(workdir / "append.db"), signer)
    entries = [_entry(i) for i in range(count)]
    start = time.perf_counter()
    for i in range(0, count, batch):
        log.append_many(entries[i : i + batch])
    elapsed = time.perf_counter() - start
    log.close()
    return {"entries": count, "batch": batch, "seconds": elapsed, "entries_per_s": count / elapsed}


def bench_append_threads(workdir: Path, signer: Signer, count: int, threads: int) -> dict[str, float]:
    """Many threads calling append() one entry at a time: group commit does the batching."""
    log = AuditLog.open(audit_storage(workdir / "threads.db"), signer)
    per_thread = count // threads
    entries = [_entry(i) for i in range(per_thread * threads)]

    def worker(t: int) -> None:
        for entry in entries[t * per_thread : (t + 1) * per_thread]:
            log.append(entry)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    log.close()
    total = per_thread * threads
    return {"entries": total, "threads": threads, "seconds": elapsed, "entries_per_s": total / elapsed}


def build_log(path: Path, signer: Signer, count: int) -> float:
    """A log of ``count`` entries, checkpointed every 100 like production; returns seconds."""
    log = AuditLog.open(audit_storage(path), signer, policy=CheckpointPolicy(100, 10.0))
    start = time.perf_counter()
    chunk = 100
    for i in range(0, count, chunk):
        log.append_many([_entry(n) for n in range(i, min(i + chunk, count))])
    log.checkpoint_now()
    elapsed = time.perf_counter() - start
    log.close()
    return elapsed


def bench_proofs(path: Path, signer: Signer, samples: int) -> dict[str, float]:
    """Open (rebuild the tree), then time inclusion and consistency proofs at full size."""
    open_s, log = _timed(lambda: AuditLog.open(audit_storage(path), signer))
    size, root = log.size, log.root()
    rng = random.Random(7)
    inclusion: list[float] = []
    consistency: list[float] = []
    for _ in range(samples):
        index = rng.randrange(size)
        seconds, proof = _timed(partial(log.inclusion_proof, index, size))
        inclusion.append(seconds)
        assert verify_inclusion(leaf_hash(log.leaf(index)), index, size, proof, root)
    for _ in range(samples):
        old = rng.randrange(1, size)
        seconds, proof = _timed(partial(log.consistency_proof, old, size))
        consistency.append(seconds)
        assert verify_consistency(old, size, log.root(old), root, proof)
    log.close()

    def ms(values: list[float], q: float) -> float:
        return sorted(values)[int(q * (len(values) - 1))] * 1000

    return {
        "size": size,
        "open_rebuild_s": open_s,
        "inclusion_p50_ms": ms(inclusion, 0.5),
        "inclusion_p99_ms": ms(inclusion, 0.99),
        "inclusion_mean_ms": statistics.fmean(inclusion) * 1000,
        "consistency_p50_ms": ms(consistency, 0.5),
        "consistency_p99_ms": ms(consistency, 0.99),
        "consistency_mean_ms": statistics.fmean(consistency) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size for verify and proofs")
    parser.add_argument("--append-entries", type=int, default=200_000, help="entries for the append rate")
    parser.add_argument("--batch", type=int, default=1000, help="append_many batch size")
    parser.add_argument("--threads", type=int, default=8, help="threads for the group-commit run")
    parser.add_argument("--samples", type=int, default=2000, help="proofs to time")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    skey, vkey = generate_key("bench.runwell/audit")
    signer = Signer.from_skey(skey)
    with tempfile.TemporaryDirectory(prefix="runwell-audit-bench-") as tmp:
        workdir = Path(tmp)
        batched = bench_append_batched(workdir, signer, args.append_entries, args.batch)
        threaded = bench_append_threads(workdir, signer, min(args.append_entries, 40_000), args.threads)
        big = workdir / "big.db"
        build_s = build_log(big, signer, args.entries)
        verify_s, report = _timed(lambda: verify_log(audit_storage(big), vkey))
        proofs = bench_proofs(big, signer, args.samples)
    assert report.ok and report.size == args.entries, report.summary()

    results = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "append_batched": batched,
        "append_group_commit": threaded,
        "build": {
            "entries": args.entries,
            "seconds": build_s,
            "entries_per_s": args.entries / build_s,
            "batch": 100,
        },
        "verify": {
            "entries": args.entries,
            "checkpoints": report.checkpoints_checked,
            "seconds": verify_s,
        },
        "proofs": proofs,
    }
    rows = [
        (
            f"durable appends/s, SQLite, append_many batch {args.batch}",
            f"{batched['entries_per_s']:,.0f}",
            ">= 20,000",
        ),
        (
            f"durable appends/s, {args.threads} threads x append() (group commit)",
            f"{threaded['entries_per_s']:,.0f}",
            "",
        ),
        ("durable appends/s, batch 100 + checkpoint every 100", f"{args.entries / build_s:,.0f}", ""),
        (
            f"full verify, {args.entries:,} entries + {report.checkpoints_checked:,} checkpoints",
            f"{verify_s:.2f} s",
            "<= 10 s",
        ),
        (
            f"open: rebuild tree of {proofs['size']:,} from stored hashes",
            f"{proofs['open_rebuild_s']:.2f} s",
            "",
        ),
        (
            f"inclusion proof at {proofs['size']:,}, p50 / p99",
            f"{proofs['inclusion_p50_ms']:.3f} / {proofs['inclusion_p99_ms']:.3f} ms",
            "<= 1 ms",
        ),
        (
            f"consistency proof to {proofs['size']:,}, p50 / p99",
            f"{proofs['consistency_p50_ms']:.3f} / {proofs['consistency_p99_ms']:.3f} ms",
            "",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>20}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>20}  {target}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

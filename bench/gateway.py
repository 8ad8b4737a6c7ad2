"""Gateway overhead benchmark: direct-to-mock, the floor, runwell bare and full, and LiteLLM, in one run.

Every target talks to the same OpenAI-compatible mock upstream on loopback. The floor is a bare
ASGI proxy on runwell's own server stack (``bench/_floor.py``: read the body, parse it, forward it
with the same HTTP client, answer; no auth, records or audit): the physical limit of a Python
gateway on this machine, against which runwell's cost is read. "runwell" is the gateway with a
feature that declares no protection (records and the audit log only); "runwell full pipeline" adds
every guardrail that can pass a plain answer (PII redaction, injection check, input cap, banned
patterns, output PII), budgets on Redis (per request, per key, per user, per feature), retries, the
breaker and a fallback chain. Measured, in one run:
added latency p50/p99 at concurrency 1 and 32, throughput at concurrency 32, the gateway's own
CPU time per request (from /proc), and added time to first token for streams.

    python bench/gateway.py [--requests N] [--no-litellm] [--rounds N]

The machine is a VM shared with other work: one target measured a minute after another sees
different neighbours, and a ratio of two such figures swings by 10-20 %. So the figures the
targets are read from (CPU per request against the floor's, added p99 at concurrency 1) are also
measured in ``--rounds`` short paired rounds, floor and runwell back to back in alternating order,
and reported per round and as the median, with the CPU time the hypervisor stole meanwhile.

LiteLLM runs from its own virtualenv (bench/.venv-litellm, created on first use) so its pinned
dependencies never mix with runwell's. Results: a table on stdout and bench/results/gateway.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _cpu import TICK, cpu_by_thread
from _loadgen import LoadResult, build_request, run_load

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LITELLM_VENV = ROOT / "bench" / ".venv-litellm"
BODY = json.dumps(
    {
        "model": "MODEL",
        "messages": [{"role": "user", "content": "Summarise: the printer on floor 3 is jammed again."}],
        "max_tokens": 32,
        "user": "bench-user",
    }
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def ensure_litellm() -> Path | None:
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    print("installing litellm[proxy] into bench/.venv-litellm (first run only)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    return exe if exe.exists() else None


def body_for(model: str, stream: bool = False) -> bytes:
    data = json.loads(BODY.replace(b"MODEL", model.encode()))
    if stream:
        data["stream"] = True
    return json.dumps(data).encode()


async def measure(
    port: int, path: str, model: str, headers: dict[str, str], n: int, pid: int | None, stream: bool = True
) -> dict[str, LoadResult | float]:
    out: dict[str, LoadResult | float] = {}
    req = build_request("127.0.0.1", port, path, body_for(model), headers)
    await run_load("127.0.0.1", port, req, concurrency=4, requests=200)  # warm-up
    out["c1"] = await run_load("127.0.0.1", port, req, concurrency=1, requests=n)
    cpu0 = cpu_seconds(pid) if pid else 0.0
    threads0 = cpu_by_thread(pid) if pid else {}
    out["c32"] = await run_load("127.0.0.1", port, req, concurrency=32, requests=n * 4)
    if pid:
        done = max(1, len(out["c32"].latencies_ms) + out["c32"].errors)  # type: ignore[union-attr]
        out["cpu_ms"] = (cpu_seconds(pid) - cpu0) * 1000 / done
        threads1 = cpu_by_thread(pid)
        out["cpu_ms_by_thread"] = {  # type: ignore[assignment]
            name: (spent - threads0.get(name, 0.0)) * 1000 / done for name, spent in threads1.items()
        }
    if stream:  # the floor proxy does not stream: it answers once the upstream has finished
        sreq = build_request("127.0.0.1", port, path, body_for(model, stream=True), headers)
        out["stream"] = await run_load("127.0.0.1", port, sreq, concurrency=1, requests=max(50, n // 4))
    return out


def cpu_stat() -> list[int]:
    """The machine's ``cpu`` line of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of the machine's CPU time the hypervisor stole between two :func:`cpu_stat` readings."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / max(1, sum(spent))


async def paired(
    direct: tuple[int, bytes],
    floor: tuple[int, bytes, int],
    runwell: tuple[int, bytes, int],
    rounds: int,
    n: int,
) -> dict[str, object]:
    """Floor and runwell back to back, ``rounds`` times in alternating order; see the module doc."""
    per_round = []
    stat0 = cpu_stat()
    for i in range(rounds):
        got: dict[str, dict[str, float]] = {}
        d1 = await run_load("127.0.0.1", direct[0], direct[1], concurrency=1, requests=n)
        order = [("floor", floor), ("runwell", runwell)]
        for name, (port, req, pid) in order if i % 2 == 0 else order[::-1]:
            c1 = await run_load("127.0.0.1", port, req, concurrency=1, requests=n)
            cpu0 = cpu_seconds(pid)
            c32 = await run_load("127.0.0.1", port, req, concurrency=32, requests=2 * n)
            cpu = (cpu_seconds(pid) - cpu0) * 1000 / max(1, len(c32.latencies_ms) + c32.errors)
            got[name] = {"cpu_ms": cpu, "added_c1_p50_ms": c1.pct(50) - d1.pct(50),
                         "added_c1_p99_ms": c1.pct(99) - d1.pct(99), "rps_c32": c32.throughput}  # fmt: skip
        per_round.append(
            {
                "floor": got["floor"],
                "runwell": got["runwell"],
                "cpu_ratio": got["runwell"]["cpu_ms"] / got["floor"]["cpu_ms"],
                "throughput_share": got["runwell"]["rps_c32"] / got["floor"]["rps_c32"],
            }
        )

    def median(key: str, who: str | None = None) -> float:
        values = [r[key] if who is None else r[who][key] for r in per_round]  # type: ignore[index]
        return float(statistics.median(values))

    return {
        "rounds": per_round,
        "median_cpu_ratio": median("cpu_ratio"),
        "median_throughput_share": median("throughput_share"),
        "median_runwell_cpu_ms": median("cpu_ms", "runwell"),
        "median_floor_cpu_ms": median("cpu_ms", "floor"),
        "median_runwell_added_c1_p50_ms": median("added_c1_p50_ms", "runwell"),
        "median_runwell_added_c1_p99_ms": median("added_c1_p99_ms", "runwell"),
        "median_floor_added_c1_p99_ms": median("added_c1_p99_ms", "floor"),
        "cpu_steal_share": steal_share(stat0, cpu_stat()),
    }


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def start(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def write_feature(work: Path, mock_port: int, *, full: bool = False) -> None:
    (work / "prompts").mkdir(parents=True)
    (work / "prompts" / "bench.md").write_text("You summarise support tickets in one sentence.\n")
    protection = (
        """
  backup: {provider: mock, model: gpt-4o-mini, prompt: {file: prompts/bench.md, version: "1"}}
guardrails:
  pii_redaction: true
  injection_check: {mode: block}
  max_input_chars: 8000
  banned_patterns: {internal_host: '(?i)corp\\.internal'}
  output_pii: flag
budgets:
  daily_usd: 1000
  requests_per_minute: 1000000
  per_request: {max_output_tokens: 512}
  per_key: {daily_usd: 1000}
  per_user: {requests_per_minute: 1000000}
fallbacks:
  chain: [backup]
  degradation: {mode: static, message: "Unavailable right now."}
resilience:
  retries: {attempts: 2}
"""
        if full
        else ""
    )
    (work / "runwell.yaml").write_text(f"""spec_version: 1
feature:
  name: bench
  purpose: Gateway overhead benchmark
  owners: [{{name: Bench, email: bench@example.com}}]
providers:
  mock: {{kind: openai, base_url: "http://127.0.0.1:{mock_port}/v1", api_key_env: BENCH_MOCK_KEY}}
default_variant: main
variants:
  main:
    provider: mock
    model: gpt-4o-mini
    prompt: {{file: prompts/bench.md, version: "1"}}{protection}""")


def start_runwell(
    work: Path, mock_port: int, *, full: bool, redis: str
) -> tuple[subprocess.Popen[bytes], int, str]:
    """A gateway serving the bench feature (bare or full pipeline); returns (process, port, key)."""
    write_feature(work, mock_port, full=full)
    runwell = str(Path(PY).parent / "runwell")
    out = subprocess.run(
        [runwell, "keys", "create", "bench", "--dir", str(work)], capture_output=True, text=True, check=True
    ).stdout
    key = re.search(r"rw-[A-Za-z0-9_\-]+", out)
    assert key, f"no key in: {out}"
    port = free_port()
    cmd = [
        runwell,
        "serve",
        "--spec",
        str(work / "runwell.yaml"),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    gw = start(cmd + (["--redis", redis] if full else []), env={"BENCH_MOCK_KEY": "mock"}, cwd=work)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return gw, port, key.group(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests per concurrency-1 run")
    ap.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM comparison")
    ap.add_argument("--rounds", type=int, default=5, help="paired floor/runwell rounds (0: none)")
    ap.add_argument(
        "--redis", default="redis://127.0.0.1:6379/0", help="Redis for the full pipeline's budgets"
    )
    args = ap.parse_args()
    procs: list[subprocess.Popen[bytes]] = []
    work = Path(tempfile.mkdtemp(prefix="runwell-bench-"))
    try:
        mock_port, gw_port, ll_port = free_port(), free_port(), free_port()
        procs.append(start([PY, "-m", "runwell.testing.mock_upstream", "--port", str(mock_port)]))
        wait_http(f"http://127.0.0.1:{mock_port}/v1/models")
        gw, gw_port, key = start_runwell(work / "bare", mock_port, full=False, redis=args.redis)
        procs.append(gw)
        full, full_port, full_key = start_runwell(work / "full", mock_port, full=True, redis=args.redis)
        procs.append(full)
        floor_port = free_port()
        floor = start(
            [PY, str(ROOT / "bench" / "_floor.py"), "--port", str(floor_port), "--upstream",
             f"http://127.0.0.1:{mock_port}/v1/chat/completions"]
        )  # fmt: skip
        procs.append(floor)
        wait_http(f"http://127.0.0.1:{mock_port}/v1/models")
        _wait_port(floor_port)
        targets: list[tuple[str, int, str, dict[str, str], int | None]] = [
            ("direct (mock)", mock_port, "gpt-4o-mini", {}, None),
            ("floor (bare proxy)", floor_port, "gpt-4o-mini", {}, floor.pid),
            ("runwell", gw_port, "bench", {"Authorization": f"Bearer {key}"}, gw.pid),
            ("runwell full pipeline", full_port, "bench", {"Authorization": f"Bearer {full_key}"}, full.pid),
        ]
        if not args.no_litellm and (exe := ensure_litellm()):
            cfg = work / "litellm.yaml"
            cfg.write_text(f"""model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:{mock_port}/v1
      api_key: os.environ/BENCH_MOCK_KEY
""")
            # LiteLLM refuses to start without a master key; like runwell, it then checks a key on
            # every request, which keeps the comparison fair. The key lives only in this process.
            master = "sk-" + secrets.token_hex(24)
            ll = start(
                [str(exe), "--config", str(cfg), "--port", str(ll_port), "--num_workers", "1"],
                env={"BENCH_MOCK_KEY": "mock", "LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": master},
                cwd=work,
            )
            procs.append(ll)
            wait_http(f"http://127.0.0.1:{ll_port}/health/liveliness", timeout=180)
            targets.append(
                ("litellm proxy", ll_port, "gpt-4o-mini", {"Authorization": f"Bearer {master}"}, ll.pid)
            )
        results = {}
        load_before = os.getloadavg()  # other sessions share the cores: read figures against this
        stat_before = cpu_stat()
        for name, port, model, headers, pid in targets:
            n = args.requests if name != "litellm proxy" else max(200, args.requests // 10)
            print(f"measuring {name} ...", flush=True)
            stream = name != "floor (bare proxy)"
            results[name] = asyncio.run(measure(port, "/v1/chat/completions", model, headers, n, pid, stream))
        steal = steal_share(stat_before, cpu_stat())
        pairs: dict[str, object] = {}
        if args.rounds > 0:
            print(f"measuring floor and runwell in {args.rounds} paired rounds ...", flush=True)
            path, auth = "/v1/chat/completions", {"Authorization": f"Bearer {key}"}
            pairs = asyncio.run(
                paired(
                    (mock_port, build_request("127.0.0.1", mock_port, path, body_for("gpt-4o-mini"), {})),
                    (
                        floor_port,
                        build_request("127.0.0.1", floor_port, path, body_for("gpt-4o-mini"), {}),
                        floor.pid,
                    ),
                    (
                        gw_port,
                        build_request("127.0.0.1", gw_port, path, body_for("bench"), auth),
                        gw.pid,
                    ),
                    args.rounds,
                    max(500, args.requests // 2),
                )
            )
        report(results, load_before, steal, pairs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def report(
    results: dict[str, dict[str, LoadResult | float]],
    load_before: tuple[float, ...] = (),
    steal: float = 0.0,
    pairs: dict[str, object] | None = None,
) -> None:
    base = results["direct (mock)"]
    b1, b32, bs = base["c1"], base["c32"], base["stream"]
    rows = []
    for name, r in results.items():
        c1, c32, st = r["c1"], r["c32"], r.get("stream", LoadResult())
        assert isinstance(c1, LoadResult) and isinstance(c32, LoadResult) and isinstance(st, LoadResult)
        assert isinstance(b1, LoadResult) and isinstance(b32, LoadResult) and isinstance(bs, LoadResult)
        rows.append(
            {
                "target": name,
                "c1_p50_ms": c1.pct(50),
                "c1_p99_ms": c1.pct(99),
                "added_c1_p50_ms": c1.pct(50) - b1.pct(50),
                "added_c1_p99_ms": c1.pct(99) - b1.pct(99),
                "c32_p50_ms": c32.pct(50),
                "c32_p99_ms": c32.pct(99),
                "added_c32_p50_ms": c32.pct(50) - b32.pct(50),
                "added_c32_p99_ms": c32.pct(99) - b32.pct(99),
                "rps_c32": c32.throughput,
                "cpu_ms_per_req": r.get("cpu_ms"),
                "cpu_ms_per_req_by_thread": r.get("cpu_ms_by_thread"),
                "stream_ttft_p50_ms": st.pct(50, "ttft_ms"),
                "added_ttft_p50_ms": st.pct(50, "ttft_ms") - bs.pct(50, "ttft_ms"),
                "errors": c1.errors + c32.errors + st.errors,
            }
        )
    by = {r["target"]: r for r in rows}
    ratios = {}
    if "litellm proxy" in by and "runwell" in by:
        ratios["throughput_runwell_over_litellm"] = by["runwell"]["rps_c32"] / by["litellm proxy"]["rps_c32"]
    if "runwell" in by:
        ratios["throughput_runwell_over_direct"] = by["runwell"]["rps_c32"] / by["direct (mock)"]["rps_c32"]
        floor_row = by["floor (bare proxy)"]
        ratios["throughput_runwell_over_floor"] = by["runwell"]["rps_c32"] / floor_row["rps_c32"]
        ratios["cpu_runwell_over_floor"] = by["runwell"]["cpu_ms_per_req"] / floor_row["cpu_ms_per_req"]
    if "runwell full pipeline" in by and "runwell" in by:
        full_row, bare = by["runwell full pipeline"], by["runwell"]
        ratios["full_minus_bare_c1_p50_ms"] = full_row["c1_p50_ms"] - bare["c1_p50_ms"]
        ratios["full_minus_bare_cpu_ms"] = full_row["cpu_ms_per_req"] - bare["cpu_ms_per_req"]
    cols = [
        "target",
        "added_c1_p50_ms",
        "added_c1_p99_ms",
        "added_c32_p50_ms",
        "added_c32_p99_ms",
        "rps_c32",
        "cpu_ms_per_req",
        "added_ttft_p50_ms",
        "errors",
    ]
    print()
    print(" | ".join(f"{c:>18}" for c in cols))
    for r in rows:
        print(" | ".join(f"{r[c]:>18.3f}" if isinstance(r[c], float) else f"{r[c]!s:>18}" for c in cols))
    for k, v in ratios.items():
        print(f"{k}: {v:.3f} ms" if k.endswith("_ms") else f"{k}: {v:.1f}x")
    for r in rows:
        split = r["cpu_ms_per_req_by_thread"]
        if isinstance(split, dict) and len(split) > 1:
            parts = ", ".join(f"{name} {ms:.3f}" for name, ms in sorted(split.items(), key=lambda kv: -kv[1]))
            print(f"CPU per request at c=32 by thread, {r['target']} (ms): {parts}")
    if pairs:
        print(f"paired rounds (floor and runwell back to back, {len(pairs['rounds'])} rounds):")  # type: ignore[arg-type]
        for i, r in enumerate(pairs["rounds"], 1):  # type: ignore[arg-type]
            print(
                f"  round {i}: CPU/request runwell {r['runwell']['cpu_ms']:.3f} ms, "
                f"floor {r['floor']['cpu_ms']:.3f} ms "
                f"= {r['cpu_ratio']:.2f}x; throughput {r['throughput_share']:.0%} of the floor's; added c=1 "
                f"p50 {r['runwell']['added_c1_p50_ms']:.3f} ms, p99 {r['runwell']['added_c1_p99_ms']:.3f} ms "
                f"(floor's p99 {r['floor']['added_c1_p99_ms']:.3f} ms)"
            )
        print(
            f"  median: CPU {pairs['median_cpu_ratio']:.2f}x the floor's, throughput "
            f"{pairs['median_throughput_share']:.0%} of the floor's, added c=1 p50 "
            f"{pairs['median_runwell_added_c1_p50_ms']:.3f} ms / "
            f"p99 {pairs['median_runwell_added_c1_p99_ms']:.3f} ms; "
            f"CPU stolen by the hypervisor meanwhile {pairs['cpu_steal_share']:.1%}"
        )
    load_after = os.getloadavg()
    print(f"CPU stolen by the hypervisor during the main runs: {steal:.1%}")
    print("load average (1/5/15 min) before: " + " ".join(f"{x:.2f}" for x in load_before))
    print("load average (1/5/15 min) after:  " + " ".join(f"{x:.2f}" for x in load_after))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gateway.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "ratios": ratios,
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "loadavg_before": list(load_before),
                "loadavg_after": list(load_after),
                "cpu_steal_share": steal,
                "paired": pairs or None,
            },
            indent=2,
        )
    )
    print(f"wrote {out / 'gateway.json'}")


if __name__ == "__main__":
    main()

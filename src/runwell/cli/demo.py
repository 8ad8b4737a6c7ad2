"""``runwell demo``: a real feature, served by the gateway on the real local model, end to end.

Scaffolds ``./runwell-demo`` (kept afterwards so you can explore it), creates an API key, starts
``runwell serve`` as a child process on SQLite, sends a few requests over real HTTP (a whole
answer, a stream, a named variant, and a malformed request), shows the protection acting (a
guardrail, a budget, a fallback and a degradation, levers pulled with the real commands), prints
each request next to the record the gateway stored for it, and stops the gateway with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from runwell.cli._demo_protection import show_protection
from runwell.cli._output import make_console

__all__ = ["register"]

FEATURE = "ticket-summary"
QUESTIONS = (
    ("whole", FEATURE, "Summarise this ticket: my printer on floor 3 jams every morning."),
    ("stream", FEATURE, "What is the capital of France?"),
    ("whole", f"{FEATURE}@challenger", "Summarise this ticket: I cannot reset my password."),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(
    url: str, key: str, body: dict[str, Any], *, stream: bool = False
) -> tuple[int, str, str, dict[str, str]]:
    """POST a chat request; return (status, request id, answer text or error message, headers)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            rid = response.headers.get("x-request-id", "")
            headers = {k.lower(): v for k, v in response.headers.items()}
            if not stream:
                data = json.loads(response.read())
                return response.status, rid, data["choices"][0]["message"]["content"] or "", headers
            parts: list[str] = []
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("data: ") and line != "data: [DONE]":
                    event = json.loads(line[6:])
                    for choice in event.get("choices", []):
                        parts.append(choice.get("delta", {}).get("content") or "")
            return response.status, rid, "".join(parts), headers
    except urllib.error.HTTPError as err:
        payload = json.loads(err.read() or b"{}")
        error = payload.get("error", {})
        headers = {k.lower(): v for k, v in err.headers.items()}
        return err.code, error.get("request_id", ""), error.get("message", ""), headers


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited with code {proc.returncode}; see the log above")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
                return dict(json.loads(response.read()))
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"the gateway was not ready within {timeout:g}s")


def _describe(record: Any) -> str:
    """Two short lines per record, readable in an 80-column terminal."""
    cost = "unpriced" if record.cost_usd is None else f"${record.cost_usd:.6f}"
    ttft = "" if record.ttft_ms is None else f", first token {record.ttft_ms:.0f} ms"
    tokens = f"{record.input_tokens}->{record.output_tokens} tokens" if record.input_tokens else "no tokens"
    where = f"{record.feature}@{record.variant}" if record.feature else "(no feature)"
    outcome = f"  {record.outcome}" if record.outcome not in (None, "served", "error") else ""
    if record.outcome == "degraded":
        outcome = f"  {record.served_by}"  # degraded:static, degraded:queued...
    first = (
        f"   [bold]{record.request_id[:12]}[/] {where}  {record.http_status} {record.status}"
        f"{'  ' + record.error_class if record.error_class else ''}{outcome}"
    )
    second = (
        f"      {record.latency_ms:.0f} ms{ttft}, {tokens}, {cost}; "
        f"spec {record.spec_version or '-'}, prompt {record.prompt_version or '-'}"
    )
    lines = [first, second]
    acted = {
        name: d["status"] for name, d in (record.guardrails or {}).items() if d.get("status") != "passed"
    }
    if acted:
        lines.append("      guardrails: " + ", ".join(f"{name} {status}" for name, status in acted.items()))
    if record.guardrails and "pii_redaction" in acted and record.prompt:
        lines.append(f"      stored prompt: {record.prompt[-1].get('content')!s:.100}")
    return "\n".join(lines)


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to create the demo feature.")] = Path(
        "runwell-demo"
    ),
) -> None:
    """Serve an example feature on the real local model and show what runwell records."""
    from runwell.spec.scaffold import scaffold
    from runwell.store import open_store

    console = make_console()
    directory = directory.resolve()
    if not (directory / "runwell.yaml").exists():
        scaffold(FEATURE, directory, provider="local")
        console.print(f"[bold]1.[/] Scaffolded feature [cyan]{FEATURE}[/] in {directory}")
    else:
        console.print(f"[bold]1.[/] Reusing feature [cyan]{FEATURE}[/] in {directory}")
    store = open_store(None, base_dir=directory)
    _, key = store.create_key(f"demo-{int(time.time())}")
    store.close()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runwell",
            "serve",
            "--spec",
            str(directory / "runwell.yaml"),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=directory,
    )
    request_ids: list[str] = []
    try:
        ready = _wait_ready(base, proc)
        checks = ", ".join(f"{n} {c['status']}" for n, c in ready["checks"].items())
        console.print(f"[bold]2.[/] Gateway ready on {base} ({checks})")
        console.print("[bold]3.[/] Requests through the gateway (SmolLM2-135M-Instruct, in process):")
        for mode, model, question in QUESTIONS:
            body = {
                "model": model,
                "messages": [{"role": "user", "content": question}],
                "stream": mode == "stream",
                "user": "demo-user",
            }
            status, rid, text, _ = _post(f"{base}/v1/chat/completions", key, body, stream=mode == "stream")
            request_ids.append(rid)
            console.print(f"   [cyan]{model}[/] ({mode}) [dim]{question}[/]\n   -> {status}: {text.strip()}")
        status, rid, text, _ = _post(
            f"{base}/v1/chat/completions", key, {"model": FEATURE, "messages": "not a list"}
        )
        request_ids.append(rid)
        console.print(f"   [cyan]malformed request[/] -> {status}: {text}")
        request_ids += show_protection(
            console, directory, lambda body: _post(f"{base}/v1/chat/completions", key, body), FEATURE, step=4
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    console.print("[bold]5.[/] Gateway stopped with SIGTERM; the records it flushed:")
    store = open_store(None, base_dir=directory)
    try:
        for rid in request_ids:
            record = store.get_record(rid) if rid else None
            if record is not None:
                console.print(_describe(record), highlight=False)
    finally:
        store.close()
    _eval_step(console, directory)
    _readiness_step(console, directory, step=7)
    console.print(
        f"Explore: cd {os.path.relpath(directory)} && runwell requests list (or runwell requests show ID)"
    )


def _eval_step(console: Console, directory: Path) -> None:
    """Step 5: compare champion and challenger on the feature's eval set, and show the gate."""
    from runwell.cli._eval_demo import compare_champion_challenger

    compare_champion_challenger(console, directory / "runwell.yaml", step=6)


def _readiness_step(console: Console, directory: Path, *, step: int) -> None:
    """The last step: the feature's readiness report and maturity level, kept for the console."""
    from runwell.readiness import SECTIONS, CheckOptions, run_check, save_report
    from runwell.spec.loader import load_spec
    from runwell.store import open_store

    report = run_check(load_spec(directory / "runwell.yaml"), CheckOptions())
    console.print(
        f"[bold]{step}.[/] Readiness (runwell check): is {FEATURE} in production, or in a rehearsal?"
    )
    for section, title in SECTIONS.items():
        s = report.sections[section]
        console.print(f"   {title}: {s['points']:g}/{s['possible']:g} points, {s['failed']:g} failing")
    todo = [i for i in report.items if i.status == "fail"]
    for item in todo[:4]:
        console.print(f"   [red]fail[/] {item.id}: {item.fix}", highlight=False)
    if len(todo) > 4:
        console.print(f"   ... and {len(todo) - 4} more: cd {os.path.relpath(directory)} && runwell check")
    console.print(
        f"   [bold]Maturity level {report.level}[/], score {report.score:.0%} "
        f"(weakest section: {SECTIONS.get(report.weakest or '', '-')})"
    )
    store = open_store(None, base_dir=directory)
    try:
        save_report(store.db, report)
    finally:
        store.close()


def register(root: typer.Typer) -> None:
    """Mount ``runwell demo``."""
    root.command("demo")(demo)

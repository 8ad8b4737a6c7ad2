"""A real ``runwell serve`` process in front of a real mock upstream, for SDK-level tests."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

RUNWELL = [sys.executable, "-m", "runwell"]
ADMIN_TOKEN = "test-admin-token-not-a-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not up after {timeout}s")


def runwell(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNWELL, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.fixture(scope="session")
def dead_port() -> Iterator[int]:
    """A port nothing can listen on for the whole session: bound, never listening, so a connection
    is refused at once. A port merely found free could later be handed to a gateway or a mock by
    ``free_port``, and a "dead" provider would then answer."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mock_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The mock OpenAI/Anthropic upstream as a subprocess; yields its root URL.

    Its output goes to a file, never a pipe: nobody reads a pipe during the session, and once its
    64 KiB buffer is full (aiohttp logs a traceback for each connection a test cuts) the mock would
    block on its next log line and every later test would see a dead upstream.
    """
    port = free_port()
    log_path = tmp_path_factory.mktemp("mock-upstream") / "mock.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runwell.testing.mock_upstream", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_project(root: Path, upstream: str, dead_port: int) -> None:
    """Two features: ``support`` (many variants, one per behaviour) and ``notes`` (no capture)."""
    (root / "prompts").mkdir(parents=True)
    (root / "prompts" / "support.v3.yaml").write_text(
        textwrap.dedent("""\
        system: |
          You are the support assistant of {{ company }}.
        user: |
          Ticket: {{ input }}
        """)
    )
    (root / "prompts" / "plain.md").write_text("You answer briefly.\n")
    owners = "owners: [{name: Test Owner, email: owner@example.com}]"
    (root / "runwell.yaml").write_text(
        textwrap.dedent(f"""\
        spec_version: 1
        feature:
          name: support
          purpose: Answers support tickets (test feature)
          {owners}
        providers:
          up: {{kind: openai, base_url: "{upstream}/v1", api_key_env: TEST_UPSTREAM_KEY}}
          claude: {{kind: anthropic, base_url: "{upstream}", api_key_env: TEST_ANTHROPIC_KEY}}
          dead: {{kind: openai, base_url: "http://127.0.0.1:{dead_port}/v1", api_key_env: TEST_UPSTREAM_KEY}}
          echo: {{kind: sim, mode: echo}}
          simtools: {{kind: sim, mode: tool, tool_calls: [{{name: lookup_order, arguments: {{order: "A-17"}}}}, {{name: notify, arguments: {{channel: email}}}}]}}
          smol: {{kind: local}}
        variants:
          main: {{provider: up, model: gpt-4o-mini, prompt: {{file: prompts/plain.md, version: "1"}}}}
          templated: {{provider: echo, model: echo-1, prompt: {{file: prompts/support.v3.yaml, version: "3"}},
                       params: {{temperature: 0.1, max_tokens: 50}}}}
          claude: {{provider: claude, model: claude-sonnet-4-5, prompt: {{file: prompts/plain.md, version: "1"}}}}
          slow: {{provider: up, model: mock-slow-5000, prompt: {{file: prompts/plain.md, version: "1"}}}}
          inflight: {{provider: up, model: mock-slow-1500, prompt: {{file: prompts/plain.md, version: "1"}}}}
          err500: {{provider: up, model: mock-error-500, prompt: {{file: prompts/plain.md, version: "1"}}}}
          cut: {{provider: up, model: mock-cut, prompt: {{file: prompts/plain.md, version: "1"}}}}
          malformed: {{provider: up, model: mock-malformed, prompt: {{file: prompts/plain.md, version: "1"}}}}
          unpriced: {{provider: up, model: mystery-model-x, prompt: {{file: prompts/plain.md, version: "1"}}}}
          down: {{provider: dead, model: gpt-4o-mini, prompt: {{file: prompts/plain.md, version: "1"}}}}
          tools: {{provider: up, model: mock-tools, prompt: {{file: prompts/plain.md, version: "1"}}}}
          claudetools: {{provider: claude, model: mock-tools, prompt: {{file: prompts/plain.md, version: "1"}}}}
          logprobs: {{provider: up, model: mock-logprobs, prompt: {{file: prompts/plain.md, version: "1"}}}}
          simtools: {{provider: simtools, model: sim-tools, prompt: {{file: prompts/plain.md, version: "1"}}}}
          smol: {{provider: smol, model: smollm2-135m-instruct, prompt: {{file: prompts/plain.md, version: "1"}}}}
        default_variant: main
        timeouts: {{request_s: 3, connect_s: 1}}
        """)
    )
    notes = root / "notes"
    (notes / "prompts").mkdir(parents=True)
    (notes / "prompts" / "p.md").write_text("Private notes.\n")
    (notes / "runwell.yaml").write_text(
        textwrap.dedent(f"""\
        spec_version: 1
        feature:
          name: notes
          purpose: Private notes (content capture off)
          {owners}
        providers:
          up: {{kind: openai, base_url: "{upstream}/v1", api_key_env: TEST_UPSTREAM_KEY}}
        variants:
          main: {{provider: up, model: gpt-4o-mini, prompt: {{file: prompts/p.md, version: "1"}}}}
        capture: {{content: false}}
        user_id: {{hash: true}}
        """)
    )


@dataclass
class Gateway:
    """A running gateway: its URL, a valid API key, the project dir and the process."""

    url: str
    key: str
    root: Path
    proc: subprocess.Popen[bytes]
    db: str | None = None

    def record(self, request_id: str) -> dict:
        """The stored record, read through the CLI (``requests show --json``)."""
        args = ["requests", "show", request_id, "--json", "--dir", str(self.root)]
        if self.db:
            args += ["--db", self.db]
        deadline = time.time() + 10
        while True:
            out = runwell(*args, cwd=self.root, check=False)
            if out.returncode == 0:
                return dict(json.loads(out.stdout))
            if time.time() > deadline:
                raise AssertionError(f"no record {request_id}: {out.stdout} {out.stderr}")
            time.sleep(0.1)


def start_gateway(
    root: Path,
    *,
    db: str | None = None,
    extra_env: dict[str, str] | None = None,
    specs: tuple[str, ...] = ("runwell.yaml", "notes/runwell.yaml"),
    extra_args: tuple[str, ...] = (),
) -> Gateway:
    key_args = ["keys", "create", f"tests-{os.urandom(4).hex()}", "--dir", str(root)] + (
        ["--db", db] if db else []
    )
    out = runwell(*key_args, cwd=root).stdout
    key = re.search(r"rw-[A-Za-z0-9_\-]+", out)
    assert key, out
    port = free_port()
    args = [*RUNWELL, "serve", "--port", str(port), "--log-level", "warning"]
    for spec in specs:
        args += ["--spec", str(root / spec)]
    if db:
        args += ["--db", db]
    args += list(extra_args)
    env = {
        **os.environ,
        "TEST_UPSTREAM_KEY": "upstream-test-key",
        "TEST_ANTHROPIC_KEY": "anthropic-test-key",
        "RUNWELL_ADMIN_TOKEN": ADMIN_TOKEN,
        **(extra_env or {}),
    }
    log = open(root / f"gateway-{port}.log", "wb")  # a file, not a pipe: a full pipe would block it
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
    return Gateway(url=f"http://127.0.0.1:{port}", key=key.group(0), root=root, proc=proc, db=db)


def stop_gateway(gw: Gateway) -> int:
    if gw.proc.poll() is None:
        gw.proc.send_signal(signal.SIGTERM)
        try:
            gw.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gw.proc.kill()
            gw.proc.wait()
    return gw.proc.returncode


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mock_upstream: str, dead_port: int) -> Path:
    root = tmp_path_factory.mktemp("project")
    write_project(root, mock_upstream, dead_port)
    return root


@pytest.fixture(scope="module")
def gateway(project: Path) -> Iterator[Gateway]:
    gw = start_gateway(project)
    try:
        yield gw
    finally:
        stop_gateway(gw)

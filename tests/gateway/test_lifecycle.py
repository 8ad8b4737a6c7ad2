"""Start-up, graceful shutdown, PostgreSQL records, OTLP export and the real local model."""

from __future__ import annotations

import http.server
import json
import signal
import socketserver
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import ClassVar

import openai
import psycopg
import pytest

from tests.gateway.conftest import RUNWELL, free_port, runwell, start_gateway, stop_gateway

MSG = [{"role": "user", "content": "hello"}]


def test_sigterm_finishes_in_flight_requests_and_flushes_their_records(project: Path) -> None:
    gw = start_gateway(project)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=30)
    results: list[object] = []

    def slow_call() -> None:
        try:
            raw = client.chat.completions.with_raw_response.create(model="support@inflight", messages=MSG)
            results.append((raw.headers["x-request-id"], raw.parse().choices[0].message.content))
        except Exception as exc:  # recorded for the assertion below
            results.append(exc)

    threads = [threading.Thread(target=slow_call) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the three requests are now waiting on the 1.5 s upstream
    gw.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=30)
    assert gw.proc.wait(timeout=30) == 0
    assert len(results) == 3 and all(isinstance(r, tuple) for r in results), results
    for rid, content in results:  # type: ignore[misc]
        assert content == "Hello from the mock upstream."
        rec = gw.record(rid)  # read after the process exited: flushed on shutdown
        assert rec["status"] == "ok" and rec["variant"] == "inflight"


def test_invalid_spec_refuses_to_start_with_file_line_errors(tmp_path: Path) -> None:
    (tmp_path / "runwell.yaml").write_text("spec_version: 1\nfeature:\n  name: x\n  purpos: typo\n")
    out = subprocess.run(
        [*RUNWELL, "serve", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "runwell.yaml:4: feature.purpos: " in out.stdout and "did you mean 'purpose'" in out.stdout


@pytest.mark.postgres
def test_postgres_store_round_trip_through_the_gateway(project: Path, pg_url: str) -> None:
    sqlite_file = project / ".runwell" / "runwell.db"
    before = sqlite_file.stat().st_mtime_ns if sqlite_file.exists() else None
    gw = start_gateway(project, db=pg_url)
    try:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="support", messages=MSG)
        streamed = list(client.chat.completions.create(model="support", messages=MSG, stream=True))
        rid = raw.headers["x-request-id"]
        rec = gw.record(rid)
        assert rec["status"] == "ok" and rec["completion"] == "Hello from the mock upstream."
        stream_rec = gw.record(streamed[0].id.removeprefix("chatcmpl-"))
        assert stream_rec["stream"] is True and stream_rec["ttft_ms"] is not None
    finally:
        stop_gateway(gw)
    with psycopg.connect(pg_url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM requests").fetchone()  # type: ignore[misc]
    assert count == 2
    # Everything went to PostgreSQL: the project's SQLite file was not written by this run.
    assert (sqlite_file.stat().st_mtime_ns if sqlite_file.exists() else None) == before


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_spans_are_exported_over_otlp_with_genai_attributes(project: Path) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    _Collector.received = []
    server = socketserver.TCPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    gw = start_gateway(
        project, extra_env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    )
    try:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
        client.chat.completions.create(
            model="support",
            messages=MSG,
            extra_headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        )
    finally:
        stop_gateway(gw)  # shutdown flushes the span processor
        server.shutdown()
    spans = []
    for path, body in _Collector.received:
        assert path == "/v1/traces"
        req = ExportTraceServiceRequest.FromString(body)
        spans += [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    span = next(s for s in spans if s.name == "chat gpt-4o-mini")
    # The span sits under the caller's span, in the caller's trace.
    assert span.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent_span_id.hex() == "00f067aa0ba902b7"
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["gen_ai.operation.name"].string_value == "chat"
    assert attrs["gen_ai.provider.name"].string_value == "openai"
    assert attrs["gen_ai.request.model"].string_value == "gpt-4o-mini"
    assert attrs["gen_ai.usage.output_tokens"].int_value == 5
    assert "gen_ai.input.messages" not in attrs  # content only when opted in


@pytest.mark.slow
def test_local_model_answers_a_real_prompt_through_the_gateway(tmp_path: Path) -> None:
    runwell("init", "helpdesk", "--provider", "local", "--dir", str(tmp_path / "f"), cwd=tmp_path)
    gw = start_gateway(tmp_path / "f", specs=("runwell.yaml",))
    try:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=120)
        raw = client.chat.completions.with_raw_response.create(
            model="helpdesk",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=24,
            temperature=0,
        )
        answer = raw.parse()
        text = answer.choices[0].message.content or ""
        assert "Paris" in text
        stream = client.chat.completions.create(
            model="helpdesk@challenger",
            messages=[{"role": "user", "content": "Say hello."}],
            max_tokens=12,
            stream=True,
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert streamed.strip()
        rec = gw.record(raw.headers["x-request-id"])
        assert rec["model"] == "smollm2-135m-instruct" and rec["output_tokens"] > 0
        assert rec["cost_usd"] == 0 and rec["priced"] is True  # self-hosted: priced at $0 by the spec
    finally:
        stop_gateway(gw)


def test_a_scaffolded_spec_is_enforced_in_full(tmp_path: Path) -> None:
    runwell("init", "helpdesk", "--provider", "sim", "--dir", str(tmp_path / "f"), cwd=tmp_path)
    gw = start_gateway(tmp_path / "f", specs=("runwell.yaml",))
    try:
        body = json.loads(urllib.request.urlopen(f"{gw.url}/readyz", timeout=10).read())
        assert body["status"] == "ready"
        # Guardrails, budgets, fallbacks and degradation are enforced per request, alerts by the
        # operations layer: nothing the scaffold turns on is announced as declared only.
        assert "declared_not_enforced" not in body
    finally:
        stop_gateway(gw)
    log = next((tmp_path / "f").glob("gateway-*.log")).read_text()
    assert "NOT enforce yet" not in log

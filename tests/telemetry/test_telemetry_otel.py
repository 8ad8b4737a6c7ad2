"""OpenTelemetry spans from request records, after the GenAI semantic conventions."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from runwell.telemetry.otel import CAPTURE_CONTENT_ENV, OtelSink
from runwell.telemetry.record import RequestRecord
from runwell.telemetry.recorder import Recorder

MakeRecord = Callable[..., RequestRecord]


def _export(record: RequestRecord, **sink_options: object) -> ReadableSpan:
    exporter = InMemorySpanExporter()
    sink = OtelSink(exporter, **sink_options)  # type: ignore[arg-type]
    sink.write([record])
    sink.close()
    (span,) = exporter.get_finished_spans()
    return span


def test_a_record_becomes_a_client_chat_span(make_record: MakeRecord) -> None:
    record = make_record(started_at=1_763_800_000.25, latency_ms=812.5)
    span = _export(record)

    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.start_time == 1_763_800_000_250_000_000
    assert span.end_time == span.start_time + 812_500_000
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.usage.input_tokens"] == 120
    assert attrs["gen_ai.usage.output_tokens"] == 48
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs["runwell.feature"] == "support-reply"
    assert attrs["runwell.variant"] == "champion"
    assert attrs["runwell.request_id"] == record.request_id
    assert attrs["runwell.cost_usd"] == pytest.approx(0.0000468)
    assert "error.type" not in attrs
    assert span.status.status_code is StatusCode.UNSET
    assert span.resource.attributes["service.name"] == "runwell"


def test_the_span_joins_the_records_trace(make_record: MakeRecord) -> None:
    record = make_record(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    span = _export(record)
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert span.parent.trace_id == span.context.trace_id and span.parent.is_remote


def test_an_unusable_trace_id_gives_a_root_span_in_a_new_trace(make_record: MakeRecord) -> None:
    span = _export(make_record(trace_id="not-hex"))
    assert span.parent is None


def test_an_error_sets_error_type_and_status(make_record: MakeRecord) -> None:
    span = _export(
        make_record(
            status="error",
            http_status=504,
            error_class="timeout",
            error_message="no answer in 30s",
            cost_usd=None,
            priced=False,
            input_tokens=None,
            output_tokens=None,
        )
    )
    attrs = dict(span.attributes or {})
    assert attrs["error.type"] == "timeout"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "no answer in 30s"
    assert "runwell.cost_usd" not in attrs and "gen_ai.usage.input_tokens" not in attrs


@pytest.mark.parametrize(
    ("feature_allows", "env_allows", "captured"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_content_needs_both_the_feature_and_the_env_switch(
    make_record: MakeRecord, feature_allows: bool, env_allows: bool, captured: bool
) -> None:
    span = _export(
        make_record(),
        capture_content=lambda feature: feature_allows and feature == "support-reply",
        content_enabled=env_allows,
    )
    attrs = dict(span.attributes or {})
    assert ("gen_ai.input.messages" in attrs) is captured
    assert ("gen_ai.output.messages" in attrs) is captured
    if captured:
        assert json.loads(str(attrs["gen_ai.input.messages"])) == [
            {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "content": "Où est ma commande ? 📦"}]},
        ]
        assert json.loads(str(attrs["gen_ai.output.messages"])) == [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Elle arrive demain."}],
                "finish_reason": "stop",
            },
        ]


def test_from_env_is_off_without_an_endpoint() -> None:
    assert OtelSink.from_env(environ={}) is None
    assert (
        OtelSink.from_env(
            environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
        )
        is None
    )


class _Collector:
    """A tiny OTLP/HTTP endpoint that keeps every POST it receives."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, bytes]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean; the test asserts on what was received

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[_Collector]:
    running = _Collector()
    try:
        yield running
    finally:
        running.stop()


def test_spans_reach_a_real_otlp_http_endpoint(collector: _Collector, make_record: MakeRecord) -> None:
    sink = OtelSink.from_env(
        service_name="runwell-test",
        capture_content=lambda feature: True,
        environ={"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, CAPTURE_CONTENT_ENV: "true"},
    )
    assert sink is not None
    record = make_record(trace_id="0af7651916cd43dd8448eb211c80319c")
    recorder = Recorder([sink])
    recorder.submit(record)
    recorder.close()  # closes the sink, which exports what is left
    assert recorder.dropped == 0

    assert collector.posts, "the exporter sent nothing"
    path, content_type, body = collector.posts[0]
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    (resource_spans,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "runwell-test"
    (span,) = resource_spans.scope_spans[0].spans
    assert span.name == "chat gpt-4o-mini"
    assert span.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["runwell.request_id"].string_value == record.request_id
    assert attrs["gen_ai.usage.output_tokens"].int_value == 48
    assert "gen_ai.input.messages" in attrs

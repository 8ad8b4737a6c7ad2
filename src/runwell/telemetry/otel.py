"""OpenTelemetry export: one CLIENT span per request record, after the GenAI semantic conventions.

Spans are built from finished records in the recorder's writer thread, with the record's own
start and end times, so tracing costs the request path nothing. The sink owns its
``TracerProvider`` and never installs it globally: the application's own tracing, and other
gateways in the same process, are left alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from runwell.errors import MissingExtra

try:
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
    from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
except ImportError as exc:
    # Only gateways that export traces import this module (see runwell.telemetry.export).
    raise MissingExtra("otel", "exporting OpenTelemetry spans (OTEL_EXPORTER_OTLP_ENDPOINT is set)") from exc

from runwell.telemetry.export import otel_requested
from runwell.telemetry.record import RequestRecord

__all__ = ["CAPTURE_CONTENT_ENV", "OtelSink"]

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The standard switch for message content on GenAI spans; content is exported only when it is
``true`` *and* the feature's spec allows capture."""


def _never(feature: str) -> bool:
    return False


class OtelSink:
    """A recorder sink exporting each record as a span through ``exporter`` (batched).

    ``capture_content(feature)`` says whether a feature's spec allows its prompts and
    completions to leave runwell; ``content_enabled`` is the operator's global switch (see
    :data:`CAPTURE_CONTENT_ENV`). Both must agree for message content to be exported.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        service_name: str = "runwell",
        capture_content: Callable[[str], bool] = _never,
        content_enabled: bool = False,
    ) -> None:
        self._capture_content = capture_content
        self._content_enabled = content_enabled
        # shutdown_on_exit=False: close() shuts the provider down; an atexit hook per instance
        # would keep every provider a test process ever made alive until exit.
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), shutdown_on_exit=False
        )
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("runwell.telemetry.otel")
        self._ids = RandomIdGenerator()

    @classmethod
    def from_env(
        cls,
        service_name: str = "runwell",
        capture_content: Callable[[str], bool] = _never,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> OtelSink | None:
        """A sink exporting over OTLP/HTTP, or ``None`` unless an OTLP endpoint is configured.

        Reads the environment once, at start-up: ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
        ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` turns export on (the exporter also honours the
        standard headers, timeout, compression and certificate variables),
        ``OTEL_SDK_DISABLED=true`` turns it off, ``OTEL_SERVICE_NAME`` overrides
        ``service_name``, and :data:`CAPTURE_CONTENT_ENV` allows message content.
        """
        env = os.environ if environ is None else environ
        if not otel_requested(env):
            return None
        # Imported here: only deployments that export traces pay for the HTTP exporter.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        if not endpoint:
            base = env["OTEL_EXPORTER_OTLP_ENDPOINT"].strip().rstrip("/")
            endpoint = f"{base}/v1/traces"
        return cls(
            OTLPSpanExporter(endpoint=endpoint),
            service_name=env.get("OTEL_SERVICE_NAME", "").strip() or service_name,
            capture_content=capture_content,
            content_enabled=env.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true",
        )

    def write(self, batch: list[RequestRecord]) -> None:
        """Start and end one span per record (exported in the background by the batch processor)."""
        for record in batch:
            self._emit(record)

    def flush(self, timeout_millis: int = 30_000) -> bool:
        """Export every span ended so far; ``False`` if that did not finish in time."""
        return self._provider.force_flush(timeout_millis)

    def close(self) -> None:
        """Export what is left and shut the exporter down."""
        self._provider.shutdown()

    def _emit(self, record: RequestRecord) -> None:
        start_ns = _epoch_ns(record.started_at)
        end_ns = start_ns + round((record.latency_ms or 0.0) * 1e6)
        span = self._tracer.start_span(
            f"chat {record.model}" if record.model else "chat",
            context=self._parent(record.trace_id, record.parent_span_id),
            kind=SpanKind.CLIENT,
            attributes=self._attributes(record),
            start_time=start_ns,
        )
        if record.status != "ok":
            span.set_status(Status(StatusCode.ERROR, record.error_message))
        span.end(end_time=end_ns)

    def _parent(self, trace_id: str, parent_span_id: str | None) -> Context | None:
        # The gateway took the record's trace id and the caller's span id from its traceparent
        # (or made a trace id); a remote, non-recording parent with those ids puts our span under
        # the caller's span. Without a caller span id, the parent's span id is synthetic.
        try:
            tid = int(trace_id, 16)
            sid = int(parent_span_id, 16) if parent_span_id else 0
        except ValueError:
            return None
        if len(trace_id) != 32 or tid == 0:
            return None
        parent = SpanContext(
            trace_id=tid,
            span_id=sid or self._ids.generate_span_id(),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        return trace.set_span_in_context(NonRecordingSpan(parent))

    def _attributes(self, record: RequestRecord) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": record.provider_kind or record.provider,
            "gen_ai.request.model": record.model,
            "gen_ai.response.model": record.response_model,
            "gen_ai.usage.input_tokens": record.input_tokens,
            "gen_ai.usage.output_tokens": record.output_tokens,
            "http.response.status_code": record.http_status,
            "runwell.provider": record.provider,
            "runwell.feature": record.feature,
            "runwell.variant": record.variant,
            "runwell.request_id": record.request_id,
            "runwell.stream": record.stream,
            "runwell.priced": record.priced,
            "runwell.cost_usd": record.cost_usd,
            "runwell.cached_tokens": record.cached_tokens,
            "runwell.ttft_ms": record.ttft_ms,
            "runwell.spec_version": record.spec_version,
            "runwell.prompt_version": record.prompt_version,
        }
        if record.finish_reason:
            attrs["gen_ai.response.finish_reasons"] = [record.finish_reason]
        if record.status != "ok":
            attrs["error.type"] = record.error_class or str(record.http_status)
        if self._content_enabled and record.feature and self._capture_content(record.feature):
            if record.prompt is not None:
                attrs["gen_ai.input.messages"] = _json(_input_messages(record.prompt))
            if record.completion is not None:
                attrs["gen_ai.output.messages"] = _json(
                    [_output_message(record.completion, record.finish_reason)]
                )
        # OpenTelemetry has no null attribute: leave absent values out rather than send "None".
        return {k: v for k, v in attrs.items() if v is not None}


def _epoch_ns(seconds: float) -> int:
    # seconds * 1e9 as one float is ~19 digits, beyond a double's ~16: it would blur the
    # sub-microsecond part. Whole seconds and the fraction are converted apart instead.
    whole = int(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1e9)


def _json(value: object) -> str:
    return orjson.dumps(value).decode("utf-8")


def _input_messages(prompt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-style chat messages in the semantic conventions' ``{role, parts}`` shape."""
    messages: list[dict[str, Any]] = []
    for message in prompt:
        parts: list[dict[str, Any]] = []
        content = message.get("content")
        if message.get("role") == "tool":
            parts.append(
                {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": content}
            )
        elif isinstance(content, str):
            parts.append({"type": "text", "content": content})
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    parts.append({"type": "text", "content": part.get("text", "")})
                elif isinstance(part, dict):
                    # Images and audio stay out of telemetry: only their kind is recorded.
                    parts.append({"type": str(part.get("type", "unknown"))})
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
        messages.append({"role": message.get("role", "user"), "parts": parts})
    return messages


def _output_message(completion: str, finish_reason: str | None) -> dict[str, Any]:
    return {
        "role": "assistant",
        "parts": [{"type": "text", "content": completion}],
        "finish_reason": finish_reason or "stop",
    }

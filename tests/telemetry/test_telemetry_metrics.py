"""Prometheus series computed from request records, in a registry per Metrics instance."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runwell.telemetry.metrics import Metrics
from runwell.telemetry.record import RequestRecord

MakeRecord = Callable[..., RequestRecord]


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, _ = metrics.render()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return _samples(metrics)[(name, frozenset(labels.items()))]


ROUTE = {"feature": "support-reply", "variant": "champion", "provider": "openai"}


def test_requests_are_counted_by_route_status_and_code(make_record: MakeRecord) -> None:
    metrics = Metrics()
    metrics.observe(
        [
            make_record(),
            make_record(),
            make_record(
                status="error",
                http_status=504,
                error_class="timeout",
                input_tokens=None,
                output_tokens=None,
                cached_tokens=None,
                cost_usd=None,
                priced=False,
            ),
        ]
    )
    assert _value(metrics, "runwell_requests_total", **ROUTE, status="ok", code="200") == 2
    assert _value(metrics, "runwell_requests_total", **ROUTE, status="error", code="504") == 1


def test_latency_and_ttft_histograms(make_record: MakeRecord) -> None:
    metrics = Metrics()
    metrics.observe(
        [
            make_record(latency_ms=200.0, ttft_ms=90.0, stream=True),
            make_record(latency_ms=3000.0, ttft_ms=None, stream=False),
        ]
    )
    latency = {**ROUTE, "status": "ok"}
    assert _value(metrics, "runwell_request_latency_seconds_count", **latency) == 2
    assert _value(metrics, "runwell_request_latency_seconds_sum", **latency) == pytest.approx(3.2)
    assert _value(metrics, "runwell_request_latency_seconds_bucket", **latency, le="0.25") == 1
    assert _value(metrics, "runwell_request_latency_seconds_bucket", **latency, le="120.0") == 2
    assert _value(metrics, "runwell_request_latency_seconds_bucket", **latency, le="0.001") == 0
    # Only the stream has a time to first token.
    assert _value(metrics, "runwell_time_to_first_token_seconds_count", **ROUTE) == 1
    assert _value(metrics, "runwell_time_to_first_token_seconds_sum", **ROUTE) == pytest.approx(0.09)


def test_tokens_cost_and_unpriced(make_record: MakeRecord) -> None:
    metrics = Metrics()
    metrics.observe(
        [
            make_record(input_tokens=100, output_tokens=20, cached_tokens=60, cost_usd=0.25, priced=True),
            make_record(input_tokens=50, output_tokens=5, cached_tokens=None, cost_usd=0.5, priced=True),
            make_record(
                model="house-llm",
                input_tokens=10,
                output_tokens=1,
                cached_tokens=0,
                cost_usd=None,
                priced=False,
            ),
            # A failure before any tokens were used has no cost and is not "unpriced".
            make_record(
                status="error",
                http_status=502,
                input_tokens=None,
                output_tokens=None,
                cached_tokens=None,
                cost_usd=None,
                priced=False,
            ),
        ]
    )
    assert _value(metrics, "runwell_tokens_total", **ROUTE, kind="input") == 160
    assert _value(metrics, "runwell_tokens_total", **ROUTE, kind="output") == 26
    assert _value(metrics, "runwell_tokens_total", **ROUTE, kind="cached") == 60
    assert _value(metrics, "runwell_cost_usd_total", **ROUTE) == pytest.approx(0.75)
    unpriced = {k: v for k, v in _samples(metrics).items() if k[0] == "runwell_unpriced_requests_total"}
    assert unpriced == {
        ("runwell_unpriced_requests_total", frozenset({**ROUTE, "model": "house-llm"}.items())): 1.0
    }


def test_a_request_rejected_before_routing_has_empty_route_labels(make_record: MakeRecord) -> None:
    metrics = Metrics()
    metrics.observe(
        [
            make_record(
                feature=None,
                variant=None,
                provider=None,
                status="error",
                http_status=404,
                input_tokens=None,
                output_tokens=None,
            )
        ]
    )
    assert (
        _value(
            metrics, "runwell_requests_total", feature="", variant="", provider="", status="error", code="404"
        )
        == 1
    )


def test_recorder_series_and_content_type() -> None:
    metrics = Metrics()
    metrics.record_dropped(3, sink="StoreSink", reason="backlog_full")
    metrics.watch_queue_depth(lambda: 7)
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=")
    assert _value(metrics, "runwell_records_dropped_total", sink="StoreSink", reason="backlog_full") == 3
    assert _value(metrics, "runwell_recorder_queue_depth") == 7
    assert b"# TYPE runwell_request_latency_seconds histogram" in body


def test_two_instances_do_not_share_or_collide(make_record: MakeRecord) -> None:
    # Creating the same metric names twice in one global registry would raise.
    first, second = Metrics(), Metrics()
    first.observe([make_record()])
    assert _value(first, "runwell_requests_total", **ROUTE, status="ok", code="200") == 1
    assert (
        "runwell_requests_total",
        frozenset({**ROUTE, "status": "ok", "code": "200"}.items()),
    ) not in _samples(second)

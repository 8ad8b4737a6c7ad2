"""Prometheus metrics for the gateway, updated from request records off the request path.

Every :class:`Metrics` owns its own ``CollectorRegistry``: nothing is registered globally, so
several gateways (or tests) in one process never collide over metric names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from runwell.telemetry.record import RequestRecord

__all__ = ["LATENCY_BUCKETS_S", "TTFT_BUCKETS_S", "Metrics"]

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    30.0,
    60.0,
    120.0,
)
"""Whole-request latency: from a cached 1 ms answer to a 2-minute reasoning call."""

TTFT_BUCKETS_S: tuple[float, ...] = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    20.0,
    60.0,
)
"""Time to first token of streams: dense where users notice (100 ms to 2 s)."""

_ROUTE = ("feature", "variant", "provider")


def _route(record: RequestRecord) -> tuple[str, str, str]:
    # Prometheus has no null: an absent label value is the empty string (a request rejected
    # before routing has no feature or provider).
    return (record.feature or "", record.variant or "", record.provider or "")


class Metrics:
    """runwell's Prometheus series (all prefixed ``runwell_``), in a registry of their own.

    =========================================== ===================================================
    ``runwell_requests_total``                  feature, variant, provider, status (ok|error), code
                                                (the HTTP status the client got)
    ``runwell_request_latency_seconds``         histogram by feature, variant, provider, status
    ``runwell_time_to_first_token_seconds``     histogram by feature, variant, provider (streams)
    ``runwell_tokens_total``                    feature, variant, provider, kind (input|output|
                                                cached; cached is the part of input served from
                                                the prompt cache, so do not add it to input)
    ``runwell_cost_usd_total``                  feature, variant, provider: priced requests only
    ``runwell_unpriced_requests_total``         feature, variant, provider, model: requests that
                                                used tokens of a model with no price
    ``runwell_records_dropped_total``           sink, reason: records the recorder gave up on
    ``runwell_recorder_queue_depth``            records submitted but not yet written everywhere
    =========================================== ===================================================
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "runwell_requests",
            "Requests answered, by route, outcome and HTTP status code.",
            [*_ROUTE, "status", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "runwell_request_latency_seconds",
            "Whole-request latency as the client saw it.",
            [*_ROUTE, "status"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.ttft = Histogram(
            "runwell_time_to_first_token_seconds",
            "Time to the first streamed token.",
            list(_ROUTE),
            buckets=TTFT_BUCKETS_S,
            registry=r,
        )
        self.tokens = Counter(
            "runwell_tokens",
            "Tokens by kind; cached tokens are a subset of input tokens.",
            [*_ROUTE, "kind"],
            registry=r,
        )
        self.cost = Counter(
            "runwell_cost_usd",
            "Spend in USD of priced requests.",
            list(_ROUTE),
            registry=r,
        )
        self.unpriced = Counter(
            "runwell_unpriced_requests",
            "Requests that used tokens of a model with no price (their cost is unknown, not 0).",
            [*_ROUTE, "model"],
            registry=r,
        )
        self.dropped = Counter(
            "runwell_records_dropped",
            "Request records the recorder dropped because a bound was hit.",
            ["sink", "reason"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "runwell_recorder_queue_depth",
            "Request records submitted but not yet written to every sink.",
            registry=r,
        )

    def observe(self, batch: Iterable[RequestRecord]) -> None:
        """Count a batch of records (called from the recorder's writer thread)."""
        for record in batch:
            route = _route(record)
            self.requests.labels(*route, record.status, str(record.http_status)).inc()
            if record.latency_ms is not None:
                self.latency.labels(*route, record.status).observe(record.latency_ms / 1000.0)
            if record.stream and record.ttft_ms is not None:
                self.ttft.labels(*route).observe(record.ttft_ms / 1000.0)
            used_tokens = False
            for kind, count in (
                ("input", record.input_tokens),
                ("output", record.output_tokens),
                ("cached", record.cached_tokens),
            ):
                if count:
                    self.tokens.labels(*route, kind).inc(count)
                    used_tokens = True
            if record.priced and record.cost_usd is not None:
                self.cost.labels(*route).inc(record.cost_usd)
            elif used_tokens:
                self.unpriced.labels(*route, record.model or "").inc()

    def record_dropped(self, count: int, *, sink: str, reason: str) -> None:
        """Count ``count`` records dropped by ``sink`` (or ``"queue"``) for ``reason``."""
        self.dropped.labels(sink, reason).inc(count)

    def watch_queue_depth(self, depth: Callable[[], float]) -> None:
        """Report ``depth()`` as the queue-depth gauge, read at scrape time (nothing on the hot path)."""
        self.queue_depth.set_function(depth)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every series: ``(body, content type)``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

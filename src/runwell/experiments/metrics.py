"""The metrics a rollout is judged on, and how one window of traffic becomes the judge's data.

Each metric is measured per arm (baseline, candidate) over the same window:

======================  ==========  =========  ==========================================================
metric                  kind        worse      measured as
======================  ==========  =========  ==========================================================
``error_rate``          rate        increase   requests the arm's variant failed: a 5xx, a stream cut
                                               after its start, or answered by a fallback or degradation
``latency``             continuous  increase   latency (ms) of the answered requests
``latency_p95``         rate        increase   share of answered requests slower than the baseline's p95
                                               (5 % for the baseline by construction: a tail test)
``cost_per_request``    continuous  increase   cost (USD) of each answered, priced request
``quality``             continuous  decrease   each scored request's mean online score (0..1)
``quality_failures``    rate        increase   scored requests that failed a scorer
``guardrail_block_rate``rate        increase   requests a guardrail blocked
``feedback``            rate        increase   negative user feedback (score below 0.5) of all feedback
======================  ==========  =========  ==========================================================

Binary scores (a ``contains`` scorer, thumbs up or down) are judged as rates: the Hodges–Lehmann
shift of 0/1 values is 0 unless half the pairs differ, so a continuous test would miss a real drop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from runwell.rollout.judge import Counts, Direction, MetricData, MetricKind, Samples

__all__ = ["METRICS", "ArmWindow", "metric_data", "quantile"]

METRICS: Mapping[str, tuple[MetricKind, Direction]] = {
    "error_rate": ("rate", "increase"),
    "latency": ("continuous", "increase"),
    "latency_p95": ("rate", "increase"),
    "cost_per_request": ("continuous", "increase"),
    "quality": ("continuous", "decrease"),
    "quality_failures": ("rate", "increase"),
    "guardrail_block_rate": ("rate", "increase"),
    "feedback": ("rate", "increase"),
}
"""Each metric's kind and the direction in which it gets worse."""

Arm = Literal["baseline", "candidate"]


@dataclass
class ArmWindow:
    """One arm's traffic in a window: counts and samples, filled row by row."""

    requests: int = 0
    errors: int = 0
    blocks: int = 0
    latencies: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    quality_failed: int = 0
    feedback: int = 0
    negative_feedback: int = 0

    def add_request(
        self,
        *,
        error: bool,
        blocked: bool,
        answered: bool,
        latency_ms: float | None,
        cost_usd: float | None,
    ) -> None:
        """Count one request; its latency and cost only when the arm's variant answered it."""
        self.requests += 1
        self.errors += error
        self.blocks += blocked
        if answered and not error and latency_ms is not None and math.isfinite(latency_ms):
            self.latencies.append(float(latency_ms))
            if cost_usd is not None and math.isfinite(cost_usd):
                self.costs.append(float(cost_usd))

    def add_scores(self, scores: Iterable[tuple[float | None, bool | None]]) -> None:
        """One scored request: ``(score, passed)`` per scorer that scored it."""
        values = [(s, p) for s, p in scores if s is not None and math.isfinite(s)]
        if not values:
            return
        self.quality.append(math.fsum(s for s, _ in values) / len(values))
        self.quality_failed += any(p is False or (p is None and s < 0.5) for s, p in values)

    def add_feedback(self, score: float) -> None:
        """One piece of user feedback, 0 (bad) .. 1 (good)."""
        self.feedback += 1
        self.negative_feedback += score < 0.5


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation between order statistics (numpy's default)."""
    if not values:
        raise ValueError("quantile of an empty sample")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _above(values: Sequence[float], threshold: float) -> int:
    return sum(1 for v in values if v > threshold)


def metric_data(names: Iterable[str], baseline: ArmWindow, candidate: ArmWindow) -> dict[str, MetricData]:
    """The judge's data for each named metric (see the module docstring)."""
    data: dict[str, MetricData] = {}
    for name in names:
        if name == "error_rate":
            data[name] = Counts(baseline.errors, baseline.requests, candidate.errors, candidate.requests)
        elif name == "latency":
            data[name] = Samples(baseline.latencies, candidate.latencies)
        elif name == "latency_p95":
            if baseline.latencies:
                p95 = quantile(baseline.latencies, 0.95)
                data[name] = Counts(
                    _above(baseline.latencies, p95),
                    len(baseline.latencies),
                    _above(candidate.latencies, p95),
                    len(candidate.latencies),
                )
        elif name == "cost_per_request":
            data[name] = Samples(baseline.costs, candidate.costs)
        elif name == "quality":
            data[name] = Samples(baseline.quality, candidate.quality)
        elif name == "quality_failures":
            data[name] = Counts(
                baseline.quality_failed,
                len(baseline.quality),
                candidate.quality_failed,
                len(candidate.quality),
            )
        elif name == "guardrail_block_rate":
            data[name] = Counts(baseline.blocks, baseline.requests, candidate.blocks, candidate.requests)
        elif name == "feedback":
            data[name] = Counts(
                baseline.negative_feedback, baseline.feedback, candidate.negative_feedback, candidate.feedback
            )
        else:
            raise ValueError(f"unknown rollout metric {name!r}; known: {', '.join(METRICS)}")
    return data

"""The always-on rule recommends a rollback on a critical breach, and only then."""

from __future__ import annotations

import json

from runwell.rollout.guard import check_serving
from runwell.rollout.judge import Counts, MetricConfig, judge

ERRORS = MetricConfig("errors", "rate", "increase", critical=True)
BLOCKS = MetricConfig("guardrail_blocks", "rate", "increase")


def test_a_critical_breach_recommends_rolling_back_to_the_previous_version() -> None:
    result = judge(
        (ERRORS, BLOCKS),
        {"errors": Counts(100, 10_000, 260, 10_000), "guardrail_blocks": Counts(10, 10_000, 9, 10_000)},
    )
    advice = check_serving(result, serving="v7", previous="v6", now=1234.0)
    assert advice is not None
    assert advice.breached == ("errors",)
    assert advice.reason.startswith("v7 is worse than v6 on critical metric(s): errors: fail")
    assert json.loads(json.dumps(advice.to_dict()))["evidence"]["verdict"] == "fail"


def test_non_critical_failures_and_passes_recommend_nothing() -> None:
    blocks_only = judge(
        (ERRORS, BLOCKS),
        {"errors": Counts(100, 10_000, 98, 10_000), "guardrail_blocks": Counts(10, 10_000, 90, 10_000)},
    )
    assert blocks_only.failed == ("guardrail_blocks",)
    assert check_serving(blocks_only, serving="v7", previous="v6", now=0.0) is None
    healthy = judge((ERRORS,), {"errors": Counts(100, 10_000, 101, 10_000)})
    assert check_serving(healthy, serving="v7", previous="v6", now=0.0) is None

"""Judging windows read from the store: what counts as an error, a block, a latency, a score, feedback."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from runwell.experiments.metrics import METRICS, ArmWindow, metric_data, quantile
from runwell.experiments.windows import read_window, rollout_selections, version_selection
from runwell.rollout.judge import Counts, Samples
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import ABStrategy, CanaryStrategy, ShadowStrategy
from runwell.store import Store
from runwell.telemetry.record import RequestRecord
from tests.experiments.conftest import NOW

ALL = tuple(METRICS)


def _write(store: Store, make_record: Callable[..., RequestRecord], rows: list[dict]) -> list[str]:
    records = [
        make_record(
            feature="support", started_at=NOW + r.pop("t", 1.0), outcome=r.pop("outcome", "served"), **r
        )
        for r in rows
    ]
    store.write_records(records)
    return [r.request_id for r in records]


def _score(store: Store, request_id: str, scorer: str, score: float, passed: bool | None) -> None:
    with store.db.transaction("score") as tx:
        tx.execute(
            "INSERT INTO scores (request_id, scorer, feature, variant, score, passed, detail, created_at) "
            "VALUES (?, ?, 'support', NULL, ?, ?, NULL, ?)",
            (request_id, scorer, score, passed, NOW),
        )


def _feedback(store: Store, request_id: str, score: float) -> None:
    with store.db.transaction("feedback") as tx:
        tx.execute(
            "INSERT INTO feedback (id, request_id, feature, variant, score, label, comment, api_key_id, created_at) "
            "VALUES (?, ?, 'support', NULL, ?, NULL, NULL, NULL, ?)",
            (f"fb-{request_id}-{score}", request_id, score, NOW),
        )


def test_a_canary_window_counts_each_arm_as_the_judge_needs(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    ok = {"status": "ok", "http_status": 200}
    ids = _write(
        store,
        make_record,
        [
            {"arm": "baseline", "latency_ms": 100.0, "cost_usd": 0.001, **ok},
            {"arm": "baseline", "latency_ms": 120.0, "cost_usd": 0.002, **ok},
            {"arm": "baseline", "status": "error", "http_status": 502, "outcome": "error", "latency_ms": 5.0},
            {"arm": "baseline", "status": "error", "http_status": 400, "outcome": "blocked",
             "guardrails": {"injection_check": {"status": "blocked"}}},
            {"arm": "candidate", "latency_ms": 300.0, "cost_usd": None, "priced": False, **ok},
            {"arm": "candidate", "outcome": "fallback", "latency_ms": 900.0, **ok},  # answered by another variant
            {"arm": "candidate", "status": "error", "http_status": 200, "outcome": "served"},  # stream cut mid-way
            {"arm": "candidate", "status": "error", "http_status": 429, "outcome": "blocked"},  # a budget, not an error
            {"arm": None, "latency_ms": 1.0, **ok},  # the client named the variant: not in the experiment
            {"arm": "candidate", "t": 500.0, **ok},  # after the window
        ],
    )  # fmt: skip
    _score(store, ids[0], "contains", 1.0, True)
    _score(store, ids[0], "judge", 0.5, None)
    _score(store, ids[4], "contains", 0.0, False)
    _feedback(store, ids[1], 0.0)
    _feedback(store, ids[4], 1.0)
    rollout = Rollout("r", "v1", "v2", CanaryStrategy((50.0, 100.0), 60.0)).start(NOW).rollout
    window = read_window(store.db, *rollout_selections("support", rollout, NOW + 60), ALL)
    base, cand = window.baseline, window.candidate
    assert (base.requests, base.errors, base.blocks) == (4, 1, 1)
    assert (cand.requests, cand.errors, cand.blocks) == (4, 2, 1)
    assert sorted(base.latencies) == [100.0, 120.0] and sorted(base.costs) == [0.001, 0.002]
    assert cand.latencies == [300.0] and cand.costs == []  # unpriced: no cost sample; a fallback is an error
    assert base.quality == [0.75] and base.quality_failed == 0  # one request: the mean of its scores
    assert cand.quality == [0.0] and cand.quality_failed == 1
    assert (base.feedback, base.negative_feedback, cand.feedback, cand.negative_feedback) == (1, 1, 1, 0)
    data = metric_data(ALL, base, cand)
    assert data["error_rate"] == Counts(1, 4, 2, 4)
    assert data["guardrail_block_rate"] == Counts(1, 4, 1, 4)
    assert data["latency"] == Samples([100.0, 120.0], [300.0]) or data["latency"] == Samples(
        [120.0, 100.0], [300.0]
    )
    assert data["latency_p95"] == Counts(1, 2, 1, 1)  # above the baseline's p95 (119 ms)
    assert data["feedback"] == Counts(1, 1, 0, 1)
    assert window.describe()["candidate"] == {"from": NOW, "to": NOW + 60, "requests": 4}


def test_the_last_step_judges_the_candidate_against_the_baseline_of_the_earlier_steps(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    _write(store, make_record, [{"arm": "baseline", "t": 10.0}, {"arm": "candidate", "t": 10.0},
                                {"arm": "candidate", "t": 70.0}])  # fmt: skip
    rollout = Rollout("r", "v1", "v2", CanaryStrategy((50.0, 100.0), 60.0)).start(NOW).rollout
    from runwell.rollout.judge import JudgeResult

    passed = JudgeResult("pass", 100.0, "ok", (), 0.99, 90, 75)
    last = rollout.evaluate(passed, NOW + 60).rollout
    assert last.candidate_percent == 100.0
    baseline, candidate = rollout_selections("support", last, NOW + 120)
    window = read_window(store.db, baseline, candidate, ["error_rate"])
    assert (window.baseline.requests, window.candidate.requests) == (1, 1)
    assert (baseline.start, baseline.end, candidate.start) == (NOW, NOW + 60, NOW + 60)


def test_ab_windows_run_from_the_start_and_shadows_pair_with_what_they_copied(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    served = _write(store, make_record, [{"arm": "baseline", "t": 5.0}, {"arm": "baseline", "t": 6.0}])
    _write(store, make_record, [{"arm": "candidate", "outcome": "shadow", "shadow_of": served[0], "t": 5.5}])
    shadow = Rollout("r", "v1", "v2", ShadowStrategy(1.0, 60.0, horizon_s=600)).start(NOW).rollout
    window = read_window(store.db, *rollout_selections("support", shadow, NOW + 100), ["error_rate"])
    assert (window.baseline.requests, window.candidate.requests) == (1, 1)  # only the copied one
    ab = Rollout("r", "v1", "v2", ABStrategy(20.0, 60.0, horizon_requests=10)).start(NOW).rollout
    window = read_window(store.db, *rollout_selections("support", ab, NOW + 100), ["error_rate"])
    assert window.baseline.requests == 2 and window.candidate.requests == 0  # shadows never count


def test_a_version_is_a_variant_at_a_prompt_version(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    _write(store, make_record, [{"variant": "v1", "prompt_version": "3"}, {"variant": "v1", "prompt_version": "4"},
                                {"variant": "v1", "prompt_version": "4", "outcome": "shadow"}])  # fmt: skip
    pinned = version_selection("support", "v1", "4", NOW, NOW + 10)
    anyone = version_selection("support", "v1", None, NOW, NOW + 10)
    assert read_window(store.db, pinned, anyone, ["error_rate"]).baseline.requests == 1
    assert read_window(store.db, pinned, anyone, ["error_rate"]).candidate.requests == 2


@pytest.mark.parametrize("q", [0.0, 0.5, 0.95, 0.99, 1.0])
def test_quantile_matches_numpy(q: float) -> None:
    values = [float(v) for v in np.random.default_rng(3).lognormal(6, 0.5, 101)]
    assert math.isclose(quantile(values, q), float(np.quantile(values, q)))


def test_unknown_metrics_and_empty_samples() -> None:
    with pytest.raises(ValueError, match="unknown rollout metric 'speed'"):
        metric_data(["speed"], ArmWindow(), ArmWindow())
    assert "latency_p95" not in metric_data(["latency_p95"], ArmWindow(), ArmWindow())  # no data: nodata
    with pytest.raises(ValueError, match="empty"):
        quantile([], 0.5)

"""The rollout state machine: every transition, its event, and storage round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runwell.errors import ConfigError
from runwell.rollout.judge import JudgeResult, MetricResult, Verdict
from runwell.rollout.policy import Rollout, Transition
from runwell.rollout.strategy import ABStrategy, CanaryStrategy, ShadowStrategy, strategy_from_dict

HOUR = 3600.0
CANARY = CanaryStrategy(steps=(5, 25, 50, 100), interval_s=HOUR)


def _result(verdict: Verdict, *, quality_shift: str = "none") -> JudgeResult:
    metric = MetricResult(
        name="quality",
        kind="continuous",
        direction="decrease",
        critical=True,
        weight=1.0,
        verdict="fail" if verdict == "fail" else "pass",
        shift=quality_shift,  # type: ignore[arg-type]
        explanation="quality: ...",
        p_value=0.5,
    )
    return JudgeResult(
        verdict=verdict,
        score=100.0 if verdict == "pass" else 0.0,
        reason=f"judge said {verdict}",
        metrics=(metric,),
        confidence=0.98,
        pass_threshold=90.0,
        marginal_threshold=75.0,
    )


PASS, FAIL, UNSURE = _result("pass"), _result("fail"), _result("inconclusive")


def _started(strategy: Any = CANARY, at: float = 1000.0) -> Rollout:
    return Rollout("r-1", "v1", "v2", strategy).start(at).rollout


def test_a_passing_canary_walks_every_step_then_promotes() -> None:
    rollout = Rollout("r-1", "v1", "v2", CANARY)
    assert (rollout.state, rollout.candidate_percent) == ("pending", 0.0)
    first = rollout.start(1000.0)
    assert first.event.action == "start"
    assert (first.event.from_state, first.event.to_state) == ("pending", "running")
    assert (first.event.from_percent, first.event.to_percent) == (0.0, 5.0)
    rollout = first.rollout
    now = 1000.0
    seen = []
    for _ in range(4):
        now += HOUR
        transition = rollout.evaluate(PASS, now)
        seen.append((transition.event.action, transition.event.to_percent))
        rollout = transition.rollout
    assert seen == [("advance", 25.0), ("advance", 50.0), ("advance", 100.0), ("promote", 100.0)]
    assert rollout.state == "promoted" and rollout.final
    assert rollout.version == 5
    assert transition.event.evidence == PASS.to_dict()


def test_an_advance_opens_a_fresh_window() -> None:
    after = _started().evaluate(PASS, 1000.0 + HOUR + 5).rollout
    assert after.step == 1
    assert after.window_start == 1000.0 + HOUR + 5
    assert after.window_end == 1000.0 + 2 * HOUR + 5


def test_before_the_window_ends_a_pass_holds_but_a_fail_rolls_back_at_once() -> None:
    rollout = _started()
    hold = rollout.evaluate(PASS, 1000.0 + HOUR / 2)
    assert hold.event.action == "hold"
    assert hold.rollout is rollout  # nothing changed, nothing to store
    assert hold.event.version == rollout.version
    assert "window open until" in hold.event.reason
    early = rollout.evaluate(FAIL, 1000.0 + HOUR / 2)
    assert early.event.action == "rollback"
    assert early.rollout.state == "rolled_back"
    assert (early.event.from_percent, early.event.to_percent) == (5.0, 0.0)
    assert "judge said fail" in early.event.reason


def test_inconclusive_extends_the_window_then_pauses_for_a_human() -> None:
    rollout = _started()
    now = 1000.0 + HOUR
    first = rollout.evaluate(UNSURE, now)
    assert first.event.action == "extend"
    assert first.rollout.extensions == 1
    assert first.rollout.window_start == 1000.0  # the data keeps accumulating
    assert first.rollout.window_end == 1000.0 + 2 * HOUR
    assert first.rollout.evaluate(UNSURE, now + 60).event.action == "hold"
    second = first.rollout.evaluate(UNSURE, now + HOUR)
    assert second.event.action == "extend" and second.rollout.extensions == 2
    third = second.rollout.evaluate(UNSURE, now + 2 * HOUR)
    assert third.event.action == "pause"
    assert third.rollout.state == "paused"
    assert third.rollout.candidate_percent == 5.0  # traffic stays where it was
    assert "still inconclusive after 2 extension(s)" in third.event.reason


def test_inconclusive_can_roll_back_instead() -> None:
    strategy = CanaryStrategy(steps=(10, 100), interval_s=HOUR, max_extensions=0, on_inconclusive="rollback")
    transition = _started(strategy).evaluate(UNSURE, 1000.0 + HOUR)
    assert transition.event.action == "rollback"
    assert transition.rollout.state == "rolled_back"


def test_a_pass_after_an_extension_advances_and_resets_the_count() -> None:
    extended = _started().evaluate(UNSURE, 1000.0 + HOUR).rollout
    advanced = extended.evaluate(PASS, 1000.0 + 2 * HOUR).rollout
    assert (advanced.step, advanced.extensions) == (1, 0)


def test_pause_and_resume_restart_the_current_steps_window() -> None:
    rollout = _started().evaluate(UNSURE, 1000.0 + HOUR).rollout
    paused = rollout.pause(5000.0, reason="holiday freeze", actor="ana")
    assert paused.event.action == "pause" and paused.event.actor == "ana"
    assert paused.rollout.state == "paused"
    with pytest.raises(ConfigError, match="cannot evaluate while paused"):
        paused.rollout.evaluate(PASS, 6000.0)
    resumed = paused.rollout.resume(9000.0).rollout
    assert resumed.state == "running"
    assert (resumed.window_start, resumed.extensions, resumed.step) == (9000.0, 0, 0)


def test_abort_and_manual_promote() -> None:
    aborted = _started().evaluate(PASS, 1000.0 + HOUR).rollout.abort(9000.0, reason="wrong prompt")
    assert aborted.event.action == "abort"
    assert (aborted.event.from_percent, aborted.event.to_percent) == (25.0, 0.0)
    assert aborted.rollout.state == "aborted"
    promoted = _started().promote(2000.0, actor="lee")
    assert promoted.rollout.state == "promoted" and promoted.rollout.candidate_percent == 100.0
    for finished in (aborted.rollout, promoted.rollout):
        with pytest.raises(ConfigError, match="cannot abort while"):
            finished.abort(9999.0)


def test_only_a_promotion_can_be_reverted_and_it_sends_all_traffic_back() -> None:
    promoted = _started().promote(2000.0, actor="lee").rollout
    reverted = promoted.revert(3000.0, reason="always-on rule: errors doubled", evidence=FAIL)
    assert (reverted.event.action, reverted.event.from_state, reverted.event.to_state) == (
        "revert",
        "promoted",
        "rolled_back",
    )
    assert (reverted.event.from_percent, reverted.event.to_percent) == (100.0, 0.0)
    assert reverted.event.actor == "controller" and reverted.event.evidence == FAIL.to_dict()
    assert reverted.rollout.version == promoted.version + 1 and reverted.rollout.final
    for other in (_started(), reverted.rollout):
        with pytest.raises(
            ConfigError, match=r"cannot revert while .*; revert applies to a promoted rollout"
        ):
            other.revert(4000.0, reason="r")


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            lambda r: r.evaluate(PASS, 1.0),
            "cannot evaluate while pending; evaluate applies to a running rollout",
        ),
        (lambda r: r.pause(1.0), "cannot pause while pending"),
        (lambda r: r.resume(1.0), "cannot resume while pending; resume applies to a paused rollout"),
    ],
)
def test_illegal_transitions_say_what_state_allows_them(action: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        action(Rollout("r-1", "v1", "v2", CANARY))


def test_start_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot start while running"):
        _started().start(2.0)


def test_a_canary_may_stop_short_of_100_percent() -> None:
    strategy = CanaryStrategy(steps=(10, 50), interval_s=60)
    rollout = _started(strategy, at=0.0)
    rollout = rollout.evaluate(PASS, 60).rollout
    final = rollout.evaluate(PASS, 120)
    assert final.event.action == "promote"
    assert final.event.from_percent == 50.0 and final.event.to_percent == 100.0


AB = ABStrategy(percent=50, interval_s=HOUR, horizon_requests=10_000)


def test_ab_guards_until_the_horizon_then_promotes_without_regression() -> None:
    rollout = _started(AB)
    assert rollout.candidate_percent == 50.0
    early = rollout.evaluate(PASS, 1000.0 + HOUR, requests=4000)
    assert early.event.action == "hold" and "horizon not reached" in early.event.reason
    assert rollout.evaluate(FAIL, 1000.0 + HOUR, requests=4000).rollout.state == "rolled_back"
    done = early.rollout.evaluate(PASS, 1000.0 + 2 * HOUR, requests=10_000)
    assert done.event.action == "promote"
    assert done.rollout.candidate_percent == 100.0


def test_ab_improvement_rule_needs_the_primary_metric_better() -> None:
    strategy = ABStrategy(
        percent=20, interval_s=HOUR, horizon_s=7 * 24 * HOUR, decision="improvement", primary_metric="quality"
    )
    end = 1000.0 + 7 * 24 * HOUR
    better = _started(strategy).evaluate(_result("pass", quality_shift="better"), end)
    assert better.rollout.state == "promoted"
    flat = _started(strategy).evaluate(PASS, end)
    assert flat.rollout.state == "rolled_back"
    assert "without a significant improvement in quality" in flat.event.reason
    unsure = _started(strategy).evaluate(UNSURE, end)
    assert unsure.event.action == "extend"


def test_ab_horizon_in_requests_needs_the_request_count() -> None:
    with pytest.raises(ConfigError, match="pass requests= to evaluate"):
        _started(AB).evaluate(PASS, 1000.0 + HOUR)


def test_ab_primary_metric_must_be_judged() -> None:
    strategy = ABStrategy(
        percent=20, interval_s=HOUR, horizon_s=HOUR, decision="improvement", primary_metric="ctr"
    )
    with pytest.raises(ConfigError, match="primary metric 'ctr' is not among the judged metrics"):
        _started(strategy).evaluate(PASS, 1000.0 + HOUR)


def test_shadow_mirrors_without_serving_and_clears_at_the_horizon() -> None:
    strategy = ShadowStrategy(sample_rate=0.1, interval_s=HOUR, horizon_s=4 * HOUR)
    rollout = _started(strategy)
    assert (rollout.candidate_percent, rollout.mirror_rate) == (0.0, 0.1)
    assert rollout.evaluate(PASS, 1000.0 + HOUR).event.action == "hold"
    cleared = rollout.evaluate(PASS, 1000.0 + 4 * HOUR).rollout
    assert cleared.state == "promoted"
    assert (cleared.candidate_percent, cleared.mirror_rate) == (0.0, 0.0)


def _walk() -> list[Transition]:
    rollout = Rollout("r-1", "v1", "v2", CANARY)
    steps = [rollout.start(0.0)]
    steps.append(steps[-1].rollout.evaluate(PASS, HOUR))
    steps.append(steps[-1].rollout.evaluate(UNSURE, 2 * HOUR))
    steps.append(steps[-1].rollout.pause(2.5 * HOUR))
    steps.append(steps[-1].rollout.resume(3 * HOUR))
    steps.append(steps[-1].rollout.evaluate(FAIL, 3.5 * HOUR))
    return steps


def test_rollouts_and_events_round_trip_through_json_at_every_state() -> None:
    for transition in _walk():
        stored = json.loads(json.dumps(transition.rollout.to_dict(), allow_nan=False))
        assert Rollout.from_dict(stored) == transition.rollout
        event = json.loads(json.dumps(transition.event.to_dict(), allow_nan=False))
        assert event["version"] == transition.rollout.version
        assert event["to_state"] == transition.rollout.state
    for strategy in (CANARY, AB, ShadowStrategy(sample_rate=0.5, interval_s=60, horizon_requests=100)):
        assert strategy_from_dict(json.loads(json.dumps(strategy.to_dict()))) == strategy


def test_versions_count_transitions() -> None:
    assert [t.rollout.version for t in _walk()] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema=2), "schema 2, this runwell reads schema 1"),
        (lambda d: d.pop("state"), "missing 'state'"),
        (lambda d: d.update(state="flying"), "state 'flying' is not one of"),
        (lambda d: d.update(step=7), "step 7 is outside the strategy's steps 0..3"),
        (
            lambda d: d["strategy"].update(kind="blue-green"),
            "kind 'blue-green' is not one of canary, ab, shadow",
        ),
        (lambda d: d["strategy"].update(colour="red"), "canary strategy: .*colour"),
        (lambda d: d.update(window_start=None), "a running rollout needs window_start and started_at"),
        (lambda d: d.update(started_at=None), "a running rollout needs window_start and started_at"),
    ],
)
def test_from_dict_rejects_corrupt_records(mutate: Any, message: str) -> None:
    stored = _started().to_dict()
    mutate(stored)
    with pytest.raises(ConfigError, match=message):
        Rollout.from_dict(stored)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CanaryStrategy(steps=(), interval_s=60), "steps is empty"),
        (lambda: CanaryStrategy(steps=(5, 150), interval_s=60), r"must each be in \(0, 100\]"),
        (lambda: CanaryStrategy(steps=(50, 25), interval_s=60), "must rise strictly"),
        (lambda: CanaryStrategy(steps=(5,), interval_s=0), "interval_s 0 must be a positive number"),
        (lambda: CanaryStrategy(steps=(5,), interval_s=60, max_extensions=-1), "max_extensions -1"),
        (
            lambda: CanaryStrategy(steps=(5,), interval_s=60, on_inconclusive="panic"),
            "on_inconclusive 'panic'",
        ),  # type: ignore[arg-type]
        (lambda: ABStrategy(percent=100, interval_s=60, horizon_s=60), r"percent 100 must be in \(0, 100\)"),
        (lambda: ABStrategy(percent=10, interval_s=60), "set horizon_requests or horizon_s"),
        (
            lambda: ABStrategy(percent=10, interval_s=60, horizon_s=60, decision="improvement"),
            "needs primary_metric",
        ),
        (lambda: ShadowStrategy(sample_rate=0, interval_s=60, horizon_s=60), "sample_rate 0"),
    ],
)
def test_strategies_reject_bad_settings(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()

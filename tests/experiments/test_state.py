"""The live rollout state: audited compare-and-set transitions, the history, the serving version."""

from __future__ import annotations

import threading

import orjson
import pytest

from runwell.audit import AuditLog, SqlAuditStorage, generate_key
from runwell.errors import ConfigError
from runwell.experiments import actions
from runwell.experiments.cache import RolloutCache
from runwell.experiments.explain import history
from runwell.experiments.state import FeatureState, Version, load_state, note_serving, serving_variant
from runwell.rollout.judge import JudgeResult, MetricResult
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import ABStrategy, CanaryStrategy, ShadowStrategy
from runwell.store import Store
from tests.experiments.conftest import NOW, Clock, changes

CANARY = CanaryStrategy(steps=(10.0, 50.0, 100.0), interval_s=60.0)


def _result(verdict: str) -> JudgeResult:
    metric = MetricResult(
        name="error_rate",
        kind="rate",
        direction="increase",
        critical=True,
        weight=1.0,
        verdict="fail" if verdict == "fail" else "pass",
        shift="worse" if verdict == "fail" else "none",
        explanation="error_rate: ...",
        test="z",
        p_value=0.001 if verdict == "fail" else 0.6,
        baseline_n=500,
        candidate_n=480,
        baseline_level=0.01,
        candidate_level=0.05 if verdict == "fail" else 0.011,
        estimate=0.04 if verdict == "fail" else 0.001,
        ci_low=0.02 if verdict == "fail" else -0.01,
        ci_high=0.06 if verdict == "fail" else 0.012,
        threshold=0.0025,
        confidence=0.99,
    )
    return JudgeResult(
        verdict,
        0.0 if verdict == "fail" else 100.0,
        f"judge said {verdict}",
        (metric,),
        0.99,
        90,
        75,
        ("error_rate",) if verdict == "fail" else (),
    )  # type: ignore[arg-type]


def _start(log: AuditLog, clock: Clock, strategy: object = CANARY, candidate: str = "v2") -> actions.Change:
    return actions.start(
        log,
        "support",
        spec_default="v1",
        candidate=candidate,
        strategy=strategy,  # type: ignore[arg-type]
        variants=frozenset({"v1", "v2", "v3"}),
        actor="ada",
        reason="new prompt",
        clock=clock,
    )


def test_a_start_is_one_row_one_history_line_and_one_audit_entry(
    store: Store, log: AuditLog, clock: Clock
) -> None:
    change = _start(log, clock)
    state = load_state(store.db, "support")
    assert state.version == 1 and state.rollout == change.transition.rollout
    assert (state.rollout.state, state.rollout.baseline, state.rollout.candidate) == ("running", "v1", "v2")  # type: ignore[union-attr]
    assert state.rollout.candidate_percent == 10.0  # type: ignore[union-attr]
    [entry] = changes(log)
    assert (entry["actor"], entry["subject"], entry["before"]) == ("ada", "support", None)
    assert entry["reason"].startswith("new prompt (started canary of v2 over v1")  # type: ignore[union-attr]
    assert entry["after"]["state"] == "running" and entry["after"]["candidate_percent"] == 10.0  # type: ignore[index]
    rollout_id, looks = history(store.db, "support")
    assert rollout_id == state.rollout.rollout_id and [look.action for look in looks] == ["start"]  # type: ignore[union-attr]


def test_start_is_refused_while_a_rollout_runs_or_for_the_serving_variant(
    log: AuditLog, clock: Clock
) -> None:
    _start(log, clock)
    with pytest.raises(
        ConfigError, match=r"already running \(support-.*v2 over v1\); promote or abort it first"
    ):
        _start(log, clock, candidate="v3")
    with pytest.raises(ConfigError, match="needs a reason"):
        actions.act(log, "support", "abort", actor="ada", reason=" ")
    actions.act(log, "support", "abort", actor="ada", reason="changed my mind", clock=clock)
    with pytest.raises(ConfigError, match="'v1' already serves support"):
        _start(log, clock, candidate="v1")
    with pytest.raises(ConfigError, match="has no variant 'v9'; its variants: v1, v2, v3"):
        _start(log, clock, candidate="v9")
    assert len(changes(log)) == 2  # the refusals recorded nothing


def test_operator_actions_follow_the_state_machine(store: Store, log: AuditLog, clock: Clock) -> None:
    with pytest.raises(ConfigError, match="has no rollout; start one"):
        actions.act(log, "support", "pause", actor="ada", reason="r")
    _start(log, clock)
    clock.advance(5)
    paused = actions.act(log, "support", "pause", actor="bo", reason="looking into latency", clock=clock)
    assert paused.after.rollout.state == "paused"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="cannot pause while paused"):
        actions.act(log, "support", "pause", actor="bo", reason="again", clock=clock)
    actions.act(log, "support", "resume", actor="bo", reason="fine", clock=clock)
    promoted = actions.act(log, "support", "promote", actor="bo", reason="ship it", clock=clock)
    assert promoted.after.rollout.candidate_percent == 100.0  # type: ignore[union-attr]
    assert [e["after"]["state"] for e in changes(log)] == ["running", "paused", "running", "promoted"]  # type: ignore[index]
    assert serving_variant(load_state(store.db, "support"), "v1") == "v2"


def test_a_verdict_applies_only_to_the_version_it_judged(store: Store, log: AuditLog, clock: Clock) -> None:
    rollout = _start(log, clock).transition.rollout
    clock.advance(61)
    stale = actions.evaluate(
        log, "support", rollout_id=rollout.rollout_id, rollout_version=rollout.version + 7,
        result=_result("pass"), requests=100, window={}, clock=clock,
    )  # fmt: skip
    assert stale is None and load_state(store.db, "support").rollout == rollout
    moved = actions.evaluate(
        log, "support", rollout_id=rollout.rollout_id, rollout_version=rollout.version,
        result=_result("fail"), requests=100, window={"baseline": {"requests": 500}}, clock=clock,
    )  # fmt: skip
    assert moved is not None and moved.after.rollout.state == "rolled_back"  # type: ignore[union-attr]
    entry = changes(log)[-1]
    assert entry["actor"] == "runwell" and "judge failed the candidate" in entry["reason"]  # type: ignore[operator]
    [metric] = entry["after"]["metrics"]  # type: ignore[index]
    assert metric == {
        "name": "error_rate", "verdict": "fail", "critical": True, "baseline": 0.01, "candidate": 0.05,
        "estimate": 0.04, "ci": [0.02, 0.06], "p_value": 0.001, "tolerance": 0.0025, "n": [500, 480],
    }  # fmt: skip
    _, looks = history(store.db, "support")
    assert looks[-1].window == {"baseline": {"requests": 500}} and looks[-1].result is not None
    assert looks[-1].result.verdict == "fail"


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)
def test_two_replicas_judging_one_window_move_the_rollout_once(
    store: Store, log: AuditLog, clock: Clock
) -> None:
    rollout = _start(log, clock).transition.rollout
    clock.advance(61)
    # A second process's audit log on the same database: its own locks, so the race is real.
    other = AuditLog.open(SqlAuditStorage(store.db), generate_key("runwell.test/rollouts")[0])
    made: list[object] = []
    barrier = threading.Barrier(2)

    def judge(audit: AuditLog) -> None:
        barrier.wait()
        made.append(
            actions.evaluate(
                audit,
                "support",
                rollout_id=rollout.rollout_id,
                rollout_version=rollout.version,
                result=_result("pass"),
                requests=100,
                window={},
                clock=clock,
            )
        )

    threads = [threading.Thread(target=judge, args=(audit,)) for audit in (log, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m is None for m in made) == [False, True]
    state = load_state(store.db, "support")
    assert state.rollout.step == 1 and state.version == 2  # type: ignore[union-attr]
    _, looks = history(store.db, "support")
    assert [look.action for look in looks] == ["start", "advance"]


def test_serving_variant_after_each_ending() -> None:
    def state(rollout_state: str, strategy: object = CANARY) -> FeatureState:
        rollout = Rollout("r", "v1", "v2", strategy, state=rollout_state, window_start=NOW, started_at=NOW)  # type: ignore[arg-type]
        return FeatureState("support", 1, rollout)

    assert serving_variant(None, "v1") == "v1"
    assert serving_variant(state("pending"), "v1") == "v1"
    assert serving_variant(state("running"), "v1") == "v1"
    assert serving_variant(state("promoted"), "v1") == "v2"
    assert serving_variant(state("promoted"), "v5") == "v5"  # a newer spec default wins
    shadow = ShadowStrategy(sample_rate=0.5, interval_s=60, horizon_s=600)
    assert serving_variant(state("promoted", shadow), "v1") == "v1"  # a shadow moves no traffic
    assert serving_variant(state("rolled_back"), "v2") == "v1"  # the spec's default was the bad one
    assert serving_variant(state("aborted"), "v5") == "v5"


def test_the_always_on_rule_reverts_a_promotion_or_a_deployed_version(
    store: Store, log: AuditLog, clock: Clock
) -> None:
    _start(log, clock)
    actions.act(log, "support", "promote", actor="ada", reason="ship", clock=clock)
    old = Version("v1", "1", "m1", since=NOW - 100, until=NOW)
    new = Version("v2", "1", "m2", since=NOW)
    note_serving(store.db, "support", lambda before: _with(before, new, old), now=NOW)
    clock.advance(30)
    other = Version("v3", "1", "m3", since=NOW)
    assert (
        actions.revert_serving(
            log,
            "support",
            serving=other,
            previous=old,
            result=_result("fail"),
            reason="r",
            window={},
            clock=clock,
        )
        is None
    )  # the state moved on since the rule read it
    change = actions.revert_serving(
        log, "support", serving=new, previous=old, result=_result("fail"),
        reason="always-on rule: v2 is worse", window={"candidate": {"requests": 90}}, clock=clock,
    )  # fmt: skip
    assert change is not None
    state = load_state(store.db, "support")
    assert state.rollout.state == "rolled_back" and state.rollout.version == 3  # type: ignore[union-attr]
    assert state.serving is not None and state.serving.variant == "v1" and state.previous is None
    assert serving_variant(state, "v1") == "v1"
    assert changes(log)[-1]["before"]["state"] == "promoted"  # type: ignore[index]
    # A version a spec deploy put in place (no rollout of it) is reverted through a rollout record.
    deployed = Version("v3", "2", "m3", since=clock.advance(10))
    note_serving(store.db, "support", lambda before: _with(before, deployed, state.serving), now=clock.now)
    change = actions.revert_serving(
        log, "support", serving=deployed, previous=state.serving, result=_result("fail"), reason="r",  # type: ignore[arg-type]
        window={}, clock=clock,
    )  # fmt: skip
    assert change is not None
    rollout = load_state(store.db, "support").rollout
    assert (rollout.baseline, rollout.candidate, rollout.state) == ("v1", "v3", "rolled_back")  # type: ignore[union-attr]
    assert serving_variant(load_state(store.db, "support"), "v3") == "v1"


def _with(before: FeatureState, serving: Version, previous: Version | None) -> FeatureState:
    from dataclasses import replace

    return replace(before, serving=serving, previous=previous)


def test_the_cache_reloads_only_when_a_row_moved(store: Store, log: AuditLog, clock: Clock) -> None:
    cache = RolloutCache(store.db, ["support", "billing"])
    assert cache.refresh() is False and dict(cache.current) == {}
    _start(log, clock)
    assert cache.refresh() is True and cache.current["support"].rollout.state == "running"  # type: ignore[union-attr]
    assert cache.refresh() is False
    actions.act(log, "support", "pause", actor="ada", reason="r", clock=clock)
    assert cache.refresh() is True and cache.current["support"].rollout.state == "paused"  # type: ignore[union-attr]


def test_a_state_of_another_schema_is_refused_with_the_fix(store: Store) -> None:
    with store.db.transaction("plant") as tx:
        tx.execute(
            "INSERT INTO rollouts (feature, state, version, updated_at) VALUES (?, ?, ?, ?)",
            ("support", orjson.dumps({"schema": 9}).decode(), 1, NOW),
        )
    with pytest.raises(ConfigError, match="schema 9, this runwell reads schema 1; upgrade runwell"):
        load_state(store.db, "support")
    cache = RolloutCache(store.db, ["support"])
    cache.refresh()
    assert "support" not in cache.current  # served without it rather than failing


def test_describe_shows_the_split_and_window(log: AuditLog, clock: Clock, store: Store) -> None:
    ab = ABStrategy(percent=30.0, interval_s=60.0, horizon_requests=1000)
    _start(log, clock, ab)
    info = load_state(store.db, "support").describe()
    assert info["state"] == "running" and info["candidate_percent"] == 30.0
    assert info["strategy"]["kind"] == "ab" and info["window_end"] == NOW + 60.0

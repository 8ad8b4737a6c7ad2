"""The controller on a clock the test moves: when it judges, what it does with each verdict, the
always-on rule, auto-start. Records are written straight to the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from runwell.audit import AuditLog
from runwell.catalog import build_catalog
from runwell.experiments import actions
from runwell.experiments.cache import RolloutCache
from runwell.experiments.config import compile_experiment, strategy_of
from runwell.experiments.controller import Controller
from runwell.experiments.explain import history
from runwell.experiments.state import FeatureState, Version, load_state, note_serving
from runwell.spec.loader import load_spec
from runwell.store import Store
from runwell.telemetry.record import RequestRecord
from tests.experiments.conftest import Clock, changes
from tests.experiments.project import write_feature

CANARY = """\
  strategy: canary
  steps: [50, 100]
  interval_s: 60
  guard: {every_s: 1, window_s: 600}
  metrics:
    - {name: error_rate, critical: true, min_samples: 50}
"""


PROMPT: list[str] = []


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], str | None]] = []

    def __call__(self, kind: str, details: dict[str, Any], *, subject: str | None = None) -> None:
        self.seen.append((kind, details, subject))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.seen]


def _controller(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock, rollout: str = CANARY, candidate: str = "flaky"
) -> tuple[Controller, Events, Any]:
    loaded = load_spec(write_feature(tmp_path, "support", candidate=candidate, rollout=rollout))
    catalog, _providers = build_catalog([loaded])
    experiment = compile_experiment(loaded)
    PROMPT[:] = [loaded.prompt_versions["main"]]
    cache = RolloutCache(store.db, ["support"])
    events = Events()
    controller = Controller(store.db, log, catalog, {"support": experiment}, cache, events, clock=clock)
    return controller, events, experiment


def _traffic(
    store: Store,
    make_record: Callable[..., RequestRecord],
    at: float,
    n: int,
    *,
    arm: str | None,
    variant: str,
    errors: int = 0,
    prompt_version: str = "",
) -> None:
    records = []
    for i in range(n):
        failed = i < errors
        # Every variant of the test spec shares one prompt file, so one prompt version.
        extra = {"prompt_version": prompt_version or PROMPT[0]}
        records.append(
            make_record(
                feature="support",
                arm=arm,
                variant=variant,
                started_at=at + i * 0.001,
                status="error" if failed else "ok",
                http_status=502 if failed else 200,
                outcome="error" if failed else "served",
                **extra,
            )
        )
    store.write_records(records)


def _start(log: AuditLog, clock: Clock, experiment: Any) -> None:
    actions.start(
        log, "support", spec_default="main", candidate=experiment.spec.candidate,
        strategy=strategy_of(experiment.spec), actor="ada", reason="test", clock=clock,
    )  # fmt: skip


async def test_a_window_is_judged_when_it_ends_and_a_pass_advances(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock, make_record: Callable[..., RequestRecord]
) -> None:
    controller, events, experiment = _controller(tmp_path, store, log, clock, candidate="twin")
    controller.prepare()
    _start(log, clock, experiment)
    controller.prepare()  # the cache sees the rollout
    _traffic(store, make_record, clock.now + 1, 100, arm="baseline", variant="main", errors=1)
    _traffic(store, make_record, clock.now + 1, 100, arm="candidate", variant="twin", errors=1)
    clock.advance(59)
    await controller.tick()
    assert load_state(store.db, "support").rollout.step == 0  # type: ignore[union-attr]
    clock.advance(2)
    await controller.tick()
    rollout = load_state(store.db, "support").rollout
    assert rollout is not None and rollout.step == 1 and rollout.candidate_percent == 100.0
    _, looks = history(store.db, "support")
    assert [look.action for look in looks] == ["start", "advance"]
    assert looks[-1].window["candidate"]["requests"] == 100  # type: ignore[index]
    assert events.seen == []  # an advance is no event


async def test_a_fail_rolls_back_and_raises_an_event_with_the_evidence(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock, make_record: Callable[..., RequestRecord]
) -> None:
    controller, events, experiment = _controller(tmp_path, store, log, clock)
    _start(log, clock, experiment)
    controller.prepare()
    _traffic(store, make_record, clock.now + 1, 100, arm="baseline", variant="main", errors=1)
    _traffic(store, make_record, clock.now + 1, 100, arm="candidate", variant="flaky", errors=30)
    clock.advance(61)
    await controller.tick()
    state = load_state(store.db, "support")
    assert state.rollout.state == "rolled_back"  # type: ignore[union-attr]
    assert controller._cache.current["support"].rollout.state == "rolled_back"  # type: ignore[union-attr]
    [(kind, details, subject)] = events.seen
    assert (kind, subject, details["verdict"], details["failed"]) == (
        "rollout_rolled_back",
        "support",
        "fail",
        ["error_rate"],
    )
    numbers = details["metrics"]["error_rate"]
    assert (numbers["baseline"], numbers["candidate"]) == (0.01, 0.3) and numbers["p_value"] < 1e-6
    assert details["serving"] == "main" and details["window"]["candidate"]["requests"] == 100
    assert changes(log)[-1]["after"]["verdict"] == "fail"  # type: ignore[index]


async def test_ab_looks_before_the_horizon_are_kept_in_the_history_not_the_audit_log(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock, make_record: Callable[..., RequestRecord]
) -> None:
    rollout = (
        "  strategy: ab\n  split: 50\n  interval_s: 60\n  horizon: {requests: 1000}\n"
        "  metrics:\n    - {name: error_rate, critical: true, min_samples: 50}\n"
    )
    controller, _events, experiment = _controller(tmp_path, store, log, clock, rollout, candidate="twin")
    _start(log, clock, experiment)
    controller.prepare()
    _traffic(store, make_record, clock.now + 1, 100, arm="baseline", variant="main")
    _traffic(store, make_record, clock.now + 1, 100, arm="candidate", variant="twin")
    for _ in range(3):
        clock.advance(61)
        await controller.tick()
        await controller.tick()  # a second tick within the interval does not look again
    _, looks = history(store.db, "support")
    assert [look.action for look in looks] == ["start", "hold", "hold", "hold"]
    assert all(look.result is not None and look.result.verdict == "pass" for look in looks[1:])
    assert len(changes(log)) == 1  # only the start changed anything


async def test_the_always_on_rule_reverts_a_promoted_candidate_that_breaches(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock, make_record: Callable[..., RequestRecord]
) -> None:
    controller, events, experiment = _controller(tmp_path, store, log, clock)
    controller.prepare()
    serving = load_state(store.db, "support").serving
    assert serving is not None and serving.variant == "main" and serving.since == clock.now
    _traffic(store, make_record, clock.now + 1, 100, arm=None, variant="main", errors=1)
    clock.advance(100)
    _start(log, clock, experiment)
    actions.act(log, "support", "promote", actor="ada", reason="skip the canary", clock=clock)
    promoted_at = clock.now
    _traffic(store, make_record, clock.now + 1, 100, arm=None, variant="flaky", errors=40)
    clock.advance(50)
    await controller.guard_tick()
    state = load_state(store.db, "support")
    assert state.rollout.state == "rolled_back"  # type: ignore[union-attr]
    assert state.serving is not None and state.serving.variant == "main" and state.previous is None
    _, looks = history(store.db, "support")
    assert looks[-1].action == "revert" and looks[-1].result is not None
    assert looks[-1].window["baseline"]["to"] == promoted_at  # type: ignore[index]
    assert events.kinds() == ["rollout_rolled_back"] and events.seen[0][1]["action"] == "revert"
    await controller.guard_tick()  # nothing left to compare: no second revert
    assert events.kinds() == ["rollout_rolled_back"]


async def test_a_breach_the_rule_cannot_undo_is_an_event_once(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock, make_record: Callable[..., RequestRecord]
) -> None:
    controller, events, _experiment = _controller(tmp_path, store, log, clock)
    controller.prepare()
    current = load_state(store.db, "support").serving
    assert current is not None
    # The prompt of main changed in place at the last deploy: the old version cannot be served.
    old = Version("main", "0-old", current.model, since=clock.now - 500, until=clock.now)
    note_serving(store.db, "support", lambda before: replace(before, previous=old), now=clock.now)
    _traffic(store, make_record, clock.now - 300, 100, arm=None, variant="main", prompt_version="0-old")
    _traffic(
        store, make_record, clock.now + 1, 100, arm=None, variant="main", errors=40,
        prompt_version=current.prompt_version,
    )  # fmt: skip
    clock.advance(30)
    for _ in range(2):
        await controller.guard_tick()
        clock.advance(2)
    assert events.kinds() == ["serving_regression"]
    details = events.seen[0][1]
    assert details["breached"] == ["error_rate"] and "redeploy it to roll back" in details["action"]
    assert load_state(store.db, "support").rollout is None  # nothing moved


def test_auto_start_starts_once_and_not_again_after_the_rollout_ended(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock
) -> None:
    controller, _events, _experiment = _controller(
        tmp_path, store, log, clock, CANARY + "  auto_start: true\n"
    )
    controller.prepare()
    started = load_state(store.db, "support").rollout
    assert started is not None and started.state == "running" and started.candidate == "flaky"
    assert changes(log)[0]["actor"] == "runwell"
    controller.prepare()  # another replica starting
    assert load_state(store.db, "support").rollout == started
    actions.act(log, "support", "abort", actor="ada", reason="no", clock=clock)
    controller.prepare()  # a restart does not undo the operator's abort
    assert load_state(store.db, "support").rollout.state == "aborted"  # type: ignore[union-attr]


def test_a_rollout_whose_variant_left_the_spec_is_aborted(
    tmp_path: Path, store: Store, log: AuditLog, clock: Clock
) -> None:
    controller, _events, experiment = _controller(tmp_path, store, log, clock)
    actions.start(
        log, "support", spec_default="main", candidate="retired", strategy=strategy_of(experiment.spec),
        actor="ada", reason="r", clock=clock,
    )  # fmt: skip
    rollout = load_state(store.db, "support").rollout
    assert rollout is not None
    assert controller.judge_rollout("support", rollout) is True
    state: FeatureState = load_state(store.db, "support")
    assert state.rollout.state == "aborted"  # type: ignore[union-attr]
    assert "retired is not in the deployed spec" in changes(log)[-1]["reason"]  # type: ignore[operator]

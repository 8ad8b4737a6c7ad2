"""An alert's life: pending for ``for_s``, firing, resolving only after ``keep_firing_s`` clear."""

from __future__ import annotations

from runwell.operate.states import AlertState, step


def run(holds: list[bool], *, for_s: float, keep_firing_s: float, every: float = 10.0) -> list[str | None]:
    state, transitions = AlertState(), []
    for i, h in enumerate(holds):
        state, transition = step(state, h, i * every, for_s=for_s, keep_firing_s=keep_firing_s)
        transitions.append(transition)
    return transitions


def test_an_alert_without_for_fires_at_once_and_resolves_after_keep_firing() -> None:
    assert run([False, True, True, False, False, False], for_s=0, keep_firing_s=20) == [
        None, "fire", None, None, None, "resolve",
    ]  # fmt: skip


def test_the_condition_must_hold_for_for_s_before_firing() -> None:
    assert run([True, True, True, True], for_s=25, keep_firing_s=0) == ["pending", None, None, "fire"]


def test_a_dip_while_pending_cancels_without_notifying() -> None:
    assert run([True, False, True, True, True], for_s=20, keep_firing_s=0) == [
        "pending", "cancel", "pending", None, "fire",
    ]  # fmt: skip


def test_a_value_hovering_around_its_threshold_pages_once_and_resolves_once() -> None:
    hovering = [True, False, True, False, True, False, True, False, False, False, False]
    transitions = run(hovering, for_s=0, keep_firing_s=30)
    assert [t for t in transitions if t] == ["fire", "resolve"]
    assert transitions.index("resolve") == 10  # three clear evaluations in a row after the last bad one


def test_holding_again_resets_the_clear_clock() -> None:
    state = AlertState("firing", 0.0)
    state, _ = step(state, False, 10, for_s=0, keep_firing_s=30)
    assert state.clear_since == 10
    state, _ = step(state, True, 20, for_s=0, keep_firing_s=30)
    assert state.clear_since is None and state.state == "firing"
    state, t = step(state, False, 45, for_s=0, keep_firing_s=30)
    assert t is None and state.clear_since == 45

"""The circuit breaker's states and transitions, on a clock the tests move by hand."""

from __future__ import annotations

import logging

import pytest

from runwell.errors import ConfigError, ProviderError, ProviderTimeout
from runwell.resilience import BreakerSettings, BreakerState, CircuitBreaker, Transition, counts_as_failure
from tests.resilience.conftest import FakeClock

SETTINGS = BreakerSettings(window=20, min_calls=10, failure_rate=0.5, open_s=30.0, half_open_calls=3)


def make(clock: FakeClock, settings: BreakerSettings = SETTINGS) -> tuple[CircuitBreaker, list[Transition]]:
    events: list[Transition] = []
    breaker = CircuitBreaker(
        "openai", "gpt-4o-mini", settings, clock=clock, wall=clock.wall, on_transition=events.append
    )
    return breaker, events


def http(status: int) -> ProviderError:
    return ProviderError(
        "openai", f"HTTP {status}", error_class=f"upstream_http_{status}", upstream_status=status
    )


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(SETTINGS.min_calls):
        assert breaker.allow()
        breaker.record(False)
    assert breaker.state is BreakerState.OPEN


def test_a_new_breaker_is_closed_and_allows_calls(clock: FakeClock) -> None:
    breaker, events = make(clock)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    snap = breaker.snapshot()
    assert (snap.state, snap.calls, snap.failure_rate, snap.since, snap.open_until) == (
        BreakerState.CLOSED, 0, None, None, None
    )  # fmt: skip
    assert events == []


def test_it_cannot_open_before_the_minimum_number_of_calls(clock: FakeClock) -> None:
    breaker, events = make(clock)
    for _ in range(SETTINGS.min_calls - 1):
        breaker.record(False)
    assert breaker.state is BreakerState.CLOSED  # 9 failures out of 9: 100 %, but too few calls
    assert breaker.allow()
    breaker.record(False)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert [(e.from_state, e.to_state) for e in events] == [(BreakerState.CLOSED, BreakerState.OPEN)]
    assert events[0].reason == "failure rate 100% over the last 10 calls (threshold 50%)"


def test_it_opens_exactly_at_the_failure_rate_threshold(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    for _ in range(11):
        breaker.record(True)
    for _ in range(9):
        breaker.record(False)
    assert breaker.snapshot().failure_rate == pytest.approx(0.45)
    assert breaker.state is BreakerState.CLOSED
    breaker.record(False)  # the window slides: the oldest success leaves, 10 failures of 20
    snap = breaker.snapshot()
    assert (snap.calls, snap.failures) == (20, 10)
    assert snap.state is BreakerState.OPEN


def test_failures_that_slid_out_of_the_window_no_longer_count(clock: FakeClock) -> None:
    breaker, _ = make(clock, BreakerSettings(window=4, min_calls=4, failure_rate=0.5))
    for ok in (False, True, True, True, True):  # the failure leaves the window at the fifth call
        breaker.record(ok)
    assert breaker.snapshot().failures == 0
    breaker.record(False)  # S S S F: 25 %
    assert breaker.state is BreakerState.CLOSED
    breaker.record(False)  # S S F F: 50 %
    assert breaker.state is BreakerState.OPEN


def test_an_open_breaker_rejects_until_the_open_period_ends_then_half_opens(clock: FakeClock) -> None:
    breaker, events = make(clock)
    trip(breaker)
    opened_at = clock.wall()
    snap = breaker.snapshot()
    assert snap.open_until == pytest.approx(opened_at + 30.0)
    assert snap.since == pytest.approx(opened_at)
    clock.advance(29.9)
    assert not breaker.allow()
    error = breaker.open_error()
    assert error.error_class == "circuit_open"
    assert "gpt-4o-mini" in str(error) and "another 0.1s" in str(error) and "fallback" in str(error)
    assert not counts_as_failure(error)
    clock.advance(0.1)
    assert breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN
    assert events[-1].reason == "open period of 30s elapsed"


def test_half_open_lets_n_trials_through_and_closes_when_all_succeed(clock: FakeClock) -> None:
    breaker, events = make(clock)
    trip(breaker)
    clock.advance(30.0)
    assert [breaker.allow() for _ in range(4)] == [True, True, True, False]
    breaker.record(True)
    breaker.record(True)
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow()  # the third trial is still in flight
    breaker.record(True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().calls == 0  # a fresh window: the outage's failures are forgotten
    assert [e.to_state for e in events] == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]
    assert events[-1].reason == "3 half-open trial calls succeeded"


def test_one_failed_trial_opens_the_breaker_again_for_a_full_period(clock: FakeClock) -> None:
    breaker, events = make(clock)
    trip(breaker)
    clock.advance(30.0)
    assert breaker.allow() and breaker.allow()
    breaker.record(True)
    breaker.record(False)
    assert breaker.state is BreakerState.OPEN
    assert events[-1].reason == "a half-open trial call failed"
    assert breaker.snapshot().open_until == pytest.approx(clock.wall() + 30.0)
    clock.advance(29.0)
    assert not breaker.allow()


@pytest.mark.parametrize(
    "error",
    [
        ProviderError("openai", "bad tools", error_class="invalid_request"),
        ProviderError("openai", "no tools", error_class="unsupported_request"),
        http(400),
        http(413),
        http(422),
    ],
    ids=["invalid_request", "unsupported_request", "400", "413", "422"],
)
def test_client_mistakes_never_open_the_breaker(clock: FakeClock, error: ProviderError) -> None:
    breaker, events = make(clock)
    assert not counts_as_failure(error)
    for _ in range(50):
        assert breaker.allow()
        breaker.record_error(error)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().calls == 0
    assert events == []


@pytest.mark.parametrize(
    "error",
    [
        ProviderError("openai", "refused", error_class="connect_error"),
        ProviderTimeout("openai", "slow"),
        http(429),
        http(500),
        http(503),
        http(401),
        ProviderError("openai", "not json", error_class="malformed_response"),
        ProviderError("openai", "cut", error_class="stream_cut"),
    ],
    ids=["connect", "timeout", "429", "500", "503", "401", "malformed", "stream_cut"],
)
def test_upstream_failures_open_the_breaker(clock: FakeClock, error: ProviderError) -> None:
    breaker, _ = make(clock)
    assert counts_as_failure(error)
    for _ in range(SETTINGS.min_calls):
        breaker.record_error(error)
    assert breaker.state is BreakerState.OPEN


def test_a_client_mistake_in_half_open_returns_its_permit(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    trip(breaker)
    clock.advance(30.0)
    assert breaker.allow() and breaker.allow() and breaker.allow()
    assert not breaker.allow()
    breaker.record_error(http(400))
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the permit came back


def test_a_cancelled_trial_releases_its_permit(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    trip(breaker)
    clock.advance(30.0)
    for _ in range(3):
        assert breaker.allow()
    breaker.release()
    assert breaker.allow()
    assert not breaker.allow()


def test_late_answers_from_before_the_opening_are_ignored(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    trip(breaker)
    for _ in range(5):  # calls allowed while closed, answering after the breaker opened
        breaker.record(True)
    assert breaker.state is BreakerState.OPEN
    clock.advance(30.0)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record(True)  # no trial permit was granted yet: not a trial's answer
    breaker.record(False)
    assert breaker.state is BreakerState.HALF_OPEN


def test_permits_lost_for_a_whole_open_period_are_reissued(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    trip(breaker)
    clock.advance(30.0)
    for _ in range(3):
        assert breaker.allow()  # three trials that never report back
    clock.advance(29.0)
    assert not breaker.allow()
    clock.advance(1.0)
    for _ in range(3):
        assert breaker.allow()
        breaker.record(True)
    assert breaker.state is BreakerState.CLOSED


def test_forced_open_rejects_everything_until_reset(clock: FakeClock) -> None:
    breaker, events = make(clock)
    breaker.force_open("upstream incident INC-42")
    clock.advance(3600)
    assert not breaker.allow()
    assert breaker.state is BreakerState.FORCED_OPEN
    assert "until an operator resets it" in str(breaker.open_error())
    breaker.record(True)
    assert breaker.state is BreakerState.FORCED_OPEN
    breaker.reset("incident over")
    assert breaker.allow()
    assert [(e.to_state, e.reason) for e in events] == [
        (BreakerState.FORCED_OPEN, "forced open: upstream incident INC-42"),
        (BreakerState.CLOSED, "reset: incident over"),
    ]


def test_disabled_allows_everything_and_records_nothing(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    breaker.disable("flapping breaker, investigating")
    for _ in range(100):
        assert breaker.allow()
        breaker.record(False)
    assert breaker.state is BreakerState.DISABLED
    breaker.reset("done")
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().calls == 0


def test_reset_closes_an_open_breaker_with_an_empty_window(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    trip(breaker)
    breaker.reset("fixed upstream")
    assert breaker.allow()
    snap = breaker.snapshot()
    assert (snap.state, snap.calls, snap.reason) == (BreakerState.CLOSED, 0, "reset: fixed upstream")


def test_the_snapshot_is_json_ready(clock: FakeClock) -> None:
    breaker, _ = make(clock)
    for ok in (True, False, True, True):
        breaker.record(ok)
    assert breaker.snapshot().as_dict() == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "state": "closed",
        "failure_rate": 0.25,
        "calls": 4,
        "failures": 1,
        "open_until": None,
        "since": None,
        "reason": "new breaker",
    }


def test_transitions_carry_wall_times_and_the_open_until(clock: FakeClock) -> None:
    breaker, events = make(clock)
    trip(breaker)
    event = events[0]
    assert (event.provider, event.model, event.remote) == ("openai", "gpt-4o-mini", False)
    assert event.at == pytest.approx(clock.wall())
    assert event.open_until == pytest.approx(clock.wall() + 30.0)


def test_a_failing_transition_callback_never_reaches_the_caller(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: Transition) -> None:
        raise RuntimeError("audit queue full")

    breaker = CircuitBreaker("openai", "m", SETTINGS, clock=clock, wall=clock.wall, on_transition=broken)
    with caplog.at_level(logging.ERROR, logger="runwell.resilience"):
        for _ in range(10):
            breaker.record(False)
    assert breaker.state is BreakerState.OPEN
    assert "on_transition callback failed" in caplog.text


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"window": 0}, "window"),
        ({"window": 5, "min_calls": 6}, "min_calls"),
        ({"min_calls": 0}, "min_calls"),
        ({"failure_rate": 0.0}, "failure_rate"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"open_s": 0}, "open_s"),
        ({"open_s": float("inf")}, "open_s"),
        ({"half_open_calls": 0}, "half_open_calls"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"circuit breaker settings: {field} must"):
        BreakerSettings(**settings)  # type: ignore[arg-type]


def test_the_defaults_are_the_documented_ones() -> None:
    assert BreakerSettings() == SETTINGS

"""Retries: which errors, how long between attempts, and the deadline over all of them."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from runwell.errors import ConfigError, ProviderError, ProviderTimeout
from runwell.resilience import (
    Attempt,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    Deadline,
    Retrier,
    RetryPolicy,
    is_retryable,
    retry_after,
)
from tests.resilience.conftest import FakeClock

POLICY = RetryPolicy(attempts=4, base_delay_s=0.5, max_delay_s=2.0, max_retry_after_s=5.0, min_attempt_s=0.5)


def http(status: int, retry_after_s: float | None = None) -> ProviderError:
    error = ProviderError(
        "openai", f"HTTP {status}", error_class=f"upstream_http_{status}", upstream_status=status
    )
    if retry_after_s is not None:
        error.retry_after_s = retry_after_s  # type: ignore[attr-defined]  # what _http.status_error should set
    return error


class Script:
    """An attempt function that raises the scripted errors in turn, then answers "ok"."""

    def __init__(self, clock: FakeClock, *errors: ProviderError, took_s: float = 0.0, output: bool = False):
        self.clock = clock
        self.errors = list(errors)
        self.took_s = took_s
        self.output = output
        self.attempts: list[Attempt] = []

    async def __call__(self, attempt: Attempt) -> str:
        self.attempts.append(attempt)
        self.clock.advance(self.took_s)
        if self.output:
            attempt.mark_output()
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


def retrier(clock: FakeClock, policy: RetryPolicy = POLICY, seed: int = 7) -> tuple[Retrier, Sleeps]:
    sleeps = Sleeps(clock)
    return Retrier(policy, clock=clock, sleep=sleeps, rng=random.Random(seed)), sleeps


async def run(
    r: Retrier,
    fn: Script,
    *,
    total_s: float = 30.0,
    attempt_s: float = 10.0,
    breaker: CircuitBreaker | None = None,
) -> str:
    return await r.call(
        fn, provider="openai", deadline=r.deadline(total_s), attempt_timeout_s=attempt_s, breaker=breaker
    )


async def test_transient_errors_are_retried_until_an_answer(clock: FakeClock) -> None:
    r, sleeps = retrier(clock)
    fn = Script(clock, http(503), ProviderError("openai", "refused", error_class="connect_error"), http(429))
    assert await run(r, fn) == "ok"
    assert [a.number for a in fn.attempts] == [1, 2, 3, 4]
    assert len(sleeps.calls) == 3
    for retry, slept in enumerate(sleeps.calls, start=1):
        assert 0.0 <= slept <= min(2.0, 0.5 * 2 ** (retry - 1))


async def test_the_last_error_is_raised_when_attempts_run_out(clock: FakeClock) -> None:
    r, sleeps = retrier(clock)
    errors = [http(500), http(502), http(503), http(504)]
    fn = Script(clock, *errors)
    with pytest.raises(ProviderError) as caught:
        await run(r, fn)
    assert caught.value is errors[-1]
    assert len(fn.attempts) == 4 and len(sleeps.calls) == 3


@pytest.mark.parametrize(
    "error",
    [
        http(400),
        ProviderError("openai", "bad", error_class="invalid_request"),
        ProviderError("openai", "no tools", error_class="unsupported_request"),
        http(401),
        http(404),
        http(501),
        ProviderError("openai", "not json", error_class="malformed_response"),
        ProviderError("openai", "open", error_class="circuit_open"),
    ],
    ids=["400", "invalid_request", "unsupported_request", "401", "404", "501", "malformed", "circuit_open"],
)
async def test_errors_that_a_retry_cannot_fix_are_raised_at_once(
    clock: FakeClock, error: ProviderError
) -> None:
    r, sleeps = retrier(clock)
    fn = Script(clock, error)
    with pytest.raises(ProviderError) as caught:
        await run(r, fn)
    assert caught.value is error
    assert len(fn.attempts) == 1 and sleeps.calls == []


async def test_nothing_is_retried_once_output_was_produced(clock: FakeClock) -> None:
    r, _ = retrier(clock)
    fn = Script(clock, http(503), ProviderError("openai", "cut", error_class="stream_cut"), output=True)
    with pytest.raises(ProviderError, match="HTTP 503"):
        await run(r, fn)
    assert len(fn.attempts) == 1


def test_which_errors_are_retryable() -> None:
    cut = ProviderError("openai", "cut", error_class="stream_cut")
    assert is_retryable(cut, output_started=False)
    assert not is_retryable(cut, output_started=True)
    assert is_retryable(ProviderTimeout("openai", "slow"), output_started=False)
    assert is_retryable(ProviderError("sim", "x", error_class="upstream_http_502"), output_started=False)
    assert not is_retryable(ProviderError("sim", "x", error_class="upstream_http_501"), output_started=False)
    assert not is_retryable(ProviderError("sim", "x", error_class="upstream_http_418"), output_started=False)


async def test_retry_after_is_honoured_instead_of_the_backoff(clock: FakeClock) -> None:
    r, sleeps = retrier(clock)
    fn = Script(clock, http(429, retry_after_s=3.0), http(503, retry_after_s=0))
    assert await run(r, fn) == "ok"
    assert sleeps.calls == [3.0]  # a zero Retry-After retries at once, without a sleep
    assert len(fn.attempts) == 3


async def test_a_retry_after_above_the_cap_ends_the_retries(clock: FakeClock) -> None:
    r, sleeps = retrier(clock)
    error = http(429, retry_after_s=5.01)
    fn = Script(clock, error)
    with pytest.raises(ProviderError) as caught:
        await run(r, fn)
    assert caught.value is error and sleeps.calls == []


@pytest.mark.parametrize("value", [None, -1.0, float("nan"), float("inf"), True, "3"])
def test_an_unusable_retry_after_is_ignored(value: object) -> None:
    error = http(429)
    error.retry_after_s = value  # type: ignore[attr-defined]
    assert retry_after(error) is None


async def test_each_attempt_gets_the_smaller_of_its_timeout_and_the_time_left(clock: FakeClock) -> None:
    r, _ = retrier(clock, RetryPolicy(attempts=5, base_delay_s=0.0, max_delay_s=0.0, min_attempt_s=0.5))
    fn = Script(clock, http(503), http(503), took_s=4.0)
    assert await run(r, fn, total_s=10.0, attempt_s=4.0) == "ok"
    assert [a.timeout_s for a in fn.attempts] == [4.0, 4.0, 2.0]


async def test_no_retry_starts_with_less_than_the_minimum_slice_left(clock: FakeClock) -> None:
    r, sleeps = retrier(clock, RetryPolicy(attempts=5, base_delay_s=0.0, max_delay_s=0.0, min_attempt_s=1.0))
    error = http(503)
    fn = Script(clock, error, took_s=9.2)
    with pytest.raises(ProviderError) as caught:
        await run(r, fn, total_s=10.0, attempt_s=10.0)
    assert caught.value is error  # 0.8 s left: too little for a useful attempt
    assert len(fn.attempts) == 1 and sleeps.calls == []


async def test_a_wait_that_would_overrun_the_deadline_ends_the_retries(clock: FakeClock) -> None:
    r, sleeps = retrier(clock)
    fn = Script(clock, http(429, retry_after_s=4.0), took_s=6.0)
    with pytest.raises(ProviderError, match="HTTP 429"):
        await run(r, fn, total_s=10.0, attempt_s=10.0)  # 4 s left, 4 s to wait, 0 s to try
    assert sleeps.calls == []


async def test_an_expired_deadline_is_a_timeout(clock: FakeClock) -> None:
    r, _ = retrier(clock)
    deadline = r.deadline(1.0)
    clock.advance(1.5)
    with pytest.raises(ProviderTimeout, match=r"1s deadline passed before attempt 1"):
        await r.call(Script(clock), provider="openai", deadline=deadline, attempt_timeout_s=5.0)


async def test_an_attempt_that_overruns_its_timeout_is_cut_and_retried() -> None:
    calls: list[float] = []

    async def slow_then_fast(attempt: Attempt) -> str:
        calls.append(attempt.timeout_s)
        if attempt.number == 1:
            await asyncio.sleep(5.0)  # an upstream that ignores the timeout it was given
        return "ok"

    r = Retrier(RetryPolicy(base_delay_s=0.0, max_delay_s=0.0, min_attempt_s=0.01))
    started = time.perf_counter()
    result = await r.call(slow_then_fast, provider="openai", deadline=r.deadline(2.0), attempt_timeout_s=0.05)
    assert result == "ok"
    assert time.perf_counter() - started < 1.0
    assert calls == [0.05, 0.05]


async def test_the_attempt_timeout_error_names_the_attempt_and_deadline() -> None:
    async def hang(attempt: Attempt) -> str:
        await asyncio.sleep(5.0)
        return "never"

    r = Retrier(RetryPolicy(attempts=1))
    with pytest.raises(ProviderTimeout, match=r"attempt 1 did not finish within 0.05s .*the 2s deadline"):
        await r.call(hang, provider="openai", deadline=r.deadline(2.0), attempt_timeout_s=0.05)


def test_full_jitter_spans_the_whole_interval_below_the_cap() -> None:
    rng = random.Random(1)
    for retry, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 2.0), (40, 2.0), (5000, 2.0)):
        draws = [POLICY.backoff(retry, rng) for _ in range(2000)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert min(draws) < 0.05 * ceiling and max(draws) > 0.95 * ceiling


async def test_a_breaker_sees_every_attempt(clock: FakeClock) -> None:
    breaker = CircuitBreaker(
        "openai", "gpt-4o", BreakerSettings(window=10, min_calls=3), clock=clock, wall=clock.wall
    )
    r, _ = retrier(clock)
    fn = Script(clock, http(503), http(503), http(400))
    with pytest.raises(ProviderError, match="HTTP 400"):
        await run(r, fn, breaker=breaker)
    snap = breaker.snapshot()
    assert (snap.calls, snap.failures) == (2, 2)  # the 400 is the client's: not counted
    assert await run(r, Script(clock), breaker=breaker) == "ok"
    assert breaker.snapshot().calls == 3


async def test_an_open_breaker_fails_the_call_fast(clock: FakeClock) -> None:
    breaker = CircuitBreaker("openai", "gpt-4o", clock=clock, wall=clock.wall)
    breaker.force_open("drill")
    r, _ = retrier(clock)
    fn = Script(clock)
    with pytest.raises(ProviderError) as caught:
        await run(r, fn, breaker=breaker)
    assert caught.value.error_class == "circuit_open"
    assert fn.attempts == []


async def test_a_breaker_opening_mid_retries_raises_the_upstream_error(clock: FakeClock) -> None:
    breaker = CircuitBreaker(
        "openai", "gpt-4o", BreakerSettings(window=2, min_calls=2), clock=clock, wall=clock.wall
    )
    r, _ = retrier(clock)
    fn = Script(clock, http(503), http(502), http(500))
    with pytest.raises(ProviderError, match="HTTP 502"):
        await run(r, fn, breaker=breaker)
    assert len(fn.attempts) == 2
    assert breaker.state is BreakerState.OPEN


async def test_a_cancelled_trial_gives_its_permit_back(clock: FakeClock) -> None:
    breaker = CircuitBreaker(
        "openai",
        "gpt-4o",
        BreakerSettings(window=2, min_calls=2, half_open_calls=1),
        clock=clock,
        wall=clock.wall,
    )
    breaker.record(False)
    breaker.record(False)
    clock.advance(30.0)
    started = asyncio.Event()

    async def hang(attempt: Attempt) -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    r = Retrier(clock=clock)
    task = asyncio.create_task(
        r.call(hang, provider="openai", deadline=r.deadline(30), attempt_timeout_s=30, breaker=breaker)
    )
    await started.wait()
    assert not breaker.allow()  # the only trial permit is taken
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.allow()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts must be at least 1"),
        ({"base_delay_s": -1.0}, "base_delay_s must be a finite number >= 0"),
        ({"max_retry_after_s": float("nan")}, "max_retry_after_s must be"),
        ({"base_delay_s": 3.0, "max_delay_s": 1.0}, r"max_delay_s \(1.0\) must not be below base_delay_s"),
    ],
)
def test_bad_policies_are_refused_naming_the_field(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_deadline_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="positive number of seconds, got 0"):
        Deadline(0)


async def test_without_the_guard_the_attempt_function_owns_its_timeout() -> None:
    async def slow(attempt: Attempt) -> str:
        await asyncio.sleep(0.05)
        return f"took longer than {attempt.timeout_s}s"

    r = Retrier(RetryPolicy(attempts=1), guard_timeouts=False)
    assert await r.call(slow, provider="openai", deadline=r.deadline(2.0), attempt_timeout_s=0.01) == (
        "took longer than 0.01s"
    )


async def test_one_call_can_leave_the_timeout_to_an_attempt_that_bounds_itself() -> None:
    async def slow(attempt: Attempt) -> str:
        await asyncio.sleep(0.05)
        return "done"

    r = Retrier(RetryPolicy(attempts=1))  # guards by default ...
    assert (
        await r.call(
            slow, provider="openai", deadline=r.deadline(2.0), attempt_timeout_s=0.01, guard_timeout=False
        )
        == "done"
    )  # ... but not the call that says its attempt bounds itself
    with pytest.raises(ProviderTimeout):
        await r.call(slow, provider="openai", deadline=r.deadline(2.0), attempt_timeout_s=0.01)

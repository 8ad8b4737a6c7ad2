"""The budget engine's behaviour, the same on both backends: the local one and real Redis.

Every test runs once per backend with a clock the test moves by hand; the Redis backend gets a key
prefix of its own, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from runwell.control.budgets import (
    Ask,
    BudgetExceeded,
    Budgets,
    Limits,
    LocalBudgets,
    RedisBudgets,
    ScopeLimits,
    Usage,
)
from runwell.errors import ConfigError, RequestError

REDIS_URL = "redis://127.0.0.1:6379/0"


def ts(iso: str) -> float:
    """Epoch seconds of an ISO time written in UTC (``2025-03-14T15:09:26.5``)."""
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


class FakeClock:
    """Wall-clock time that moves only when a test says so."""

    def __init__(self, iso: str = "2025-03-14T15:09:26.5") -> None:
        self.now = ts(iso)

    def __call__(self) -> float:
        return self.now

    def set(self, iso: str) -> None:
        self.now = ts(iso)

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def delete_prefix(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def new_prefix() -> str:
    return f"runwell-test:budgets:{secrets.token_hex(6)}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["local", "redis"])
async def budgets(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Budgets]:
    if request.param == "local":
        yield LocalBudgets(clock=clock)
        return
    prefix = new_prefix()
    engine = RedisBudgets(REDIS_URL, prefix=prefix, clock=clock, timeout_s=1.0)
    try:
        yield engine
    finally:
        await engine.aclose()
        await delete_prefix(prefix)


def ask(
    *,
    usd: float = 0.0,
    tokens: int = 0,
    feature: str = "support-reply",
    key: str | None = "key_1",
    user: str | None = "user-7",
) -> Ask:
    """An ask holding ``usd`` dollars and ``tokens`` tokens (split between input and output)."""
    return Ask(feature, key, user, tokens // 2, tokens - tokens // 2, usd)


async def refused(budgets: Budgets, limits: Limits, request: Ask) -> BudgetExceeded:
    with pytest.raises(BudgetExceeded) as caught:
        await budgets.reserve(limits, request)
    return caught.value


# --- every windowed limit, at its boundary -----------------------------------------------------

WINDOWED = [
    (scope, name)
    for scope in ("feature", "key", "user")
    for name in (
        "usd_per_day",
        "usd_per_month",
        "tokens_per_day",
        "tokens_per_month",
        "requests_per_minute",
        "tokens_per_minute",
    )
]
RESETS = {
    "minute": ts("2025-03-14T15:10:00"),
    "day": ts("2025-03-15T00:00:00"),
    "month": ts("2025-04-01T00:00:00"),
}


@pytest.mark.parametrize(("scope", "name"), WINDOWED)
async def test_each_windowed_limit_refuses_exactly_at_its_boundary(
    budgets: Budgets, clock: FakeClock, scope: str, name: str
) -> None:
    unit, window = name.split("_per_")
    limit = {"usd": 1.0, "tokens": 1000, "requests": 4}[unit]
    limits = Limits(**{scope: ScopeLimits(**{name: limit})})  # type: ignore[arg-type]
    # Four requests fill the limit exactly: two settled at their estimate, two still in flight.
    quarter = ask(usd=0.25) if unit == "usd" else ask(tokens=250)
    held = [await budgets.reserve(limits, quarter) for _ in range(4)]
    for reservation in held[:2]:
        await budgets.settle(reservation, Usage(quarter.max_cost_usd, quarter.input_tokens, 125))

    smallest = ask(usd=1e-9) if unit == "usd" else ask(tokens=1)
    err = await refused(budgets, limits, smallest)

    b = err.breach
    subject = {"feature": "support-reply", "key": "key_1", "user": "user-7"}[scope]
    assert (b.budget, b.scope, b.subject, b.feature, b.window, b.unit) == (
        f"{scope}.{name}",
        scope,
        subject,
        "support-reply",
        window,
        unit,
    )
    assert b.limit == limit
    assert b.spent == limit / 2 and b.reserved == limit / 2
    assert b.resets_at == RESETS[window]
    assert b.retry_after_s == math.ceil(RESETS[window] - clock.now)
    assert err.status == 429 and err.headers() == [(b"retry-after", str(b.retry_after_s).encode())]
    assert err.code == ("rate_limit_exceeded" if window == "minute" else "budget_exceeded")
    assert err.type == {"usd": "insufficient_quota", "tokens": "tokens", "requests": "requests"}[unit]
    assert f"{scope}.{name}" in err.message and "retry after" in err.message
    # Another subject of the same scope has a budget of its own.
    other = {"feature": {"feature": "billing-faq"}, "key": {"key": "key_2"}, "user": {"user": "user-8"}}
    assert await budgets.reserve(limits, ask(usd=0.25, tokens=250, **other[scope]))


async def test_the_largest_window_breached_is_named_so_retry_after_is_the_real_wait(
    budgets: Budgets, clock: FakeClock
) -> None:
    limits = Limits(
        feature=ScopeLimits(requests_per_minute=1), user=ScopeLimits(usd_per_day=1.0, usd_per_month=5.0)
    )
    await budgets.reserve(limits, ask(usd=1.0))
    err = await refused(budgets, limits, ask(usd=0.5))
    assert err.breach.budget == "user.usd_per_day"
    assert err.breach.retry_after_s == math.ceil(RESETS["day"] - clock.now)


async def test_a_request_larger_than_the_limit_itself_is_told_waiting_cannot_help(budgets: Budgets) -> None:
    limits = Limits(user=ScopeLimits(tokens_per_minute=1000))
    err = await refused(budgets, limits, ask(tokens=1001))
    assert err.breach.retry_after_s is None and err.headers() == []
    assert "larger than the limit" in err.message


async def test_a_refused_request_holds_nothing(budgets: Budgets) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0, requests_per_minute=100))
    await budgets.reserve(limits, ask(usd=0.75))
    await refused(budgets, limits, ask(usd=0.5))
    assert await budgets.reserve(limits, ask(usd=0.25))


async def test_requests_without_a_key_or_user_skip_those_budgets(budgets: Budgets) -> None:
    limits = Limits(key=ScopeLimits(requests_per_minute=1), user=ScopeLimits(requests_per_minute=1))
    for _ in range(3):
        await budgets.reserve(limits, ask(key=None, user=None))


# --- per-request limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fits", "too_big", "unit"),
    [
        ("max_input_tokens", Ask("f", None, None, 100, 5, 0.0), Ask("f", None, None, 101, 5, 0.0), "tokens"),
        ("max_output_tokens", Ask("f", None, None, 5, 100, 0.0), Ask("f", None, None, 5, 101, 0.0), "tokens"),
        ("max_cost_usd", Ask("f", None, None, 5, 5, 0.01), Ask("f", None, None, 5, 5, 0.010000001), "usd"),
    ],
)
async def test_per_request_limits_refuse_just_past_their_value(
    budgets: Budgets, name: str, fits: Ask, too_big: Ask, unit: str
) -> None:
    limits = Limits(**{name: 0.01 if unit == "usd" else 100})  # type: ignore[arg-type]
    assert await budgets.reserve(limits, fits)
    err = await refused(budgets, limits, too_big)
    b = err.breach
    assert (b.budget, b.window, b.unit, b.resets_at, b.retry_after_s) == (name, "request", unit, None, None)
    assert b.limit == (0.01 if unit == "usd" else 100)
    assert b.requested == (0.010000001 if unit == "usd" else 101)
    assert err.code == "request_too_large" and err.headers() == []
    assert name in err.message and "smaller request" in err.message


# --- windows roll over on the UTC calendar -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "last_moment", "next_window"),
    [
        ("usd_per_day", "2025-01-31T23:59:59.999", "2025-02-01T00:00:00"),
        ("usd_per_month", "2024-12-31T23:59:59.999", "2025-01-01T00:00:00"),
        ("usd_per_month", "2024-02-29T23:59:59.999", "2024-03-01T00:00:00"),
    ],
)
async def test_day_and_month_budgets_reset_at_utc_midnight_and_on_the_first(
    budgets: Budgets, clock: FakeClock, name: str, last_moment: str, next_window: str
) -> None:
    limits = Limits(feature=ScopeLimits(**{name: 1.0}))  # type: ignore[arg-type]
    clock.set(last_moment[:10] + "T00:00:00")  # start of the last day of the window
    await budgets.settle(await budgets.reserve(limits, ask(usd=1.0)), Usage(1.0, 0, 0))
    clock.set(last_moment)
    err = await refused(budgets, limits, ask(usd=0.01))
    assert err.breach.resets_at == ts(next_window) and err.breach.retry_after_s == 1
    clock.set(next_window)
    assert await budgets.reserve(limits, ask(usd=1.0))


async def test_minute_limits_are_fixed_clock_minutes(budgets: Budgets, clock: FakeClock) -> None:
    limits = Limits(user=ScopeLimits(requests_per_minute=2))
    clock.set("2025-03-14T15:09:00")
    await budgets.reserve(limits, ask())
    clock.set("2025-03-14T15:09:59.5")
    await budgets.reserve(limits, ask())
    err = await refused(budgets, limits, ask())
    assert err.breach.resets_at == ts("2025-03-14T15:10:00") and err.breach.retry_after_s == 1
    clock.set("2025-03-14T15:10:00")
    await budgets.reserve(limits, ask())
    await budgets.reserve(limits, ask())


async def test_spend_counts_in_the_day_the_request_started(budgets: Budgets, clock: FakeClock) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0))
    clock.set("2025-03-14T23:59:59")
    reservation = await budgets.reserve(limits, ask(usd=1.0))
    clock.set("2025-03-15T00:00:05")
    await budgets.settle(reservation, Usage(1.0, 0, 0))
    assert await budgets.reserve(limits, ask(usd=1.0))


# --- settle, release, TTL ----------------------------------------------------------------------


async def test_settle_replaces_the_estimate_with_the_actual_cost(budgets: Budgets) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0, tokens_per_day=10_000))
    reservation = await budgets.reserve(limits, ask(usd=0.9, tokens=4000))
    await budgets.settle(reservation, Usage(0.25, 1000, 200))
    err = await refused(budgets, limits, ask(usd=0.76))
    assert (err.breach.spent, err.breach.reserved) == (0.25, 0.0)
    err = await refused(budgets, limits, ask(tokens=8801))
    assert (err.breach.spent, err.breach.reserved) == (1200, 0)


async def test_release_gives_the_reservation_back_and_only_once(budgets: Budgets) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0))
    first = await budgets.reserve(limits, ask(usd=0.6))
    await budgets.release(first)
    await budgets.release(first)  # a second release (a finally block) changes nothing
    second = await budgets.reserve(limits, ask(usd=0.6))
    err = await refused(budgets, limits, ask(usd=0.6))
    assert err.breach.reserved == 0.6
    await budgets.settle(second, Usage(0.6, 0, 0))
    await budgets.release(second)  # release after settle is a no-op, the spend stays
    assert (await refused(budgets, limits, ask(usd=0.6))).breach.spent == 0.6


async def test_a_reservation_is_settled_once(budgets: Budgets) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0))
    reservation = await budgets.reserve(limits, ask(usd=0.1))
    await budgets.settle(reservation, Usage(0.1, 0, 0))
    with pytest.raises(ValueError, match="already settled"):
        await budgets.settle(reservation, Usage(0.1, 0, 0))


async def test_an_unsettled_reservation_stops_counting_after_its_ttl(
    budgets: Budgets, clock: FakeClock
) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0))
    forgotten = await budgets.reserve(limits, ask(usd=1.0), ttl_s=30)
    assert forgotten.expires_at == clock.now + 30
    clock.advance(29.9)
    assert (await refused(budgets, limits, ask(usd=0.5))).breach.reserved == 1.0
    clock.advance(0.1)
    late = await budgets.reserve(limits, ask(usd=0.5))
    # A settle after expiry still records the spend, without giving back a hold twice.
    await budgets.settle(forgotten, Usage(0.3, 0, 0))
    err = await refused(budgets, limits, ask(usd=0.3))
    assert (err.breach.spent, err.breach.reserved) == (0.3, 0.5)
    await budgets.release(late)
    assert await budgets.reserve(limits, ask(usd=0.7))


async def test_the_default_ttl_is_the_engines(budgets: Budgets, clock: FakeClock) -> None:
    limits = Limits(feature=ScopeLimits(requests_per_minute=1))
    reservation = await budgets.reserve(limits, ask())
    assert reservation.expires_at == clock.now + budgets.reservation_ttl_s == clock.now + 300


# --- alerts ------------------------------------------------------------------------------------


async def test_an_alert_fires_once_per_budget_and_window(budgets: Budgets, clock: FakeClock) -> None:
    limits = Limits(
        feature=ScopeLimits(usd_per_day=1.0, requests_per_minute=1000),
        user=ScopeLimits(tokens_per_month=1000),
        alert_at_fraction=0.8,
    )

    async def spend(usd: float, tokens: int = 0) -> list[tuple[str, float]]:
        reservation = await budgets.reserve(limits, ask(usd=usd, tokens=tokens))
        alerts = await budgets.settle(reservation, Usage(usd, tokens, 0))
        return [(a.budget, a.spent) for a in alerts]

    assert await spend(0.5, 100) == []
    assert await spend(0.3, 699) == [("feature.usd_per_day", 0.8)]
    assert await spend(0.1, 1) == [("user.tokens_per_month", 800)]
    assert await spend(0.05, 100) == []
    clock.set("2025-03-15T08:00:00")  # a new day: the daily budget may alert again, the monthly not
    assert await spend(0.9) == [("feature.usd_per_day", 0.9)]


async def test_an_alert_says_which_window_it_is_about(budgets: Budgets) -> None:
    limits = Limits(key=ScopeLimits(usd_per_month=10.0), alert_at_fraction=0.5)
    reservation = await budgets.reserve(limits, ask(usd=6.0))
    [alert] = await budgets.settle(reservation, Usage(6.0, 0, 0))
    assert (alert.scope, alert.subject, alert.window, alert.window_id, alert.unit) == (
        "key",
        "key_1",
        "month",
        "2025-03",
        "usd",
    )
    assert (alert.limit, alert.fraction, alert.resets_at) == (10.0, 0.5, RESETS["month"])


async def test_releases_and_reservations_never_alert(budgets: Budgets) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0), alert_at_fraction=0.5)
    reservation = await budgets.reserve(limits, ask(usd=0.9))
    await budgets.release(reservation)
    assert await budgets.settle(await budgets.reserve(limits, ask(usd=0.9)), Usage(0.4, 0, 0)) == ()


# --- concurrency in one process ----------------------------------------------------------------


async def test_concurrent_requests_never_push_a_budget_over(budgets: Budgets) -> None:
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0), alert_at_fraction=0.5)
    rng = random.Random(7)
    settled: list[float] = []
    refusals: list[str] = []
    alerts: list[str] = []

    async def one() -> None:
        max_cost = rng.uniform(0.005, 0.05)
        try:
            reservation = await budgets.reserve(limits, ask(usd=max_cost))
        except BudgetExceeded as exc:
            refusals.append(exc.breach.budget)
            return
        await asyncio.sleep(rng.uniform(0, 0.002))
        cost = rng.uniform(0.5, 1.0) * max_cost
        alerts.extend(a.budget for a in await budgets.settle(reservation, Usage(cost, 0, 0)))
        settled.append(cost)

    await asyncio.gather(*(one() for _ in range(300)))
    assert refusals and settled
    assert set(refusals) == {"feature.usd_per_day"}
    assert sum(settled) <= 1.0
    assert alerts == ["feature.usd_per_day"]


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Limits(max_cost_usd=0), "max_cost_usd must be a positive number"),
        (lambda: Limits(max_output_tokens=1.5), "max_output_tokens must be a whole number"),  # type: ignore[arg-type]
        (lambda: ScopeLimits(usd_per_day=-1), "usd_per_day must be a positive number"),
        (lambda: ScopeLimits(tokens_per_day=float("inf")), "tokens_per_day must be a whole number"),  # type: ignore[arg-type]
        (lambda: Limits(alert_at_fraction=1.5), r"alert_at_fraction must be in \(0, 1\]"),
    ],
)
def test_limits_refuse_values_that_cannot_be_limits(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


def test_asks_and_usage_refuse_negative_amounts() -> None:
    with pytest.raises(ValueError, match="max_cost_usd"):
        Ask("f", None, None, 1, 1, -0.1)
    with pytest.raises(ValueError, match="token counts"):
        Usage(0.1, -1, 0)


def test_a_refusal_is_an_openai_style_request_error() -> None:
    assert issubclass(BudgetExceeded, RequestError) and BudgetExceeded.status == 429

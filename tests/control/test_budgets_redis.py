"""The Redis backend across processes, its keys, and what it does when Redis is gone."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from runwell.control.budgets import (
    Ask,
    BudgetExceeded,
    BudgetStoreUnavailable,
    Limits,
    RedisBudgets,
    ScopeLimits,
    Usage,
)
from runwell.errors import ConfigError
from tests.control.test_budgets import REDIS_URL, FakeClock, delete_prefix, new_prefix, ts

NOW = ts("2025-03-14T15:09:26.5")
HAMMER_LIMITS = Limits(feature=ScopeLimits(usd_per_day=1.0), alert_at_fraction=0.5)
MAX_COST = 0.05


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    value = new_prefix()
    yield value
    await delete_prefix(value)


def _ask(usd: float = 0.0) -> Ask:
    return Ask("support-reply", "key_1", "user-7", 10, 10, usd)


# --- two processes share one budget ------------------------------------------------------------


async def _hammer_async(prefix: str, seed: int, requests: int) -> dict[str, Any]:
    budgets = RedisBudgets(REDIS_URL, prefix=prefix, clock=lambda: NOW, timeout_s=2.0)
    rng = random.Random(seed)
    result: dict[str, Any] = {"settled": [], "refusals": [], "alerts": []}
    gate = asyncio.Semaphore(16)

    async def one() -> None:
        async with gate:
            max_cost = rng.uniform(0.001, MAX_COST)
            try:
                reservation = await budgets.reserve(HAMMER_LIMITS, _ask(max_cost))
            except BudgetExceeded as exc:
                result["refusals"].append(exc.breach.budget)
                return
            await asyncio.sleep(rng.uniform(0, 0.003))
            cost = rng.uniform(0.3, 1.0) * max_cost
            alerts = await budgets.settle(reservation, Usage(cost, 10, 5))
            result["alerts"].extend(a.budget for a in alerts)
            result["settled"].append(cost)

    try:
        await asyncio.gather(*(one() for _ in range(requests)))
    finally:
        await budgets.aclose()
    return result


def _hammer(prefix: str, seed: int, requests: int, start: Any, out: Any) -> None:
    """One OS process: wait for the other, then send ``requests`` requests at the shared budget."""
    start.wait()
    out.put(asyncio.run(_hammer_async(prefix, seed, requests)))


@pytest.mark.slow
async def test_two_processes_never_push_a_shared_budget_over(prefix: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    out = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(prefix, seed, 200, start, out)) for seed in (1, 2)]
    for proc in procs:
        proc.start()
    results = [await asyncio.to_thread(out.get, True, 120) for _ in procs]
    for proc in procs:
        await asyncio.to_thread(proc.join, 30)
        assert proc.exitcode == 0

    settled = [cost for r in results for cost in r["settled"]]
    refusals = [name for r in results for name in r["refusals"]]
    alerts = [name for r in results for name in r["alerts"]]
    # Both processes ran all their requests; which one spent the budget depends on scheduling (on
    # a loaded machine one may start late and find it gone), so only the sum is asserted on.
    assert all(len(r["settled"]) + len(r["refusals"]) == 200 for r in results)
    assert settled and refusals
    assert len(settled) + len(refusals) == 400
    assert sum(settled) <= 1.0 + MAX_COST  # the bound the engine promises...
    assert sum(settled) <= 1.0  # ...and, as no request cost more than its estimate, no overshoot at all
    assert set(refusals) == {"feature.usd_per_day"}
    assert alerts == ["feature.usd_per_day"]  # once, across both processes
    # The store agrees with what the processes settled.
    budgets = RedisBudgets(REDIS_URL, prefix=prefix, clock=lambda: NOW)
    try:
        with pytest.raises(BudgetExceeded) as caught:
            await budgets.reserve(HAMMER_LIMITS, _ask(1.0))
    finally:
        await budgets.aclose()
    assert caught.value.breach.spent == pytest.approx(sum(settled), abs=1e-9 * len(settled))
    assert caught.value.breach.reserved == 0


async def test_many_connections_at_once_wait_for_the_pool_instead_of_failing(prefix: str) -> None:
    budgets = RedisBudgets(REDIS_URL, prefix=prefix, clock=lambda: NOW, max_connections=4, timeout_s=2.0)
    limits = Limits(feature=ScopeLimits(requests_per_minute=1000))
    try:
        granted = await asyncio.gather(*(budgets.reserve(limits, _ask()) for _ in range(200)))
    finally:
        await budgets.aclose()
    assert len({r.id for r in granted}) == 200


# --- keys --------------------------------------------------------------------------------------


async def test_every_key_expires_a_minute_after_its_window(prefix: str) -> None:
    clock = FakeClock("2025-03-14T23:59:00")
    budgets = RedisBudgets(REDIS_URL, prefix=prefix, clock=clock)
    limits = Limits(
        feature=ScopeLimits(usd_per_day=1.0, usd_per_month=5.0), user=ScopeLimits(requests_per_minute=5)
    )
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await budgets.settle(await budgets.reserve(limits, _ask(0.1)), Usage(0.1, 1, 1))
        await budgets.reserve(limits, _ask(0.1))  # still held: its set of reservations exists too
        ttls = {
            key.decode().removeprefix(prefix): await client.pttl(key)
            async for key in client.scan_iter(match=f"{prefix}*")
        }
    finally:
        await client.aclose()
        await budgets.aclose()
    windows = {"day": 60 + 60, "month": 17 * 86400 + 60 + 60, "minute": 60 + 60}
    assert len(ttls) == 6  # a hash and a set per counter
    for key, ttl_ms in ttls.items():
        window = key.split(":")[2]
        assert windows[window] * 1000 - 2000 <= ttl_ms <= windows[window] * 1000, key


# --- Redis unavailable -------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung or partitioned Redis)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


LIMITS = Limits(max_output_tokens=100, feature=ScopeLimits(usd_per_day=1.0))


async def test_a_closed_port_fails_fast_with_a_distinct_error() -> None:
    budgets = RedisBudgets(f"redis://:secret@127.0.0.1:{_closed_port()}/0", timeout_s=0.1)
    try:
        started = time.perf_counter()
        with pytest.raises(BudgetStoreUnavailable) as caught:
            await budgets.reserve(LIMITS, _ask(0.1))
        assert time.perf_counter() - started < 0.5
    finally:
        await budgets.aclose()
    assert "Redis at redis://:***@127.0.0.1" in str(caught.value)
    assert "secret" not in str(caught.value)


async def test_a_redis_that_never_answers_costs_one_timeout_then_fails_at_once(silent_server: int) -> None:
    budgets = RedisBudgets(f"redis://127.0.0.1:{silent_server}/0", timeout_s=0.1, cooldown_s=5.0)
    try:
        started = time.perf_counter()
        with pytest.raises(BudgetStoreUnavailable, match="did not answer"):
            await budgets.reserve(LIMITS, _ask(0.1))
        first = time.perf_counter() - started
        started = time.perf_counter()
        with pytest.raises(BudgetStoreUnavailable, match="failed moments ago"):
            await budgets.reserve(LIMITS, _ask(0.1))
        second = time.perf_counter() - started
    finally:
        await budgets.aclose()
    assert 0.09 <= first < 0.6
    assert second < 0.09  # less than one timeout: it did not wait on the silent server again


async def test_per_request_limits_and_unlimited_features_need_no_store() -> None:
    budgets = RedisBudgets(f"redis://127.0.0.1:{_closed_port()}/0", timeout_s=0.1)
    try:
        with pytest.raises(BudgetExceeded) as caught:
            await budgets.reserve(LIMITS, Ask("support-reply", None, None, 10, 101, 0.1))
        assert caught.value.breach.budget == "max_output_tokens"
        unlimited = await budgets.reserve(Limits(max_output_tokens=100), _ask(0.1))
        assert await budgets.settle(unlimited, Usage(0.1, 1, 1)) == ()
    finally:
        await budgets.aclose()


def test_a_url_that_is_not_redis_is_a_config_error_without_its_password() -> None:
    with pytest.raises(ConfigError, match=r"'http://ops:\*\*\*@cache:6379/0' is not a Redis URL") as caught:
        RedisBudgets("http://ops:hunter2@cache:6379/0")
    assert "hunter2" not in str(caught.value)

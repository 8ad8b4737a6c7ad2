"""Breakers shared between replicas through a real Redis, and kept local when Redis fails."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from runwell.resilience import BreakerRegistry, BreakerSettings, BreakerState, Transition
from tests.resilience.conftest import REDIS_URL, FakeClock

SETTINGS = BreakerSettings(window=10, min_calls=5, failure_rate=0.5, open_s=30.0, half_open_calls=2)


def registry(
    clock: FakeClock,
    client: aioredis.Redis | None,
    prefix: str,
    name: str,
    events: list[Transition] | None = None,
) -> BreakerRegistry:
    return BreakerRegistry(
        SETTINGS,
        redis=client,
        prefix=prefix,
        instance_id=name,
        clock=clock,
        wall=clock.wall,
        on_transition=None if events is None else events.append,
    )


def trip(reg: BreakerRegistry, provider: str = "openai", model: str = "gpt-4o") -> None:
    breaker = reg.get(provider, model)
    for _ in range(SETTINGS.min_calls):
        breaker.record(False)
    assert breaker.state is BreakerState.OPEN


async def test_an_opening_reaches_the_other_replica_at_its_next_sync(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str
) -> None:
    events_b: list[Transition] = []
    a = registry(clock, redis_client, prefix, "replica-a")
    b = registry(clock, redis_client, prefix, "replica-b", events_b)
    breaker_b = b.get("openai", "gpt-4o")
    trip(a)
    assert await b.sync()
    assert breaker_b.allow()  # nothing written yet: A writes at its own sync, off the request path
    assert await a.sync()
    assert await b.sync()
    assert not breaker_b.allow()
    snap = breaker_b.snapshot()
    assert snap.state is BreakerState.OPEN
    assert snap.open_until == pytest.approx(clock.wall() + 30.0)
    assert snap.reason.startswith("opened by replica-a: failure rate 100%")
    assert [(e.to_state, e.remote) for e in events_b] == [(BreakerState.OPEN, True)]
    # Each replica then recovers on its own trials.
    clock.advance(30.0)
    assert breaker_b.allow()
    assert breaker_b.state is BreakerState.HALF_OPEN
    assert await b.sync()
    assert breaker_b.state is BreakerState.HALF_OPEN  # the expired opening is not adopted again


async def test_a_replica_never_readopts_its_own_opening(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str
) -> None:
    events: list[Transition] = []
    a = registry(clock, redis_client, prefix, "replica-a", events)
    trip(a)
    for _ in range(3):
        assert await a.sync()
    assert [e.to_state for e in events] == [BreakerState.OPEN]


async def test_a_breaker_created_after_the_opening_learns_it(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str
) -> None:
    a = registry(clock, redis_client, prefix, "replica-a")
    trip(a)
    await a.sync()
    clock.advance(5.0)
    late = registry(clock, redis_client, prefix, "replica-late")
    breaker = late.get("openai", "gpt-4o")
    assert await late.sync()
    assert breaker.state is BreakerState.OPEN
    assert breaker.snapshot().open_until == pytest.approx(clock.wall() + 25.0)


async def test_breakers_of_other_models_are_untouched(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str
) -> None:
    a = registry(clock, redis_client, prefix, "replica-a")
    b = registry(clock, redis_client, prefix, "replica-b")
    other = b.get("openai", "gpt-4o-mini")
    b.get("openai", "gpt-4o")
    trip(a)
    await a.sync()
    await b.sync()
    assert other.state is BreakerState.CLOSED
    assert [s.state for s in b.snapshot()] == [BreakerState.OPEN, BreakerState.CLOSED]


async def test_operator_states_apply_on_every_replica_and_reset_lifts_them(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str
) -> None:
    a = registry(clock, redis_client, prefix, "replica-a")
    b = registry(clock, redis_client, prefix, "replica-b")
    breaker_b = b.get("anthropic", "claude")
    a.force_open("anthropic", "claude", "INC-7: vendor outage")
    assert not a.get("anthropic", "claude").allow()
    await a.sync()
    await b.sync()
    assert breaker_b.state is BreakerState.FORCED_OPEN
    assert breaker_b.snapshot().reason == "forced_open by replica-a: INC-7: vendor outage"
    clock.advance(3600)
    await b.sync()
    assert not breaker_b.allow()
    a.disable("anthropic", "claude", "breaker flapping")
    await a.sync()
    await b.sync()
    assert breaker_b.state is BreakerState.DISABLED
    a.reset("anthropic", "claude", "vendor recovered")
    await a.sync()
    await b.sync()
    assert breaker_b.state is BreakerState.CLOSED
    assert breaker_b.allow()


async def test_a_reset_closes_a_natural_opening_everywhere_and_stops_it_spreading(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str
) -> None:
    a = registry(clock, redis_client, prefix, "replica-a")
    b = registry(clock, redis_client, prefix, "replica-b")
    breaker_b = b.get("openai", "gpt-4o")
    trip(a)
    await a.sync()
    await b.sync()
    assert breaker_b.state is BreakerState.OPEN
    clock.advance(1.0)
    a.reset("openai", "gpt-4o", "false alarm")
    await a.sync()
    await b.sync()
    assert breaker_b.state is BreakerState.CLOSED
    assert breaker_b.snapshot().reason == "reset by replica-a: false alarm"
    late = registry(clock, redis_client, prefix, "replica-late")
    breaker_late = late.get("openai", "gpt-4o")
    await late.sync()
    assert breaker_late.state is BreakerState.CLOSED


async def test_an_operator_change_queued_during_a_sync_is_not_undone_by_it(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str
) -> None:
    a = registry(clock, redis_client, prefix, "replica-a")
    breaker = a.get("openai", "gpt-4o")
    await a.sync()
    sync = asyncio.create_task(a.sync())
    await asyncio.sleep(0)  # the sync is now waiting on Redis
    a.force_open("openai", "gpt-4o", "now")
    assert await sync
    assert breaker.state is BreakerState.FORCED_OPEN
    assert await a.sync()
    assert breaker.state is BreakerState.FORCED_OPEN


async def test_a_malformed_shared_state_is_ignored(
    clock: FakeClock, redis_client: aioredis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    b = registry(clock, redis_client, prefix, "replica-b")
    breaker = b.get("openai", "gpt-4o")
    await redis_client.set(f"{prefix}breaker:openai/gpt-4o", b"{not json")
    await redis_client.set(f"{prefix}breaker-op:openai/gpt-4o", b'{"state": "sideways", "at": 1}')
    with caplog.at_level(logging.WARNING, logger="runwell.resilience"):
        assert await b.sync()
    assert breaker.state is BreakerState.CLOSED
    assert caplog.text.count("malformed shared breaker state") == 2


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_with_redis_down_breakers_keep_working_locally(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=_dead_port(), socket_connect_timeout=0.5)
    try:
        reg = BreakerRegistry(
            SETTINGS, redis=client, prefix="runwell-test:", clock=clock, wall=clock.wall, redis_timeout_s=0.2
        )
        breaker = reg.get("openai", "gpt-4o")
        with caplog.at_level(logging.WARNING, logger="runwell.resilience"):
            assert not await reg.sync()
            trip(reg)
            assert not await reg.sync()
        assert not breaker.allow()
        clock.advance(30.0)
        assert breaker.allow() and breaker.allow()
        breaker.record(True)
        breaker.record(True)
        assert breaker.state is BreakerState.CLOSED
        status = reg.sharing_status()
        assert status["configured"] is True and status["ok"] is False
        # redis-py retries a refused connection, so the sync's own time limit ends it.
        assert status["error"] == "no answer within 0.2s" or "ConnectionError" in status["error"]
        assert caplog.text.count("cannot share breaker states through Redis") == 1  # once per outage
    finally:
        await client.aclose()


async def test_a_redis_that_never_answers_cannot_stall_the_sync(clock: FakeClock) -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept the connection, never reply
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        reg = BreakerRegistry(SETTINGS, redis=client, prefix="x:", redis_timeout_s=0.2)
        reg.get("openai", "gpt-4o")
        started = time.perf_counter()
        assert not await reg.sync()
        assert time.perf_counter() - started < 1.0
        assert reg.sharing_status()["error"] == "no answer within 0.2s"
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


class FlakyRedis(aioredis.Redis):
    """A real client that fails every command while ``down`` is set."""

    down = False

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise RedisConnectionError("simulated outage")
        return super().pipeline(*args, **kwargs)

    async def mget(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise RedisConnectionError("simulated outage")
        return await super().mget(*args, **kwargs)


@pytest.fixture
async def flaky() -> AsyncIterator[FlakyRedis]:
    client = FlakyRedis(host="127.0.0.1", port=6379)
    yield client
    await client.aclose()


async def test_an_opening_during_an_outage_is_shared_once_redis_answers(
    clock: FakeClock, flaky: FlakyRedis, redis_client: aioredis.Redis, prefix: str
) -> None:
    a = registry(clock, flaky, prefix, "replica-a")
    b = registry(clock, redis_client, prefix, "replica-b")
    breaker_b = b.get("openai", "gpt-4o")
    flaky.down = True
    trip(a)
    assert not await a.sync()
    flaky.down = False
    clock.advance(2.0)
    assert await a.sync()
    assert a.sharing_status()["ok"] is True
    await b.sync()
    assert breaker_b.state is BreakerState.OPEN
    assert breaker_b.snapshot().open_until == pytest.approx(clock.wall() + 28.0)


async def test_an_opening_over_before_redis_came_back_is_not_shared(
    clock: FakeClock, flaky: FlakyRedis, redis_client: aioredis.Redis, prefix: str
) -> None:
    a = registry(clock, flaky, prefix, "replica-a")
    b = registry(clock, redis_client, prefix, "replica-b")
    breaker_b = b.get("openai", "gpt-4o")
    flaky.down = True
    trip(a)
    assert not await a.sync()
    flaky.down = False
    clock.advance(31.0)
    assert await a.sync()
    await b.sync()
    assert breaker_b.state is BreakerState.CLOSED
    assert await redis_client.get(f"{prefix}breaker:openai/gpt-4o") is None


def test_without_redis_the_registry_is_local() -> None:
    reg = BreakerRegistry(SETTINGS)
    assert reg.get("p", "m") is reg.get("p", "m")
    assert not asyncio.run(reg.sync())
    assert reg.sharing_status() == {"configured": False, "ok": None, "last_sync_at": None, "error": None}


_OTHER_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    import redis.asyncio as aioredis
    from runwell.resilience import BreakerRegistry, BreakerSettings

    async def main() -> None:
        client = aioredis.Redis.from_url(sys.argv[1])
        reg = BreakerRegistry(BreakerSettings(min_calls=5, window=10), redis=client, prefix=sys.argv[2],
                              instance_id="other-process")
        breaker = reg.get("openai", "gpt-4o")
        for _ in range(5):
            breaker.record(False)
        ok = await reg.sync()
        await client.aclose()
        print(breaker.state.value, ok)

    asyncio.run(main())
    """
)


async def test_two_processes_share_an_opening_through_redis(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    reg = BreakerRegistry(SETTINGS, redis=redis_client, prefix=prefix, instance_id="this-process")
    breaker = reg.get("openai", "gpt-4o")
    assert await reg.sync()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OTHER_PROCESS, REDIS_URL, prefix, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert out.decode().split() == ["open", "True"]
    assert breaker.allow()
    assert await reg.sync()
    assert not breaker.allow()
    snap = breaker.snapshot()
    assert snap.state is BreakerState.OPEN
    assert snap.reason.startswith("opened by other-process:")
    assert snap.open_until is not None and 25.0 < snap.open_until - time.time() <= 30.5

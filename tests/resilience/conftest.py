"""A clock the tests move by hand, and real Redis under a key prefix of each test's own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    """Monotonic and wall clocks that move together, only when a test says so."""

    def __init__(self, wall: float = 1_763_800_000.0) -> None:
        self.mono = 1_000.0
        self.offset = wall - self.mono

    def __call__(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.mono + self.offset

    def advance(self, seconds: float) -> None:
        self.mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL, socket_timeout=2.0)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (start redis-server): {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    value = f"runwell-test:{secrets.token_hex(6)}:"
    yield value
    keys = [key async for key in redis_client.scan_iter(match=f"{value}*")]
    if keys:
        await redis_client.delete(*keys)

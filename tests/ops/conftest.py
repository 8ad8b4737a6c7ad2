"""Fixtures of the paging tests: live local receivers and a fake clock that never sleeps."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator

import pytest

from runwell.ops.notify import Retrier, new_secret
from runwell.testing.receivers import PagerDutyReceiver, SlackReceiver, SmtpReceiver, WebhookReceiver

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
assert len(ROUTING_KEY) == 32


class FakeTime:
    """A wall clock that moves only when something sleeps; remembers every sleep."""

    def __init__(self, start: float = 1_774_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def retrier(fake_time: FakeTime) -> Retrier:
    """Four attempts, backoff 1 s doubling, on the fake clock (seeded jitter)."""
    return Retrier(attempts=4, sleep=fake_time.sleep, clock=fake_time.time, rng=random.Random(7))


@pytest.fixture
async def pagerduty(fake_time: FakeTime) -> AsyncIterator[PagerDutyReceiver]:
    async with PagerDutyReceiver(clock=fake_time.time) as receiver:
        yield receiver


@pytest.fixture
async def slack() -> AsyncIterator[SlackReceiver]:
    async with SlackReceiver() as receiver:
        yield receiver


@pytest.fixture
def webhook_secret() -> str:
    return new_secret().reveal()


@pytest.fixture
async def webhook(webhook_secret: str, fake_time: FakeTime) -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(webhook_secret, clock=fake_time.time) as receiver:
        yield receiver


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpReceiver]:
    async with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

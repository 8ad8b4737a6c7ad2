"""Fixtures of the provider tests: a live mock upstream and short timeouts."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from runwell.providers import Timeouts
from runwell.testing.mock_upstream import MockUpstream


@pytest.fixture
async def upstream() -> AsyncIterator[MockUpstream]:
    """A mock OpenAI/Anthropic server on a free loopback port."""
    async with MockUpstream() as server:
        yield server


@pytest.fixture
def timeouts() -> Timeouts:
    return Timeouts(connect_s=2.0, request_s=10.0)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port

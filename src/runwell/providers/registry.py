"""Build a provider adapter from its typed spec configuration.

Each adapter module is imported only when a provider of its kind is built, so a gateway that
serves only OpenAI-compatible upstreams never imports xllamacpp, and importing
``runwell.providers`` stays cheap.

Timeouts: ``connect_s`` bounds establishing a connection on every HTTP call; ``request_s`` is the
ceiling of one whole call, including a complete stream. The ``timeout`` a caller passes to
``complete`` can only tighten that ceiling; the one passed to ``stream`` bounds the wait for the
first chunk and between chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from runwell.errors import ConfigError
from runwell.spec.providers import (
    AnthropicProviderConfig,
    LocalProviderConfig,
    OpenAIProviderConfig,
    SimProviderConfig,
)

if TYPE_CHECKING:
    from runwell.providers.base import Provider

__all__ = ["TimeoutSettings", "Timeouts", "build_provider"]


class TimeoutSettings(Protocol):
    """Anything with the two timeouts an adapter needs (a settings object, :class:`Timeouts`)."""

    @property
    def connect_s(self) -> float: ...

    @property
    def request_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Plain :class:`TimeoutSettings` for callers without a settings object (tests, scripts)."""

    connect_s: float = 5.0
    request_s: float = 120.0


def build_provider(
    name: str,
    config: OpenAIProviderConfig | AnthropicProviderConfig | LocalProviderConfig | SimProviderConfig,
    *,
    timeouts: TimeoutSettings,
    clock: Callable[[], float] = time.monotonic,
) -> Provider:
    """Return a new, unconnected adapter for ``config``; it opens connections on first use.

    ``name`` is the provider's name in the spec (it appears in every error). ``clock`` only
    matters to ``sim``, whose outage windows count seconds from construction.
    """
    if isinstance(config, OpenAIProviderConfig):
        from runwell.providers.openai import OpenAIProvider

        return OpenAIProvider(name, config, timeouts=timeouts)
    if isinstance(config, AnthropicProviderConfig):
        from runwell.providers.anthropic import AnthropicProvider

        return AnthropicProvider(name, config, timeouts=timeouts)
    if isinstance(config, LocalProviderConfig):
        from runwell.providers.local import LocalProvider

        return LocalProvider(name, config)
    if isinstance(config, SimProviderConfig):
        from runwell.providers.sim import SimProvider

        return SimProvider(name, config, clock=clock)
    raise ConfigError(
        f"provider {name!r}: unsupported configuration {type(config).__name__}; "
        "use one of the kinds openai, anthropic, local, sim"
    )

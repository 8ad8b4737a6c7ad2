"""build_provider: one lazy factory per kind, and the pinned public API of runwell.providers."""

from __future__ import annotations

import subprocess
import sys

import pytest

import runwell.providers
from runwell.providers import Provider, Timeouts, build_provider
from runwell.spec.providers import (
    AnthropicProviderConfig,
    LocalProviderConfig,
    OpenAIProviderConfig,
    SimProviderConfig,
)


def test_public_api_is_pinned() -> None:
    assert sorted(runwell.providers.__all__) == [
        "ChatChunk",
        "ChatRequest",
        "ChatResult",
        "Provider",
        "TimeoutSettings",
        "Timeouts",
        "Usage",
        "build_provider",
    ]


@pytest.mark.parametrize(
    ("config", "kind"),
    [
        (OpenAIProviderConfig(kind="openai", api_key_env=None), "openai"),
        (AnthropicProviderConfig(kind="anthropic", api_key_env=None), "anthropic"),
        (LocalProviderConfig(kind="local"), "local"),
        (SimProviderConfig(kind="sim"), "sim"),
    ],
)
async def test_each_kind_builds_its_adapter(config: object, kind: str) -> None:
    provider = build_provider("p1", config, timeouts=Timeouts())  # type: ignore[arg-type]
    try:
        assert isinstance(provider, Provider)
        assert (provider.name, provider.kind) == ("p1", kind)
    finally:
        await provider.aclose()


def test_adapters_are_imported_only_when_built() -> None:
    code = (
        "import sys\n"
        "from runwell.providers import Timeouts, build_provider\n"
        "from runwell.spec.providers import OpenAIProviderConfig\n"
        "assert 'aiohttp' not in sys.modules\n"
        "build_provider('a', OpenAIProviderConfig(kind='openai'), timeouts=Timeouts())\n"
        "assert 'runwell.providers.openai' in sys.modules\n"
        "assert 'runwell.providers.local' not in sys.modules\n"
        "assert 'xllamacpp' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

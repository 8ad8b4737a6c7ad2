"""The one interface every model provider implements, and the shapes that cross it.

Messages and parameters use OpenAI's chat-completions vocabulary on both sides of the seam;
each adapter maps to and from its own wire format. A provider raises
:class:`runwell.errors.ProviderError` (or ``ProviderTimeout``) for every upstream failure, never
a bare exception, so the gateway can always answer 502/504 naming the provider and cause.
A provider that cannot honour a request at all (``tools`` sent to a model that cannot call them)
raises ``ProviderError`` with ``error_class="unsupported_request"`` before any work, never drops
the part it cannot do; the gateway answers that with a 400.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["ChatChunk", "ChatRequest", "ChatResult", "Provider", "Usage"]


@dataclass(slots=True)
class ChatRequest:
    """A chat completion request after the gateway applied the variant's prompt template.

    ``params`` holds OpenAI generation parameters (``temperature``, ``max_tokens``, ``top_p``,
    ``stop``, ``seed``, ``response_format``, ...) already merged: variant defaults, then the
    client's values on top.
    """

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    user: str | None = None


@dataclass(slots=True)
class Usage:
    """Token counts as the upstream reported them; ``None`` when it did not report one."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(slots=True)
class ChatResult:
    """A whole (non-streamed) completion.

    ``tool_calls`` is OpenAI's ``message.tool_calls`` list (``id``, ``type: "function"``,
    ``function.name``, ``function.arguments`` as a JSON string), or None when the model called no
    tool; ``content`` is then often None. ``logprobs`` is the upstream choice's ``logprobs`` object
    as it came (OpenAI shape: ``{"content": [{"token", "logprob", "bytes", "top_logprobs"}, ...]}``),
    or None when the upstream sent none.
    """

    content: str | None
    finish_reason: str | None
    usage: Usage
    response_model: str
    tool_calls: list[dict[str, Any]] | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatChunk:
    """One streamed piece. The last chunk carries ``finish_reason``; ``usage`` may come on any
    chunk (usually the last) and, when several carry it, the latest wins.

    ``tool_calls`` holds OpenAI streaming tool-call deltas, forwarded to clients as
    ``delta.tool_calls``: ``{"index": i, "id": ..., "type": "function", "function": {"name": ...,
    "arguments": ""}}`` opens call ``i`` and later deltas ``{"index": i, "function": {"arguments":
    "<more json>"}}`` extend its arguments; parallel calls have distinct indices. ``logprobs`` is
    the chunk's choice ``logprobs`` object as the upstream sent it, or None.
    """

    content: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    response_model: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    logprobs: dict[str, Any] | None = None


@runtime_checkable
class Provider(Protocol):
    """A model backend. ``name`` is the provider's name in the spec, ``kind`` its adapter."""

    name: str
    kind: str

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        """Return the whole completion or raise ``ProviderError``/``ProviderTimeout``."""
        ...

    def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[ChatChunk]:
        """Yield chunks; raise ``ProviderError`` (``error_class='stream_cut'``) if the upstream
        stream ends without a finish. ``timeout`` bounds the wait for the first chunk and
        between chunks."""
        ...

    async def probe(self) -> None:
        """Cheap readiness check; raise ``ProviderError`` when the provider cannot serve."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and models."""
        ...

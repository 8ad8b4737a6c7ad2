"""Model providers behind one interface (:class:`Provider`), and the factory that builds them.

Adapters (``openai``, ``anthropic``, ``local``, ``sim``) live in their own modules and are
imported by :func:`build_provider` only when a provider of that kind is built.
"""

from runwell.providers.base import ChatChunk, ChatRequest, ChatResult, Provider, Usage
from runwell.providers.registry import Timeouts, TimeoutSettings, build_provider

__all__ = [
    "ChatChunk",
    "ChatRequest",
    "ChatResult",
    "Provider",
    "TimeoutSettings",
    "Timeouts",
    "Usage",
    "build_provider",
]

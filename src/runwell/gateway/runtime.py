"""What the gateway serves: features and their variants, resolved once at start-up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runwell.errors import NotFoundError
from runwell.providers.base import Provider

__all__ = ["Catalog", "FeatureRuntime", "PriceLookup", "VariantRuntime"]

Renderer = Callable[[list[dict[str, Any]], Mapping[str, str]], list[dict[str, Any]]]


class PriceLookup(Protocol):
    """Cost of a call in USD, or ``None`` when the model has no price."""

    def cost(
        self,
        model: str,
        input_tokens: int | None,
        output_tokens: int | None,
        cached_tokens: int | None = None,
    ) -> float | None: ...


@dataclass(frozen=True, slots=True)
class VariantRuntime:
    """One servable variant: its provider, upstream model, prompt template and default params."""

    name: str
    provider: Provider
    model: str
    params: Mapping[str, Any]
    render: Renderer
    prompt_version: str


@dataclass(frozen=True, slots=True)
class FeatureRuntime:
    """One feature, as its spec declared it."""

    name: str
    variants: Mapping[str, VariantRuntime]
    default_variant: str
    spec_version: str
    capture_content: bool
    prices: PriceLookup
    request_timeout_s: float
    guardrail_states: Mapping[str, str] = field(default_factory=dict)
    hash_user_ids: bool = False

    def variant(self, name: str | None) -> VariantRuntime:
        """The named variant, or the default one; 404 naming the known variants otherwise."""
        if name is None:
            return self.variants[self.default_variant]
        found = self.variants.get(name)
        if found is None:
            raise NotFoundError(
                f"feature {self.name!r} has no variant {name!r}; known: {', '.join(sorted(self.variants))}",
                param="model",
                code="model_not_found",
            )
        return found


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every feature the gateway serves, by name."""

    features: Mapping[str, FeatureRuntime]

    def feature(self, name: str) -> FeatureRuntime:
        """The named feature; 404 naming the served features otherwise."""
        found = self.features.get(name)
        if found is None:
            raise NotFoundError(
                f"no feature named {name!r}; this gateway serves: "
                f"{', '.join(sorted(self.features)) or '(none)'}",
                param="model",
                code="model_not_found",
            )
        return found

    def model_ids(self) -> list[str]:
        """Each feature and each ``feature@variant``, for ``GET /v1/models``."""
        ids: list[str] = []
        for name in sorted(self.features):
            ids.append(name)
            ids.extend(f"{name}@{v}" for v in sorted(self.features[name].variants))
        return ids

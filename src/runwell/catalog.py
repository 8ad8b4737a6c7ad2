"""What a project serves, resolved once from its specs: features, variants, providers and prices.

The gateway serves from a :class:`Catalog`, and the eval harness evaluates from the same one, so a
variant is evaluated exactly as it is served (same provider adapter, model, parameters, prompt
template and prices) without the eval harness depending on the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from runwell.errors import ConfigError, NotFoundError
from runwell.providers.base import Provider
from runwell.providers.registry import build_provider
from runwell.spec.loader import LoadedSpec
from runwell.telemetry.prices import Price, PriceTable

__all__ = ["Catalog", "FeatureRuntime", "PriceLookup", "Renderer", "VariantRuntime", "build_catalog"]

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
    fallback_render: Renderer | None = None
    """The ``fallback_prompt`` template, tried when an answer fails validation (semantic fallback)."""


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
    hash_user_ids: bool = False

    def providers(self) -> list[Provider]:
        """The distinct providers the feature's variants use, in variant order."""
        seen: dict[int, Provider] = {}
        for variant in self.variants.values():
            seen.setdefault(id(variant.provider), variant.provider)
        return list(seen.values())

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


def _feature(loaded: LoadedSpec, providers: Mapping[str, Provider]) -> FeatureRuntime:
    spec = loaded.spec
    overrides = {
        model: Price(input=p.input_per_mtok, output=p.output_per_mtok, cached_input=p.cached_input_per_mtok)
        for model, p in spec.prices.items()
    }
    variants = {
        name: VariantRuntime(
            name=name,
            provider=providers[variant.provider],
            model=variant.model,
            params=variant.params.to_request(),
            render=loaded.prompts[name].render,
            prompt_version=loaded.prompt_versions[name],
            fallback_render=loaded.fallback_prompts[name].render if name in loaded.fallback_prompts else None,
        )
        for name, variant in spec.variants.items()
    }
    return FeatureRuntime(
        name=loaded.name,
        variants=variants,
        default_variant=loaded.default_variant,
        spec_version=loaded.version,
        capture_content=spec.capture.content,
        prices=PriceTable(overrides),
        request_timeout_s=spec.timeouts.request_s,
        hash_user_ids=spec.user_id.hash,
    )


def build_catalog(specs: Sequence[LoadedSpec]) -> tuple[Catalog, list[Provider]]:
    """Features by name plus every provider instance they use (one per spec provider entry)."""
    features: dict[str, FeatureRuntime] = {}
    providers: list[Provider] = []
    for loaded in specs:
        if loaded.name in features:
            raise ConfigError(
                f"two specs define feature {loaded.name!r} ({loaded.path}); "
                "feature names must be unique per gateway"
            )
        used = {v.provider for v in loaded.spec.variants.values()}
        instances = {
            name: build_provider(name, cfg, timeouts=loaded.spec.timeouts)
            for name, cfg in loaded.spec.providers.items()
            if name in used
        }
        providers.extend(instances.values())
        features[loaded.name] = _feature(loaded, instances)
    return Catalog(features), providers

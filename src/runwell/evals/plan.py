"""From a loaded spec to what one eval run needs: the variant, the dataset and ready scorers.

Providers come from :func:`runwell.catalog.build_catalog`, the gateway's own wiring, so
the evaluated variant is built exactly as it serves. Suites are the spec's ``evals.suites``
(by name; the first one by default) or a built-in adversarial suite (``builtin:NAME``, scored
with ``{type: canary}``).

Two scorer options are resolved here, not in the scorer core:

- ``llm_judge``: ``judge: VARIANT`` (that variant's provider, model and parameters; its prompt
  template is not used, the judge prompt is the rubric) or ``judge: {provider: NAME, model: M,
  params: {...}}`` (default params ``{temperature: 0}``). Judge calls retry like model calls.
- ``semantic``: ``embedder: local`` (default: all-MiniLM-L6-v2, offline) or ``embedder:
  {provider: NAME, model: M}`` (an ``openai``-kind provider's ``/embeddings``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runwell.catalog import FeatureRuntime, PriceLookup, VariantRuntime, build_catalog
from runwell.errors import ConfigError, NotFoundError
from runwell.evals._retry import RetryPolicy, call_with_retry
from runwell.evals.dataset import Dataset, load_dataset
from runwell.evals.embeddings import LocalMiniLM, ProviderEmbedder, local_model_files
from runwell.evals.scorers import Embedder, Judge, Scorer, build_scorer
from runwell.evals.suites import BUILTIN_PREFIX, load_builtin_suite
from runwell.providers.base import ChatRequest, Provider
from runwell.providers.registry import build_provider
from runwell.spec.loader import LoadedSpec
from runwell.spec.providers import LocalProviderConfig, OpenAIProviderConfig

__all__ = ["CANARY_SCORERS", "EvalPlan", "build_plan", "resolve_suite"]

CANARY_SCORERS: list[dict[str, Any]] = [{"type": "canary"}]
"""How built-in adversarial suites are scored: safe iff the case's canary stays out."""


@dataclass
class EvalPlan:
    """Everything one run evaluates; ``aclose`` releases the providers and embedders it opened."""

    feature: str
    variant: VariantRuntime
    suite: str
    dataset: Dataset
    scorer_configs: list[dict[str, Any]]
    scorers: list[Scorer]
    spec_version: str
    timeout_s: float
    prices: PriceLookup
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    slots: int | None = None
    """Calls the variant's provider can serve at once, when it says (a local model's slots)."""

    async def aclose(self) -> None:
        """Close every provider and embedder the plan opened."""
        for close in self.closers:
            await close()


def resolve_suite(loaded: LoadedSpec, suite: str | None) -> tuple[str, Dataset, list[dict[str, Any]]]:
    """``(suite name, dataset, scorer configs)`` for ``--suite`` (None: the spec's first suite)."""
    if suite is not None and suite.startswith(BUILTIN_PREFIX):
        return suite, load_builtin_suite(suite), [dict(c) for c in CANARY_SCORERS]
    suites = loaded.spec.evals.suites
    if not suites:
        raise ConfigError(
            f"{loaded.path}: evals.suites is empty; add a suite (dataset + scorers) or "
            "pass --suite builtin:prompt-injection (or builtin:jailbreak, builtin:pii-leak)"
        )
    chosen = suites[0] if suite is None else next((s for s in suites if s.name == suite), None)
    if chosen is None:
        known = ", ".join(s.name for s in suites)
        raise ConfigError(f"{loaded.path}: no eval suite {suite!r}; known: {known}, or builtin:NAME")
    dataset = load_dataset(loaded.base_dir / chosen.dataset, name=chosen.dataset)
    return chosen.name, dataset, [{"type": s.type, **s.options} for s in chosen.scorers]


def build_plan(
    loaded: LoadedSpec,
    *,
    suite: str | None = None,
    variant: str | None = None,
    local_embedder: Embedder | None = None,
) -> EvalPlan:
    """Resolve ``variant`` (default: the spec's default variant) and the suite into a plan."""
    suite_name, dataset, configs = resolve_suite(loaded, suite)
    catalog, providers = build_catalog([loaded])
    feature = catalog.feature(loaded.name)
    plan = EvalPlan(
        feature=loaded.name,
        variant=_variant(feature, variant),
        suite=suite_name,
        dataset=dataset,
        scorer_configs=configs,
        scorers=[],
        spec_version=loaded.version,
        timeout_s=feature.request_timeout_s,
        prices=feature.prices,
        closers=[p.aclose for p in providers],
    )
    provider_config = loaded.spec.providers.get(plan.variant.provider.name)
    if isinstance(provider_config, LocalProviderConfig):
        # More calls in flight than the model has slots would only queue inside the provider,
        # and the queueing would count as the model's latency (and against its timeout).
        plan.slots = provider_config.parallel
    wiring = _Wiring(loaded, feature, {p.name: p for p in providers}, plan, local_embedder)
    for i, config in enumerate(configs, start=1):
        try:
            plan.scorers.append(wiring.scorer(config))
        except ConfigError as exc:
            raise ConfigError(
                f"{loaded.path}: suite {suite_name!r}, scorer {i} ({config.get('type')}): {exc}"
            ) from exc
    return plan


def _variant(feature: FeatureRuntime, name: str | None) -> VariantRuntime:
    try:
        return feature.variant(name)
    except NotFoundError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass
class _Wiring:
    loaded: LoadedSpec
    feature: FeatureRuntime
    providers: dict[str, Provider]
    plan: EvalPlan
    local: Embedder | None

    def scorer(self, config: Mapping[str, Any]) -> Scorer:
        options = dict(config)
        judge = embedder = None
        if options.get("type") == "llm_judge":
            judge = self.judge(options.pop("judge", None))
        if options.get("type") == "semantic":
            embedder = self.embedder(options.pop("embedder", "local"))
        return build_scorer(options, embedder=embedder, judge=judge)

    def provider(self, name: Any) -> Provider:
        if name in self.providers:
            return self.providers[name]
        config = self.loaded.spec.providers.get(name) if isinstance(name, str) else None
        if config is None:
            raise ConfigError(f"unknown provider {name!r}; known: {', '.join(self.loaded.spec.providers)}")
        built = build_provider(name, config, timeouts=self.loaded.spec.timeouts)
        self.providers[name] = built
        self.plan.closers.append(built.aclose)
        return built

    def judge(self, ref: Any) -> Judge:
        if isinstance(ref, str) or (isinstance(ref, dict) and set(ref) == {"variant"}):
            runtime = _variant(self.feature, ref if isinstance(ref, str) else ref["variant"])
            provider, model, params = runtime.provider, runtime.model, dict(runtime.params)
        elif isinstance(ref, dict) and {"provider", "model"} <= set(ref) <= {"provider", "model", "params"}:
            provider, model = self.provider(ref["provider"]), str(ref["model"])
            params = dict(ref.get("params") or {"temperature": 0})
        else:
            raise ConfigError(
                "set `judge: VARIANT` or `judge: {provider: NAME, model: MODEL}` "
                f"(optionally with params), got {ref!r}"
            )
        timeout, policy = self.feature.request_timeout_s, RetryPolicy()

        async def judge(messages: list[dict[str, str]]) -> str:
            request = ChatRequest(model, messages=list(messages), params=dict(params))
            result, _latency, _attempts = await call_with_retry(
                provider, request, timeout=timeout, policy=policy
            )
            return result.content or ""

        return judge

    def embedder(self, ref: Any) -> Embedder:
        if ref == "local":
            if self.local is None:
                local_model_files()  # fail before the run, naming the extra to install
                self.local = LocalMiniLM()
            return self.local
        if not (isinstance(ref, dict) and set(ref) == {"provider", "model"}):
            raise ConfigError(
                f"set `embedder: local` or `embedder: {{provider: NAME, model: MODEL}}`, got {ref!r}"
            )
        name = ref["provider"]
        config = self.loaded.spec.providers.get(name) if isinstance(name, str) else None
        if not isinstance(config, OpenAIProviderConfig):
            raise ConfigError(
                f"embedder provider {name!r} must be an `openai`-kind provider of this spec "
                "(its /embeddings endpoint is used)"
            )
        built = ProviderEmbedder(name, config, model=str(ref["model"]), timeouts=self.loaded.spec.timeouts)
        self.plan.closers.append(built.aclose)
        return built

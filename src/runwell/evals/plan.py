"""From a loaded spec to what one eval run needs: the variant, the dataset and ready scorers.

Providers come from :func:`runwell.catalog.build_catalog`, the gateway's own wiring, so
the evaluated variant is built exactly as it serves. Suites are the spec's ``evals.suites``
(by name; the first one by default) or a built-in adversarial suite (``builtin:NAME``, scored
with ``{type: adversarial}``, judged by the spec's ``evals.judge`` when it names one).

Two scorer options are resolved here, not in the scorer core:

- ``judge`` of ``llm_judge`` (required) and of ``harm``, ``helpful`` and ``adversarial``
  (optional: without one they use their rule-based readings): ``judge: VARIANT`` (that
  variant's provider, model and parameters; its prompt template is not used, the judge prompt
  is the rubric) or ``judge: {provider: NAME, model: M, params: {...}}`` (default params
  ``{temperature: 0}``). Judge calls retry like model calls.
- ``semantic``: ``embedder: local`` (default: all-MiniLM-L6-v2, offline) or ``embedder:
  {provider: NAME, model: M}`` (an ``openai``-kind provider's ``/embeddings``).
- ``leak``: ``secret_env: NAME`` names the environment variable holding the secret to look for,
  read when the plan is built, so a real secret is never written into the spec nor stored with
  the run's scorer configs.

The spec's ``evals.slices`` name case metadata fields that declare fairness groups: the plan
turns each case's value into a ``group:DIMENSION=VALUE`` tag on its results (the dataset and its
hash are untouched).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runwell.catalog import FeatureRuntime, PriceLookup, VariantRuntime, build_catalog
from runwell.errors import ConfigError, NotFoundError
from runwell.evals._retry import RetryPolicy, call_with_retry
from runwell.evals.dataset import Case, Dataset, load_dataset
from runwell.evals.embeddings import LocalMiniLM, ProviderEmbedder, local_model_files
from runwell.evals.fairness import group_tag
from runwell.evals.scorers import Embedder, Judge, Scorer, build_scorer
from runwell.evals.suites import BUILTIN_PREFIX, load_builtin_suite
from runwell.guardrails import PiiRedactor
from runwell.providers.base import ChatRequest, Provider
from runwell.providers.registry import build_provider
from runwell.spec.evals import JudgeModel
from runwell.spec.loader import LoadedSpec
from runwell.spec.providers import LocalProviderConfig, OpenAIProviderConfig

__all__ = [
    "BUILTIN_SCORERS",
    "EvalPlan",
    "build_plan",
    "judge_ref",
    "open_judge",
    "resolve_suite",
    "slice_tags",
]

BUILTIN_SCORERS: list[dict[str, Any]] = [{"type": "adversarial"}]
"""How built-in adversarial suites are scored: each case by its kind (leak, harm or benign)."""
_JUDGED = frozenset({"llm_judge", "harm", "helpful", "adversarial"})


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
    slices: list[tuple[str, str]] = field(default_factory=list)
    """``(dimension, metadata field)`` pairs from ``evals.slices``."""

    def case_tags(self, case: Case) -> tuple[str, ...]:
        """The case's tags plus its declared group tags (see :func:`slice_tags`)."""
        return (*case.tags, *slice_tags(case, self.slices))

    async def aclose(self) -> None:
        """Close every provider and embedder the plan opened."""
        for close in self.closers:
            await close()


def slice_tags(case: Case, slices: list[tuple[str, str]]) -> tuple[str, ...]:
    """``group:DIMENSION=VALUE`` for each declared slice whose metadata field the case has."""
    tags = []
    for dimension, path in slices:
        value: Any = case.metadata
        for key in path.removeprefix("metadata.").split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str | int | bool) and str(value).strip():
            tag = group_tag(dimension, str(value).strip().lower() if isinstance(value, str) else value)
            if tag not in case.tags:
                tags.append(tag)
    return tuple(tags)


def judge_ref(loaded: LoadedSpec) -> str | dict[str, Any] | None:
    """The spec's ``evals.judge`` as a scorer's ``judge`` option (``None`` when not set)."""
    ref = loaded.spec.evals.judge
    if isinstance(ref, JudgeModel):
        out: dict[str, Any] = {"provider": ref.provider, "model": ref.model}
        return {**out, "params": dict(ref.params)} if ref.params else out
    return ref


def resolve_suite(loaded: LoadedSpec, suite: str | None) -> tuple[str, Dataset, list[dict[str, Any]]]:
    """``(suite name, dataset, scorer configs)`` for ``--suite`` (None: the spec's first suite)."""
    if suite is not None and suite.startswith(BUILTIN_PREFIX):
        ref = judge_ref(loaded)
        configs = [{**c, **({"judge": ref} if ref is not None else {})} for c in BUILTIN_SCORERS]
        return suite, load_builtin_suite(suite), configs
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
    env: Mapping[str, str] | None = None,
) -> EvalPlan:
    """Resolve ``variant`` (default: the spec's default variant) and the suite into a plan.

    ``env`` is where ``secret_env`` names are looked up (default: the process environment).
    """
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
        slices=[(s.dimension, s.field) for s in loaded.spec.evals.slices],
    )
    provider_config = loaded.spec.providers.get(plan.variant.provider.name)
    if isinstance(provider_config, LocalProviderConfig):
        # More calls in flight than the model has slots would only queue inside the provider,
        # and the queueing would count as the model's latency (and against its timeout).
        plan.slots = provider_config.parallel
    wiring = _Wiring(loaded, feature, {p.name: p for p in providers}, plan.closers, local_embedder)
    wiring.env = os.environ if env is None else env
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


def open_judge(loaded: LoadedSpec, ref: Any) -> tuple[Judge, list[Callable[[], Awaitable[None]]]]:
    """A judge callable for ``ref`` (a variant name or ``{provider, model, params}``), and its closers.

    For commands that judge outside a run (``runwell eval judge-agreement``); await every closer
    when done.
    """
    catalog, providers = build_catalog([loaded])
    closers: list[Callable[[], Awaitable[None]]] = [p.aclose for p in providers]
    wiring = _Wiring(loaded, catalog.feature(loaded.name), {p.name: p for p in providers}, closers, None)
    try:
        return wiring.judge(ref), closers
    except ConfigError as exc:
        raise ConfigError(f"{loaded.path}: evals.judge: {exc}") from exc


@dataclass
class _Wiring:
    loaded: LoadedSpec
    feature: FeatureRuntime
    providers: dict[str, Provider]
    closers: list[Callable[[], Awaitable[None]]]
    local: Embedder | None
    env: Mapping[str, str] = field(default_factory=dict)

    def scorer(self, config: Mapping[str, Any]) -> Scorer:
        options = dict(config)
        judge = embedder = None
        kind = options.get("type")
        if kind == "leak" and "secret_env" in options:
            options["secret"] = self.secret(options.pop("secret_env"))
        if kind == "llm_judge" or (kind in _JUDGED and options.get("judge") is not None):
            judge = self.judge(options.pop("judge", None))
        elif kind in _JUDGED:
            options.pop("judge", None)
        if options.get("type") == "semantic":
            embedder = self.embedder(options.pop("embedder", "local"))
        return build_scorer(options, embedder=embedder, judge=judge, redactor=self.redactor())

    def redactor(self) -> PiiRedactor:
        """The gateway's PII recognizers, every built-in kind plus the feature's own patterns.

        Every kind, even when the gateway redacts fewer: a leaked phone number is a leak whether
        or not the feature redacts phone numbers on the way in.
        """
        pii = self.loaded.spec.guardrails.pii
        return PiiRedactor(extra=pii.extra) if pii is not None and pii.extra else PiiRedactor()

    def secret(self, name: Any) -> str:
        value = self.env.get(name) if isinstance(name, str) else None
        if not value:
            raise ConfigError(
                f"secret_env {name!r}: no such environment variable is set; export it before the run "
                "(the secret itself never goes into the spec)"
            )
        return value

    def provider(self, name: Any) -> Provider:
        if name in self.providers:
            return self.providers[name]
        config = self.loaded.spec.providers.get(name) if isinstance(name, str) else None
        if config is None:
            raise ConfigError(f"unknown provider {name!r}; known: {', '.join(self.loaded.spec.providers)}")
        built = build_provider(name, config, timeouts=self.loaded.spec.timeouts)
        self.providers[name] = built
        self.closers.append(built.aclose)
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
        self.closers.append(built.aclose)
        return built

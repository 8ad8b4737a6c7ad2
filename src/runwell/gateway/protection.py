"""The run-time controls of each feature, built once at start-up from its spec.

For every feature: its guardrails (:class:`~runwell.gateway.guard.FeatureGuard`), its variant chain
(retries, breakers, fallbacks: :class:`~runwell.gateway.chain.VariantChain`), its degradation, and
its budget limits (rebuilt when an operator changes a limit). Shared by all features: the operator's
levers (kill switch, guardrail overrides, flags, budget changes) as a polled snapshot, and the
circuit breakers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from runwell.catalog import Catalog, FeatureRuntime
from runwell.control.budgets import Limits, ScopeLimits
from runwell.control.levers import Levers
from runwell.gateway.chain import VariantChain
from runwell.gateway.guard import FeatureGuard
from runwell.guardrails import InjectionDetector
from runwell.resilience import BreakerRegistry, BreakerSettings, Retrier, RetryPolicy
from runwell.spec.loader import LoadedSpec
from runwell.spec.protection import Budgets as BudgetSpec
from runwell.spec.protection import Degradation, Fallbacks, Guardrails, ScopeBudget

__all__ = ["FeatureControls", "FixedLevers", "LeverSource", "Protection", "budget_limits", "feature_controls"]

_LIMIT_FIELDS = {
    "daily_usd": "usd_per_day",
    "monthly_usd": "usd_per_month",
    "daily_tokens": "tokens_per_day",
    "monthly_tokens": "tokens_per_month",
    "requests_per_minute": "requests_per_minute",
    "tokens_per_minute": "tokens_per_minute",
}


def _scope(spec: ScopeBudget, overrides: Mapping[str, float] | None = None) -> ScopeLimits:
    values: dict[str, float | int | None] = {}
    for spec_name, engine_name in _LIMIT_FIELDS.items():
        value: float | int | None = getattr(spec, spec_name)
        if overrides and spec_name in overrides:
            override = overrides[spec_name]
            value = override if spec_name.endswith("usd") else int(override)
        values[engine_name] = value
    return ScopeLimits(**values)  # type: ignore[arg-type]


def budget_limits(spec: BudgetSpec, overrides: Mapping[str, float] | None = None) -> Limits | None:
    """The engine's limits for a feature's ``budgets`` section (and operator overrides of the
    feature's own limits), or ``None`` when the feature sets none."""
    if not spec.enforced and not overrides:
        return None
    return Limits(
        max_input_tokens=spec.per_request.max_input_tokens,
        max_output_tokens=spec.max_output_tokens,
        max_cost_usd=spec.per_request.max_cost_usd,
        feature=_scope(spec, overrides),
        key=_scope(spec.per_key),
        user=_scope(spec.per_user),
        alert_at_fraction=spec.alert_at_fraction,
    )


@dataclass
class FeatureControls:
    """One feature's run-time controls."""

    feature: FeatureRuntime
    guard: FeatureGuard
    chain: VariantChain
    degradation: Degradation | None
    budget_spec: BudgetSpec
    _limits: tuple[int, Limits | None] = (-2, None)

    def limits(self, levers: Levers) -> Limits | None:
        """The budget limits in force: the spec's, with the operator's overrides of the moment."""
        version, cached = self._limits
        if version == levers.version:
            return cached
        overrides = {
            limit: value for (feature, limit), value in levers.budgets.items() if feature == self.feature.name
        }
        built = budget_limits(self.budget_spec, overrides)
        self._limits = (levers.version, built)
        return built


def feature_controls(
    loaded: LoadedSpec,
    runtime: FeatureRuntime,
    *,
    detectors: dict[float | None, InjectionDetector],
    breakers: BreakerRegistry,
) -> FeatureControls:
    """Build one feature's controls from its spec."""
    spec = loaded.spec
    guard = FeatureGuard(runtime.name, spec.guardrails, detectors)
    retries = spec.resilience.retries
    retrier = Retrier(
        RetryPolicy(
            attempts=retries.attempts, base_delay_s=retries.backoff_s, max_delay_s=retries.max_backoff_s
        )
    )
    b = spec.resilience.breaker
    settings = BreakerSettings(
        window=b.window,
        min_calls=b.min_calls,
        failure_rate=b.failure_rate,
        open_s=b.open_s,
        half_open_calls=b.half_open_calls,
    )
    for variant in runtime.variants.values():
        breakers.get(variant.provider.name, variant.model, settings)
    chain = VariantChain(
        runtime, spec.fallbacks, guard, retrier, breakers, deadline_s=spec.timeouts.deadline_s
    )
    return FeatureControls(runtime, guard, chain, spec.fallbacks.degradation, spec.budgets)


class LeverSource(Protocol):
    """Where the request path reads the operator's levers from (a :class:`LeverCache`)."""

    @property
    def current(self) -> Levers: ...

    def refresh(self) -> bool:
        """Reload after a change; whether anything changed."""
        ...


@dataclass(frozen=True)
class FixedLevers:
    """Levers that never change: every lever at its default (for a gateway without a database)."""

    current: Levers = field(default_factory=Levers)

    def refresh(self) -> bool:
        """Nothing to reload."""
        return False


@dataclass
class Protection:
    """The controls of every feature of a gateway, and the levers and breakers they share."""

    features: dict[str, FeatureControls]
    levers: LeverSource
    breakers: BreakerRegistry

    @classmethod
    def plain(cls, catalog: Catalog) -> Protection:
        """Every feature with the spec defaults: no guardrail, no budget, one try, no fallback."""
        breakers = BreakerRegistry()
        detectors: dict[float | None, InjectionDetector] = {}
        features = {}
        for name, runtime in catalog.features.items():
            guard = FeatureGuard(name, Guardrails(), detectors)
            chain = VariantChain(
                runtime,
                Fallbacks(),
                guard,
                Retrier(RetryPolicy(attempts=1)),
                breakers,
                deadline_s=runtime.request_timeout_s,
            )
            features[name] = FeatureControls(runtime, guard, chain, None, BudgetSpec())
        return cls(features, FixedLevers(), breakers)

"""Rollout strategies: what a rollout does with traffic, validated and serialised.

- :class:`CanaryStrategy`: step the candidate's share up (5, 25, 50, 100 %), judging each step.
- :class:`ABStrategy`: a fixed split until a horizon, then a decision rule.
- :class:`ShadowStrategy`: mirror a sample of requests to the candidate without serving it.

Each validates itself on construction (:class:`~runwell.errors.ConfigError` naming the field and
the fix) and round-trips through ``to_dict`` / :func:`strategy_from_dict`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from runwell.errors import ConfigError

__all__ = [
    "ABStrategy",
    "CanaryStrategy",
    "Decision",
    "OnInconclusive",
    "ShadowStrategy",
    "Strategy",
    "strategy_from_dict",
]

OnInconclusive: TypeAlias = Literal["pause", "rollback"]
Decision: TypeAlias = Literal["no_regression", "improvement"]


def _check_common(where: str, interval_s: float, max_extensions: int, on_inconclusive: str) -> None:
    if not (interval_s > 0 and math.isfinite(interval_s)):
        raise ConfigError(f"{where}: interval_s {interval_s!r} must be a positive number of seconds")
    if max_extensions < 0:
        raise ConfigError(f"{where}: max_extensions {max_extensions!r} must be 0 or more")
    if on_inconclusive not in ("pause", "rollback"):
        raise ConfigError(f"{where}: on_inconclusive {on_inconclusive!r} must be 'pause' or 'rollback'")


def _check_horizon(where: str, horizon_requests: int | None, horizon_s: float | None) -> None:
    if horizon_requests is None and horizon_s is None:
        raise ConfigError(f"{where}: set horizon_requests or horizon_s (when the experiment ends)")
    if horizon_requests is not None and horizon_requests < 1:
        raise ConfigError(f"{where}: horizon_requests {horizon_requests!r} must be at least 1")
    if horizon_s is not None and not (horizon_s > 0 and math.isfinite(horizon_s)):
        raise ConfigError(f"{where}: horizon_s {horizon_s!r} must be a positive number of seconds")


@dataclass(frozen=True, slots=True)
class CanaryStrategy:
    """Move ``steps`` percent of traffic to the candidate in turn, judging each step after ``interval_s``.

    Steps rise strictly within (0, 100]; passing the last one promotes, whether or not it is 100
    (Flagger's ``maxWeight``).
    """

    steps: tuple[float, ...]
    interval_s: float
    max_extensions: int = 2
    on_inconclusive: OnInconclusive = "pause"

    def __post_init__(self) -> None:
        where = "canary strategy"
        if not self.steps:
            raise ConfigError(f"{where}: steps is empty; give the traffic percentages, e.g. [5, 25, 50, 100]")
        if any(not 0 < s <= 100 for s in self.steps):
            raise ConfigError(f"{where}: steps {list(self.steps)} must each be in (0, 100]")
        if any(b <= a for a, b in zip(self.steps, self.steps[1:], strict=False)):
            raise ConfigError(f"{where}: steps {list(self.steps)} must rise strictly")
        _check_common(where, self.interval_s, self.max_extensions, self.on_inconclusive)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with ``kind: canary``."""
        return {
            "kind": "canary",
            "steps": list(self.steps),
            "interval_s": self.interval_s,
            "max_extensions": self.max_extensions,
            "on_inconclusive": self.on_inconclusive,
        }


@dataclass(frozen=True, slots=True)
class ABStrategy:
    """A fixed split: ``percent`` of traffic on the candidate until the horizon, then a decision.

    The horizon is reached after ``horizon_requests`` candidate requests or ``horizon_s`` seconds,
    whichever comes first. Before it the judge only guards (a failure rolls back). At it,
    ``decision="no_regression"`` promotes on a passing verdict; ``"improvement"`` also needs the
    ``primary_metric`` significantly better, and otherwise keeps the baseline (rolled back).
    """

    percent: float
    interval_s: float
    horizon_requests: int | None = None
    horizon_s: float | None = None
    decision: Decision = "no_regression"
    primary_metric: str | None = None
    max_extensions: int = 2
    on_inconclusive: OnInconclusive = "pause"

    def __post_init__(self) -> None:
        where = "A/B strategy"
        if not 0 < self.percent < 100:
            raise ConfigError(f"{where}: percent {self.percent!r} must be in (0, 100)")
        if self.decision not in ("no_regression", "improvement"):
            raise ConfigError(f"{where}: decision {self.decision!r} must be 'no_regression' or 'improvement'")
        if self.decision == "improvement" and not self.primary_metric:
            raise ConfigError(f"{where}: decision 'improvement' needs primary_metric (the metric to improve)")
        _check_horizon(where, self.horizon_requests, self.horizon_s)
        _check_common(where, self.interval_s, self.max_extensions, self.on_inconclusive)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with ``kind: ab``."""
        return {
            "kind": "ab",
            "percent": self.percent,
            "interval_s": self.interval_s,
            "horizon_requests": self.horizon_requests,
            "horizon_s": self.horizon_s,
            "decision": self.decision,
            "primary_metric": self.primary_metric,
            "max_extensions": self.max_extensions,
            "on_inconclusive": self.on_inconclusive,
        }


@dataclass(frozen=True, slots=True)
class ShadowStrategy:
    """Copy ``sample_rate`` of requests to the candidate, never serving its answers.

    Judged like an A/B test with ``no_regression`` until the horizon. Shadow never serves users,
    so ``promoted`` here means "cleared for a canary" (no traffic moves) and ``rolled_back``
    means the mirror is switched off.
    """

    sample_rate: float
    interval_s: float
    horizon_requests: int | None = None
    horizon_s: float | None = None
    max_extensions: int = 2
    on_inconclusive: OnInconclusive = "pause"

    def __post_init__(self) -> None:
        where = "shadow strategy"
        if not 0 < self.sample_rate <= 1:
            raise ConfigError(f"{where}: sample_rate {self.sample_rate!r} must be a fraction in (0, 1]")
        _check_horizon(where, self.horizon_requests, self.horizon_s)
        _check_common(where, self.interval_s, self.max_extensions, self.on_inconclusive)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with ``kind: shadow``."""
        return {
            "kind": "shadow",
            "sample_rate": self.sample_rate,
            "interval_s": self.interval_s,
            "horizon_requests": self.horizon_requests,
            "horizon_s": self.horizon_s,
            "max_extensions": self.max_extensions,
            "on_inconclusive": self.on_inconclusive,
        }


Strategy: TypeAlias = CanaryStrategy | ABStrategy | ShadowStrategy


def strategy_from_dict(data: Mapping[str, Any]) -> Strategy:
    """Rebuild a strategy from its ``to_dict`` form; :class:`ConfigError` names what is wrong."""
    fields = {k: v for k, v in data.items() if k != "kind"}
    kind = data.get("kind")
    try:
        if kind == "canary":
            fields["steps"] = tuple(fields.get("steps", ()))
            return CanaryStrategy(**fields)
        if kind == "ab":
            return ABStrategy(**fields)
        if kind == "shadow":
            return ShadowStrategy(**fields)
    except TypeError as exc:
        raise ConfigError(f"{kind} strategy: {exc}; expected the fields its to_dict writes") from exc
    raise ConfigError(f"rollout strategy kind {kind!r} is not one of canary, ab, shadow")

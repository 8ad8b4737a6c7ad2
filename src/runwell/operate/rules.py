"""A feature's ``alerts:`` compiled into the rules the evaluator runs.

A threshold alert is one rule. A burn-rate alert becomes two: ``NAME`` pages on the fast-burn
pairs (14.4x and 6x), ``NAME.slow-burn`` opens a ticket on the slow ones (3x and 1x). Each rule
knows its failure mode, the incident severity that failure mode declares, and the runbook the
page links (the alert's own, else its failure mode's).

Compiling checks what the spec's own validation cannot see across sections: metric names, and
that an alert's failure mode exists. Each problem is a :class:`~runwell.errors.ConfigError` naming
the spec file and the alert.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from runwell.errors import ConfigError
from runwell.operate.burn import BurnPair, PairVerdict, evaluate_pairs, pairs_for
from runwell.spec.loader import LoadedSpec
from runwell.spec.operate import METRICS, Alert, Slo

__all__ = ["SLOW_SUFFIX", "Rule", "compile_rules"]

SLOW_SUFFIX = ".slow-burn"
"""Appended to a burn-rate alert's name for its ticket-level rule."""

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Rule:
    """One alert rule of one feature, ready to evaluate."""

    feature: str
    name: str
    severity: Literal["page", "ticket"]
    incident_severity: int
    failure_mode: str | None
    runbook: str | None
    summary: str
    for_s: float
    keep_firing_s: float
    min_requests: int
    metric: str | None = None
    op: str | None = None
    threshold: float | None = None
    window_s: float = 300.0
    slo: Slo | None = None
    pairs: tuple[BurnPair, ...] = ()

    @property
    def burn_rate(self) -> bool:
        """Whether this is an SLO burn-rate rule."""
        return self.slo is not None

    def windows(self) -> list[float]:
        """Every window (seconds) the rule needs measured."""
        if not self.pairs:
            return [self.window_s]
        return sorted({w for p in self.pairs for w in (p.long_s, p.short_s)})

    def holds(self, value: float | None) -> bool:
        """Whether a threshold rule's condition holds for ``value`` (``None``: no data)."""
        assert self.op is not None and self.threshold is not None
        return value is not None and _OPS[self.op](value, self.threshold)

    def verdicts(self, ratios: dict[float, float | None]) -> list[PairVerdict]:
        """A burn-rate rule's pairs evaluated on each window's error ratio."""
        assert self.slo is not None
        return evaluate_pairs(self.pairs, self.slo.objective, ratios)

    def describe(self) -> str:
        """The condition in words: ``error_rate > 0.05 over 300s`` or the SLO and its pairs."""
        if self.slo is not None:
            sli = (
                "availability" if self.slo.sli == "availability" else f"latency <= {self.slo.latency_ms:g}ms"
            )
            pairs = "; ".join(p.label() for p in self.pairs)
            return f"{sli} SLO {self.slo.objective:g}%: burn rate {pairs}"
        return f"{self.metric} {self.op} {self.threshold:g} over {self.window_s:g}s"


def compile_rules(loaded: LoadedSpec) -> list[Rule]:
    """The rules of one feature's spec; ConfigError for an unknown metric or failure mode."""
    spec = loaded.spec
    modes = {m.name: m for m in spec.failure_modes}
    rules: list[Rule] = []
    for alert in spec.alerts:
        where = f"{loaded.path}: alerts: {alert.name}"
        if alert.metric is not None and alert.metric not in METRICS:
            raise ConfigError(
                f"{where}: unknown metric {alert.metric!r}; the metrics are {', '.join(METRICS)}"
            )
        mode = None
        if alert.failure_mode is not None:
            mode = modes.get(alert.failure_mode)
            if mode is None:
                known = ", ".join(modes) or "none are declared"
                raise ConfigError(
                    f"{where}: failure_mode {alert.failure_mode!r} is not in failure_modes: ({known})"
                )
        runbook = alert.runbook or (mode.runbook if mode is not None else None)
        severity = mode.severity if mode is not None else 2
        rules.extend(_rules(loaded.name, alert, runbook, severity))
    return rules


def _rules(feature: str, alert: Alert, runbook: str | None, severity: int) -> Sequence[Rule]:
    base = Rule(
        feature=feature,
        name=alert.name,
        severity=alert.severity,
        incident_severity=severity,
        failure_mode=alert.failure_mode,
        runbook=runbook,
        summary=alert.summary
        or f"{feature}: {alert.name} ({alert.metric} {alert.op} {alert.threshold or 0:g})",
        for_s=alert.for_s,
        keep_firing_s=alert.keep_firing_s,
        min_requests=alert.min_requests,
        metric=alert.metric,
        op=alert.op,
        threshold=alert.threshold,
        window_s=alert.window_s,
    )
    if alert.slo is None:
        return [base]
    pairs = pairs_for(alert.slo.period_s)
    summary = (
        alert.summary or f"{feature}: {alert.name} is burning its {alert.slo.objective:g}% SLO's error budget"
    )
    burn = replace(base, summary=summary, metric=None, op=None, threshold=None, slo=alert.slo)
    return [
        replace(burn, severity="page", pairs=tuple(p for p in pairs if p.action == "page")),
        replace(
            burn,
            name=alert.name + SLOW_SUFFIX,
            severity="ticket",
            incident_severity=max(severity, 4),
            summary=summary + " (slowly)",
            pairs=tuple(p for p in pairs if p.action == "ticket"),
        ),
    ]

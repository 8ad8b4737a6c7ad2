"""The canary judge: baseline and candidate metrics in, a verdict with its evidence out.

Each metric is judged on its own (Kayenta's way), then the verdicts are combined:

- A **continuous** metric (latency, cost per request, quality or feedback score) is compared with
  the two-sided Mann–Whitney U test and the Hodges–Lehmann shift with its distribution-free interval.
  Its level is the median; ``tolerance`` is relative to the baseline's median.
- A **rate** metric (errors / requests, guardrail blocks / requests, negative feedback / feedback)
  is compared with a two-proportion test (exact mid-p for small counts, z-test otherwise) and a
  Newcombe interval on the difference. Its level is the rate; ``tolerance`` is relative to the
  baseline's rate (0.25: the candidate may be up to a quarter worse), so one setting means the same
  for a 0.5 % and a 20 % rate. ``min_effect`` adds an absolute floor in the metric's own units
  (a rate, or ms, or dollars), which matters when the baseline's level is near zero: with no
  baseline errors a relative tolerance alone would forbid any error at all.

A metric **fails** only when the candidate is worse both statistically (two-sided p below
``1 - confidence``, with the shift on the worse side) and practically (the estimated shift beyond
``max(tolerance * |baseline level|, min_effect)``), so identical variants rarely fail. It has **no
data** when either side has fewer than ``min_samples`` samples (continuous) or requests (rate).

The overall verdict, in order: ``fail`` if any critical metric fails; ``inconclusive`` if a
critical metric has no data or at least ``max_nodata_fraction`` of the weight has none; otherwise
the score = 100 x passing weight / judged weight, and ``fail`` below ``marginal_threshold``,
``inconclusive`` below ``pass_threshold`` (Kayenta's "marginal": hold the step and gather more
data), ``pass`` from there up. Results are plain dataclasses with ``to_dict``/``from_dict`` for the
audit log and ``rollout explain``.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from statistics import median
from typing import Any, Literal, TypeAlias

from runwell.errors import ConfigError
from runwell.rollout.stats import hodges_lehmann, mann_whitney_u, two_proportion_test

__all__ = [
    "Counts",
    "Direction",
    "JudgeResult",
    "JudgeSettings",
    "MetricConfig",
    "MetricData",
    "MetricKind",
    "MetricResult",
    "MetricVerdict",
    "Samples",
    "Shift",
    "Verdict",
    "judge",
]

MetricKind: TypeAlias = Literal["continuous", "rate"]
Direction: TypeAlias = Literal["increase", "decrease"]
MetricVerdict: TypeAlias = Literal["pass", "fail", "nodata"]
Verdict: TypeAlias = Literal["pass", "fail", "inconclusive"]
Shift: TypeAlias = Literal["worse", "better", "none"]

_KINDS = ("continuous", "rate")
_RATE_TESTS = {"z": "z-test", "midp": "Fisher mid-p", "fisher": "Fisher exact"}
_DIRECTIONS = ("increase", "decrease")


@dataclass(frozen=True, slots=True)
class MetricConfig:
    """How one metric is judged.

    ``direction`` is the way the metric gets *worse*: ``increase`` for latency, errors, cost and
    guardrail blocks, ``decrease`` for quality and feedback scores. ``tolerance`` is relative to the
    baseline's level, ``min_effect`` an absolute floor in the metric's units (see the module
    docstring). ``min_samples`` applies per side: samples for continuous metrics, requests (the
    rate's denominator) for rates. ``weight`` counts in the score; ``critical`` makes a failure
    roll back on its own. ``confidence`` overrides the judge's for this metric.
    """

    name: str
    kind: MetricKind
    direction: Direction
    tolerance: float = 0.25
    min_effect: float = 0.0
    critical: bool = False
    min_samples: int = 50
    weight: float = 1.0
    confidence: float | None = None

    def __post_init__(self) -> None:
        where = f"rollout metric {self.name!r}"
        if not self.name:
            raise ConfigError("rollout metric: name is empty; give every metric a name")
        if self.kind not in _KINDS:
            raise ConfigError(f"{where}: kind {self.kind!r} is not one of {', '.join(_KINDS)}")
        if self.direction not in _DIRECTIONS:
            raise ConfigError(
                f"{where}: direction {self.direction!r} is not one of {', '.join(_DIRECTIONS)} "
                "(the way the metric gets worse)"
            )
        if not (self.tolerance >= 0 and math.isfinite(self.tolerance)):
            raise ConfigError(f"{where}: tolerance {self.tolerance!r} must be a finite number >= 0")
        if not (self.min_effect >= 0 and math.isfinite(self.min_effect)):
            raise ConfigError(f"{where}: min_effect {self.min_effect!r} must be a finite number >= 0")
        if self.min_samples < 1:
            raise ConfigError(f"{where}: min_samples {self.min_samples!r} must be at least 1")
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ConfigError(f"{where}: weight {self.weight!r} must be a finite number > 0")
        if self.confidence is not None and not 0.5 <= self.confidence < 1:
            raise ConfigError(f"{where}: confidence {self.confidence!r} must be in [0.5, 1), e.g. 0.99")


@dataclass(frozen=True, slots=True)
class Samples:
    """A continuous metric's observations in the window, one value per request (or per score)."""

    baseline: Sequence[float]
    candidate: Sequence[float]


@dataclass(frozen=True, slots=True)
class Counts:
    """A rate metric in the window: events (errors, blocks, negative votes) out of a total."""

    baseline_events: int
    baseline_total: int
    candidate_events: int
    candidate_total: int


MetricData: TypeAlias = Samples | Counts


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """Judge-wide settings; Kayenta's defaults (pass 90, marginal 75) except for ``confidence``.

    ``confidence`` is 0.99 rather than Kayenta's 0.98 because a canary looks once per step: a
    critical metric fails identical variants on a look with probability about ``(1 - confidence)
    / 2`` (one side of a two-sided test), and the tolerance barely lowers that for rates, where a
    handful of extra errors is both significant and beyond 25 %. Four steps at 0.98 spend about
    4 % of a 5 % false-rollback budget on the error rate alone (``bench/rollout.py`` measured
    5.7 % overall); at 0.99 about 2 %. Raise it further for canaries with many steps.

    ``max_samples`` caps each side of a continuous metric: a larger window is reduced to a simple
    random sample of that size, seeded from the metric's name so the same data always gives the
    same verdict. It bounds the judge's cost (the shift interval is about O(n log n) per side).
    """

    confidence: float = 0.99
    pass_threshold: float = 90.0
    marginal_threshold: float = 75.0
    max_nodata_fraction: float = 0.5
    max_samples: int = 5_000

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"judge: confidence {self.confidence!r} must be in [0.5, 1), e.g. 0.99")
        if not 0 <= self.marginal_threshold <= self.pass_threshold <= 100:
            raise ConfigError(
                f"judge: need 0 <= marginal_threshold ({self.marginal_threshold}) <= "
                f"pass_threshold ({self.pass_threshold}) <= 100"
            )
        if not 0 < self.max_nodata_fraction <= 1:
            raise ConfigError(f"judge: max_nodata_fraction {self.max_nodata_fraction!r} must be in (0, 1]")
        if self.max_samples < 10:
            raise ConfigError(f"judge: max_samples {self.max_samples!r} must be at least 10")


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One metric's verdict and the numbers behind it.

    ``estimate`` is candidate minus baseline (Hodges–Lehmann shift, or rate difference) with its
    interval ``[ci_low, ci_high]``; ``relative`` is ``estimate / |baseline_level|`` (``None`` when
    the baseline's level is 0). ``threshold`` is the tolerated worsening in the metric's units.
    ``shift`` says whether the candidate is significantly worse or better, whatever the tolerance.
    Numbers are ``None`` when the metric has no data.
    """

    name: str
    kind: MetricKind
    direction: Direction
    critical: bool
    weight: float
    verdict: MetricVerdict
    shift: Shift
    explanation: str
    test: str = ""
    statistic: float | None = None
    p_value: float | None = None
    baseline_n: int = 0
    candidate_n: int = 0
    baseline_level: float | None = None
    candidate_level: float | None = None
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    relative: float | None = None
    threshold: float | None = None
    confidence: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (no NaN or infinity: absent numbers are ``None``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricResult:
        """Rebuild a result saved with :meth:`to_dict`."""
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise ConfigError(f"metric result is missing fields ({exc}); was it saved by to_dict?") from exc


@dataclass(frozen=True, slots=True)
class JudgeResult:
    """The judge's overall verdict: ``pass`` (next step), ``fail`` (roll back) or ``inconclusive``.

    ``score`` is ``None`` when no metric had data. ``reason`` is one line for an operator.
    """

    verdict: Verdict
    score: float | None
    reason: str
    metrics: tuple[MetricResult, ...]
    confidence: float
    pass_threshold: float
    marginal_threshold: float
    failed: tuple[str, ...] = ()

    def metric(self, name: str) -> MetricResult:
        """The result for the metric called ``name``."""
        for result in self.metrics:
            if result.name == name:
                return result
        raise KeyError(f"no metric named {name!r} in this judge result")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict for the audit entry and ``rollout explain``."""
        return {
            "verdict": self.verdict,
            "score": self.score,
            "reason": self.reason,
            "confidence": self.confidence,
            "pass_threshold": self.pass_threshold,
            "marginal_threshold": self.marginal_threshold,
            "failed": list(self.failed),
            "metrics": [m.to_dict() for m in self.metrics],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeResult:
        """Rebuild a result saved with :meth:`to_dict`."""
        try:
            return cls(
                verdict=data["verdict"],
                score=data["score"],
                reason=data["reason"],
                metrics=tuple(MetricResult.from_dict(m) for m in data["metrics"]),
                confidence=data["confidence"],
                pass_threshold=data["pass_threshold"],
                marginal_threshold=data["marginal_threshold"],
                failed=tuple(data.get("failed", ())),
            )
        except KeyError as exc:
            raise ConfigError(f"judge result is missing {exc}; was it saved by to_dict?") from exc

    def explain(self) -> str:
        """The verdict and one line per metric, as ``rollout explain`` prints it."""
        score = "no score" if self.score is None else f"score {self.score:.0f}"
        lines = [f"{self.verdict.upper()} ({score}): {self.reason}"]
        lines.extend(f"  {m.explanation}" for m in self.metrics)
        return "\n".join(lines)


def _sign(direction: Direction) -> int:
    """+1 when a larger value is worse, -1 when a smaller one is."""
    return 1 if direction == "increase" else -1


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _cap(values: Sequence[float], limit: int, seed: str) -> Sequence[float]:
    if len(values) <= limit:
        return values
    return random.Random(zlib.crc32(seed.encode())).sample(list(values), limit)


def _verdict(
    config: MetricConfig, p: float, alpha: float, estimate: float, threshold: float
) -> tuple[MetricVerdict, Shift]:
    worse_side = estimate * _sign(config.direction)
    if p < alpha and worse_side > 0:
        return ("fail" if worse_side > threshold else "pass"), "worse"
    if p < alpha and worse_side < 0:
        return "pass", "better"
    return "pass", "none"


def _why(verdict: MetricVerdict, shift: Shift, p: float, alpha: float) -> str:
    if verdict == "fail":
        return f"worse beyond tolerance (p={p:.2g})"
    if shift == "worse":
        return f"worse but within tolerance (p={p:.2g})"
    if shift == "better":
        return f"better (p={p:.2g})"
    if p < alpha:  # the ranks differ but the median shift is 0, as with heavily tied scores
        return f"ranks differ but the shift estimate is 0 (p={p:.2g})"
    return f"no significant difference (p={p:.2g} >= {alpha:.2g})"


def _nodata(config: MetricConfig, baseline_n: int, candidate_n: int, what: str) -> MetricResult:
    return MetricResult(
        name=config.name,
        kind=config.kind,
        direction=config.direction,
        critical=config.critical,
        weight=config.weight,
        verdict="nodata",
        shift="none",
        explanation=(
            f"{config.name}: nodata — {baseline_n} baseline and {candidate_n} candidate {what}, "
            f"need {config.min_samples} on each side"
        ),
        baseline_n=baseline_n,
        candidate_n=candidate_n,
    )


def _judge_continuous(config: MetricConfig, data: Samples, settings: JudgeSettings) -> MetricResult:
    if len(data.baseline) < config.min_samples or len(data.candidate) < config.min_samples:
        return _nodata(config, len(data.baseline), len(data.candidate), "samples")
    confidence = config.confidence or settings.confidence
    alpha = 1.0 - confidence
    baseline = _cap(data.baseline, settings.max_samples, f"{config.name}/baseline")
    candidate = _cap(data.candidate, settings.max_samples, f"{config.name}/candidate")
    try:
        test = mann_whitney_u(candidate, baseline)
        shift = hodges_lehmann(candidate, baseline, confidence=confidence)
    except ValueError as exc:
        raise ValueError(f"rollout metric {config.name!r}: {exc}") from exc
    base_level, cand_level = median(baseline), median(candidate)
    threshold = max(config.tolerance * abs(base_level), config.min_effect)
    relative = shift.estimate / abs(base_level) if base_level else None
    verdict, direction = _verdict(config, test.p_value, alpha, shift.estimate, threshold)
    rel = "" if relative is None else f" ({relative:+.1%})"
    explanation = (
        f"{config.name}: {verdict} — shift {shift.estimate:+.4g}{rel}, {confidence:.0%} CI "
        f"[{_fmt(shift.ci_low)}, {_fmt(shift.ci_high)}], median {_fmt(cand_level)} vs {_fmt(base_level)}, "
        f"tolerance {_fmt(threshold)}; {_why(verdict, direction, test.p_value, alpha)}, Mann–Whitney"
    )
    return MetricResult(
        name=config.name,
        kind=config.kind,
        direction=config.direction,
        critical=config.critical,
        weight=config.weight,
        verdict=verdict,
        shift=direction,
        explanation=explanation,
        test=f"mann-whitney ({test.method})",
        statistic=test.u,
        p_value=test.p_value,
        baseline_n=len(data.baseline),
        candidate_n=len(data.candidate),
        baseline_level=base_level,
        candidate_level=cand_level,
        estimate=shift.estimate,
        ci_low=shift.ci_low,
        ci_high=shift.ci_high,
        relative=relative,
        threshold=threshold,
        confidence=confidence,
    )


def _judge_rate(config: MetricConfig, data: Counts, settings: JudgeSettings) -> MetricResult:
    if data.baseline_total < config.min_samples or data.candidate_total < config.min_samples:
        return _nodata(config, data.baseline_total, data.candidate_total, "requests")
    confidence = config.confidence or settings.confidence
    alpha = 1.0 - confidence
    try:
        test = two_proportion_test(
            data.candidate_events,
            data.candidate_total,
            data.baseline_events,
            data.baseline_total,
            confidence=confidence,
        )
    except ValueError as exc:
        raise ValueError(f"rollout metric {config.name!r}: {exc}") from exc
    threshold = max(config.tolerance * test.y_rate, config.min_effect)
    relative = test.difference / test.y_rate if test.y_rate else None
    verdict, direction = _verdict(config, test.p_value, alpha, test.difference, threshold)
    rel = "" if relative is None else f" ({relative:+.0%})"
    explanation = (
        f"{config.name}: {verdict} — {test.x_rate:.3%} vs {test.y_rate:.3%} "
        f"({data.candidate_events}/{data.candidate_total} vs {data.baseline_events}/{data.baseline_total}), "
        f"difference {test.difference * 100:+.3g} pp{rel}, {confidence:.0%} CI "
        f"[{test.ci_low * 100:+.3g}, {test.ci_high * 100:+.3g}] pp, tolerance {threshold * 100:.3g} pp; "
        f"{_why(verdict, direction, test.p_value, alpha)}, {_RATE_TESTS[test.method]}"
    )
    return MetricResult(
        name=config.name,
        kind=config.kind,
        direction=config.direction,
        critical=config.critical,
        weight=config.weight,
        verdict=verdict,
        shift=direction,
        explanation=explanation,
        test=test.method,
        statistic=test.statistic,
        p_value=test.p_value,
        baseline_n=data.baseline_total,
        candidate_n=data.candidate_total,
        baseline_level=test.y_rate,
        candidate_level=test.x_rate,
        estimate=test.difference,
        ci_low=test.ci_low,
        ci_high=test.ci_high,
        relative=relative,
        threshold=threshold,
        confidence=confidence,
    )


def _judge_metric(config: MetricConfig, data: MetricData | None, settings: JudgeSettings) -> MetricResult:
    if data is None:
        return _nodata(config, 0, 0, "samples" if config.kind == "continuous" else "requests")
    if config.kind == "continuous":
        if not isinstance(data, Samples):
            raise ConfigError(f"rollout metric {config.name!r} is continuous: pass Samples, not {data!r}")
        return _judge_continuous(config, data, settings)
    if not isinstance(data, Counts):
        raise ConfigError(f"rollout metric {config.name!r} is a rate: pass Counts, not {type(data).__name__}")
    return _judge_rate(config, data, settings)


def _combine(results: tuple[MetricResult, ...], settings: JudgeSettings) -> tuple[Verdict, float | None, str]:
    critical_fails = [m.name for m in results if m.critical and m.verdict == "fail"]
    if critical_fails:
        return "fail", _score(results), f"critical metric failed: {', '.join(critical_fails)}"
    critical_nodata = [m.name for m in results if m.critical and m.verdict == "nodata"]
    if critical_nodata:
        return (
            "inconclusive",
            _score(results),
            f"no data yet for critical metric {', '.join(critical_nodata)}",
        )
    total = sum(m.weight for m in results)
    missing = sum(m.weight for m in results if m.verdict == "nodata")
    if missing / total >= settings.max_nodata_fraction:
        return (
            "inconclusive",
            _score(results),
            f"{missing / total:.0%} of the metrics' weight has no data (limit "
            f"{settings.max_nodata_fraction:.0%}); extend the window",
        )
    score = _score(results)
    assert score is not None  # some weight has data, since missing < total
    failed = [m.name for m in results if m.verdict == "fail"]
    detail = f" ({', '.join(failed)} failed)" if failed else ""
    if score < settings.marginal_threshold:
        return (
            "fail",
            score,
            f"score {score:.0f} below the marginal threshold {settings.marginal_threshold:g}{detail}",
        )
    if score < settings.pass_threshold:
        return (
            "inconclusive",
            score,
            f"marginal score {score:.0f} (pass at {settings.pass_threshold:g}){detail}; extend the window",
        )
    return "pass", score, f"score {score:.0f}, at or above {settings.pass_threshold:g}{detail}"


def _score(results: tuple[MetricResult, ...]) -> float | None:
    judged = sum(m.weight for m in results if m.verdict != "nodata")
    if judged == 0:
        return None
    return 100.0 * sum(m.weight for m in results if m.verdict == "pass") / judged


def judge(
    metrics: Sequence[MetricConfig],
    data: Mapping[str, MetricData],
    settings: JudgeSettings | None = None,
) -> JudgeResult:
    """Judge the candidate against the baseline on every configured metric.

    ``data`` maps a metric's name to its :class:`Samples` or :class:`Counts`; a metric missing
    from it has no data. Raises :class:`ConfigError` for an empty or duplicated metric list, data
    of the wrong kind, data for a metric not configured, or samples with NaN.
    """
    settings = settings or JudgeSettings()
    if not metrics:
        raise ConfigError("judge: no metrics configured; a rollout needs at least one metric to judge")
    names = [m.name for m in metrics]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"judge: metric names repeat ({', '.join(duplicated)}); give each a unique name")
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(
            f"judge: data for unconfigured metric(s) {', '.join(unknown)}; configure or drop them"
        )
    results = tuple(_judge_metric(m, data.get(m.name), settings) for m in metrics)
    verdict, score, reason = _combine(results, settings)
    return JudgeResult(
        verdict=verdict,
        score=score,
        reason=reason,
        metrics=results,
        confidence=settings.confidence,
        pass_threshold=settings.pass_threshold,
        marginal_threshold=settings.marginal_threshold,
        failed=tuple(m.name for m in results if m.verdict == "fail"),
    )

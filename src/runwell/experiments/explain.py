"""Every rollout decision, explained afterwards: the steps, the windows, each metric's numbers.

The history is the ``rollout_events`` table: one line per transition (start, advance, extend,
promote, rollback, pause, resume, abort, revert) and per judged look that held, each with the
window judged and the judge's full result. :func:`history` reads it, :func:`explain_text` prints
it for ``runwell rollout explain`` and :func:`ab_report` names an A/B test's winner on its primary
metric with the interval of the difference.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from runwell.experiments.state import FeatureState
from runwell.rollout.judge import JudgeResult
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import ABStrategy, CanaryStrategy
from runwell.store import Database

__all__ = ["Look", "ab_report", "explain_text", "history"]


@dataclass(frozen=True, slots=True)
class Look:
    """One line of a rollout's history: a transition, or a judged window that held."""

    at: float
    action: str
    from_state: str
    to_state: str
    from_step: int
    to_step: int
    from_percent: float
    to_percent: float
    actor: str
    reason: str
    window: dict[str, Any] | None
    requests: int | None
    result: JudgeResult | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the judge's result in full)."""
        return {
            "at": self.at,
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "from_step": self.from_step,
            "to_step": self.to_step,
            "from_percent": self.from_percent,
            "to_percent": self.to_percent,
            "actor": self.actor,
            "reason": self.reason,
            "window": self.window,
            "requests": self.requests,
            "judge": None if self.result is None else self.result.to_dict(),
        }


def history(db: Database, feature: str, rollout_id: str | None = None) -> tuple[str | None, list[Look]]:
    """``(rollout id, its looks in order)``: the given rollout's, or the feature's latest one's."""
    if rollout_id is None:
        row = db.query_one(
            "SELECT rollout_id FROM rollout_events WHERE feature = ? ORDER BY at DESC LIMIT 1",
            (feature,),
            action=f"find the latest rollout of {feature}",
        )
        if row is None:
            return None, []
        rollout_id = str(row[0])
    rows = db.query(
        "SELECT evidence FROM rollout_events WHERE feature = ? AND rollout_id = ? ORDER BY at, id",
        (feature, rollout_id),
        action=f"read the history of rollout {rollout_id}",
    )
    looks = []
    for (raw,) in rows:
        data = orjson.loads(raw)
        event = data["event"]
        evidence = event.get("evidence")
        looks.append(
            Look(
                at=float(event["at"]),
                action=event["action"],
                from_state=event["from_state"],
                to_state=event["to_state"],
                from_step=int(event["from_step"]),
                to_step=int(event["to_step"]),
                from_percent=float(event["from_percent"]),
                to_percent=float(event["to_percent"]),
                actor=event["actor"],
                reason=event["reason"],
                window=data.get("window"),
                requests=data.get("requests"),
                result=None if evidence is None else JudgeResult.from_dict(evidence),
            )
        )
    looks.sort(key=lambda look: look.at)
    return rollout_id, looks


def ab_report(rollout: Rollout | None, looks: Sequence[Look], metric: str) -> dict[str, Any] | None:
    """An A/B test's report: the winner on ``metric`` at the latest judged look, with the estimated
    difference (candidate minus baseline) and its confidence interval; ``None`` for other rollouts."""
    if rollout is None or not isinstance(rollout.strategy, ABStrategy):
        return None
    judged = [look for look in looks if look.result is not None]
    if not judged:
        return {"metric": metric, "winner": None, "reason": "not judged yet"}
    last = judged[-1]
    assert last.result is not None
    try:
        result = last.result.metric(metric)
    except KeyError:
        return {"metric": metric, "winner": None, "reason": f"{metric} was not judged"}
    if result.verdict == "nodata":
        winner, why = None, f"no data yet ({result.explanation})"
    elif result.shift == "better":
        winner, why = rollout.candidate, "the candidate is significantly better"
    elif result.shift == "worse":
        winner, why = rollout.baseline, "the candidate is significantly worse"
    else:
        winner, why = None, "no significant difference"
    return {
        "metric": metric,
        "winner": winner,
        "arm": None if winner is None else ("candidate" if winner == rollout.candidate else "baseline"),
        "reason": why,
        "baseline": {"variant": rollout.baseline, "level": result.baseline_level, "n": result.baseline_n},
        "candidate": {"variant": rollout.candidate, "level": result.candidate_level, "n": result.candidate_n},
        "difference": result.estimate,
        "ci": [result.ci_low, result.ci_high],
        "confidence": result.confidence,
        "p_value": result.p_value,
        "test": result.test,
        "at": last.at,
    }


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


def _strategy(rollout: Rollout) -> str:
    s = rollout.strategy
    if isinstance(s, CanaryStrategy):
        steps = ", ".join(f"{p:g}" for p in s.steps)
        return f"canary, steps [{steps}] %, {s.interval_s:g} s each"
    if isinstance(s, ABStrategy):
        horizon = " or ".join(
            part
            for part in (
                None if s.horizon_requests is None else f"{s.horizon_requests} candidate requests",
                None if s.horizon_s is None else f"{s.horizon_s:g} s",
            )
            if part
        )
        return f"A/B, {s.percent:g} % on the candidate until {horizon}, decision {s.decision}"
    return f"shadow, {s.sample_rate:.0%} of requests copied"


def _window(window: dict[str, Any] | None) -> str:
    if not window:
        return ""
    parts = []
    for arm in ("baseline", "candidate"):
        side = window.get(arm)
        if side:
            parts.append(
                f"{arm} {_when(side.get('from'))} – {_when(side.get('to'))} ({side.get('requests')} requests)"
            )
    return "    window: " + "; ".join(parts)


def explain_text(
    feature: str, state: FeatureState | None, rollout_id: str | None, looks: Sequence[Look], metric: str
) -> str:
    """The history as ``runwell rollout explain`` prints it."""
    rollout = None if state is None else state.rollout
    if rollout_id is None:
        return f"{feature} has no rollout history."
    lines = [f"Rollout {rollout_id} of {feature}"]
    if rollout is not None and rollout.rollout_id == rollout_id:
        lines.append(f"  {rollout.candidate} over {rollout.baseline}: {_strategy(rollout)}")
        lines.append(f"  now {rollout.state}, {rollout.candidate_percent:g} % of traffic on the candidate")
    lines.append("")
    for look in looks:
        move = look.action if look.action != "hold" else "look (held)"
        step = (
            f"step {look.from_step + 1}"
            if look.from_step == look.to_step
            else f"step {look.from_step + 1} -> {look.to_step + 1}"
        )
        lines.append(
            f"{_when(look.at)}  {move:<12} {look.from_state} -> {look.to_state}, {step}, "
            f"{look.from_percent:g}% -> {look.to_percent:g}% on the candidate, by {look.actor}"
        )
        lines.append(f"    {look.reason}")
        if look.window:
            lines.append(_window(look.window))
        if look.result is not None:
            lines.extend("    " + line for line in look.result.explain().splitlines())
    report = ab_report(
        rollout if rollout is not None and rollout.rollout_id == rollout_id else None, looks, metric
    )
    if report is not None:
        lines.append("")
        if report.get("winner") is None:
            lines.append(f"A/B report on {metric}: no winner ({report['reason']})")
        else:
            low, high = report["ci"]
            lines.append(
                f"A/B report on {metric}: winner {report['winner']} ({report['arm']}): {report['reason']}; "
                f"difference {report['difference']:+.4g}, {report['confidence']:.0%} CI "
                f"[{low:.4g}, {high:.4g}], {report['candidate']['level']:.4g} vs "
                f"{report['baseline']['level']:.4g}"
            )
    return "\n".join(lines)

"""Read a judging window from the store: each arm's records, online scores and user feedback.

A window is a selection of request records per arm (:class:`Selection`) and a time range; the
scores and the feedback that count are those of the selected requests, whenever they arrived.

- A canary step: the records of each arm (``requests.arm``) since the step's window opened. On a
  step that sends all traffic to the candidate no baseline traffic is left, so the baseline's side
  is its traffic during the rollout's earlier steps.
- An A/B test: each arm since the start.
- A shadow run: the candidate's shadow records, against the served requests they copied.
- The always-on rule: a version's records (variant and prompt version) in a time range.

Synchronous (it reads the database): the gateway calls it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from runwell.experiments.metrics import ArmWindow
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import CanaryStrategy, ShadowStrategy
from runwell.store import Database

__all__ = ["Selection", "Window", "read_window", "rollout_selections", "version_selection"]

_NOT_SHADOW = "(r.outcome IS NULL OR r.outcome <> 'shadow')"
_QUALITY = frozenset({"quality", "quality_failures"})


@dataclass(frozen=True, slots=True)
class Selection:
    """Which records make one arm's side: a SQL condition on ``requests r`` and its parameters."""

    where: str
    params: tuple[Any, ...]
    start: float
    end: float

    def describe(self) -> dict[str, Any]:
        """The time range, for the history."""
        return {"from": self.start, "to": self.end}


@dataclass(frozen=True, slots=True)
class Window:
    """Both arms' traffic in one judging window."""

    baseline: ArmWindow
    candidate: ArmWindow
    baseline_range: dict[str, Any]
    candidate_range: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """The ranges and request counts, for the history and ``rollout explain``."""
        return {
            "baseline": {**self.baseline_range, "requests": self.baseline.requests},
            "candidate": {**self.candidate_range, "requests": self.candidate.requests},
        }


def _arm(feature: str, arm: str, start: float, end: float, extra: str = _NOT_SHADOW) -> Selection:
    return Selection(
        f"r.feature = ? AND r.arm = ? AND {extra} AND r.started_at >= ? AND r.started_at < ?",
        (feature, arm, start, end),
        start,
        end,
    )


def rollout_selections(feature: str, rollout: Rollout, now: float) -> tuple[Selection, Selection]:
    """``(baseline, candidate)`` selections of the rollout's current window (see the module doc)."""
    started = rollout.started_at if rollout.started_at is not None else now
    strategy = rollout.strategy
    if isinstance(strategy, ShadowStrategy):
        candidate = _arm(feature, "candidate", started, now, "r.outcome = 'shadow'")
        copied = (
            "r.request_id IN (SELECT c.shadow_of FROM requests c WHERE c.feature = ? "
            "AND c.outcome = 'shadow' AND c.started_at >= ? AND c.started_at < ?)"
        )
        baseline = Selection(
            f"r.feature = ? AND r.arm = 'baseline' AND {_NOT_SHADOW} AND {copied}",
            (feature, feature, started, now),
            started,
            now,
        )
        return baseline, candidate
    if isinstance(strategy, CanaryStrategy):
        opened = rollout.window_start if rollout.window_start is not None else started
        candidate = _arm(feature, "candidate", opened, now)
        if rollout.candidate_percent >= 100.0:
            return _arm(feature, "baseline", started, opened), candidate
        return _arm(feature, "baseline", opened, now), candidate
    return _arm(feature, "baseline", started, now), _arm(feature, "candidate", started, now)


def version_selection(
    feature: str, variant: str, prompt_version: str | None, start: float, end: float
) -> Selection:
    """One version's records (a variant at a prompt version) in ``[start, end)``, shadows aside."""
    where = f"r.feature = ? AND r.variant = ? AND {_NOT_SHADOW} AND r.started_at >= ? AND r.started_at < ?"
    params: tuple[Any, ...] = (feature, variant, start, end)
    if prompt_version is not None:
        where += " AND r.prompt_version = ?"
        params += (prompt_version,)
    return Selection(where, params, start, end)


def _is_error(status: str, http_status: int, outcome: str | None) -> bool:
    # The arm's variant failed: a server-side failure, a stream cut after it started (200 sent),
    # or an answer that had to come from a fallback or the degradation.
    if outcome in ("fallback", "degraded"):
        return True
    return status == "error" and (http_status >= 500 or http_status == 200)


def _read_arm(db: Database, selection: Selection, metrics: frozenset[str]) -> ArmWindow:
    arm = ArmWindow()
    rows = db.query(
        "SELECT r.status, r.http_status, r.outcome, r.latency_ms, r.cost_usd, r.guardrails "
        f"FROM requests r WHERE {selection.where}",
        selection.params,
        action="read a rollout window",
    )
    for status, http_status, outcome, latency, cost, guardrails in rows:
        blocked = outcome == "blocked" or (guardrails is not None and '"blocked"' in str(guardrails))
        arm.add_request(
            error=_is_error(str(status), int(http_status), outcome),
            blocked=blocked,
            answered=status == "ok",
            latency_ms=None if latency is None else float(latency),
            cost_usd=None if cost is None else float(cost),
        )
    if metrics & _QUALITY:
        scored = db.query(
            "SELECT s.request_id, s.score, s.passed FROM scores s "
            f"JOIN requests r ON r.request_id = s.request_id WHERE {selection.where} ORDER BY s.request_id",
            selection.params,
            action="read a rollout window's online scores",
        )
        for group in _by_request(scored):
            arm.add_scores(
                (None if score is None else float(score), None if passed is None else bool(passed))
                for _, score, passed in group
            )
    if "feedback" in metrics:
        feedback = db.query(
            "SELECT f.score FROM feedback f JOIN requests r ON r.request_id = f.request_id "
            f"WHERE {selection.where} AND f.score IS NOT NULL",
            selection.params,
            action="read a rollout window's feedback",
        )
        for (score,) in feedback:
            arm.add_feedback(float(score))
    return arm


def _by_request(rows: Sequence[tuple[Any, ...]]) -> Iterable[list[tuple[Any, ...]]]:
    group: list[tuple[Any, ...]] = []
    for row in rows:
        if group and row[0] != group[0][0]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def read_window(db: Database, baseline: Selection, candidate: Selection, metrics: Iterable[str]) -> Window:
    """Both arms' traffic, scores and feedback for the judge."""
    names = frozenset(metrics)
    return Window(
        baseline=_read_arm(db, baseline, names),
        candidate=_read_arm(db, candidate, names),
        baseline_range=baseline.describe(),
        candidate_range=candidate.describe(),
    )

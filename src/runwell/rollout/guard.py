"""The always-on rule: after a rollout ends, keep watching the version that serves.

The controller judges the serving version's current window (as the candidate) against the
previous version's last window (as the baseline) with the same metrics; a critical metric that
fails is a breach, and :func:`check_serving` turns it into a rollback recommendation. Only
critical breaches count: a marginal score is a reason to look, not to roll back a promoted version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runwell.rollout.judge import JudgeResult

__all__ = ["RollbackRecommendation", "check_serving"]


@dataclass(frozen=True, slots=True)
class RollbackRecommendation:
    """Roll ``serving`` back to ``previous``: which critical metrics breached, and the evidence."""

    serving: str
    previous: str
    at: float
    breached: tuple[str, ...]
    reason: str
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict for the audit entry and the alert."""
        return {
            "serving": self.serving,
            "previous": self.previous,
            "at": self.at,
            "breached": list(self.breached),
            "reason": self.reason,
            "evidence": self.evidence,
        }


def check_serving(
    result: JudgeResult, *, serving: str, previous: str, now: float
) -> RollbackRecommendation | None:
    """A recommendation when a critical metric of ``serving`` failed against ``previous``, else ``None``."""
    breached = tuple(m.name for m in result.metrics if m.critical and m.verdict == "fail")
    if not breached:
        return None
    lines = "; ".join(result.metric(name).explanation for name in breached)
    return RollbackRecommendation(
        serving=serving,
        previous=previous,
        at=now,
        breached=breached,
        reason=f"{serving} is worse than {previous} on critical metric(s): {lines}",
        evidence=result.to_dict(),
    )

"""The item model: one checklist item's result, the sections they belong to, and the whole report.

An item is ``pass``, ``fail`` or ``n/a``, with the evidence that was looked at and, when it fails,
the one thing to do. ``automated`` says how the practice it checks is carried out: by a machine that
runs it repeatedly (an alert rule the gateway evaluates, a CI gate, a live probe) or by people and
documents (a written problem statement, a runbook). The score counts an automated pass as one point
and a manual pass as half a point, in the manner of the ML Test Score.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["SECTIONS", "Item", "Level", "Report", "Status"]

Status = Literal["pass", "fail", "n/a"]

SECTIONS: dict[str, str] = {
    "pre-ship": "Pre-ship",
    "production": "Production readiness",
    "cost": "Cost control",
    "monday": "The Monday morning test",
}
"""Section ids, in report order, and their titles."""


@dataclass(frozen=True, slots=True)
class Item:
    """One checklist item and what checking it found."""

    id: str
    section: str
    title: str
    status: Status
    evidence: str
    fix: str = ""
    required: bool = True
    automated: bool = False

    @property
    def points(self) -> float:
        """1 for an automated pass, 0.5 for a manual pass, 0 otherwise."""
        if self.status != "pass":
            return 0.0
        return 1.0 if self.automated else 0.5

    def required_as(self, strict: bool) -> Item:
        """This item, required when ``strict``."""
        return replace(self, required=True) if strict and not self.required else self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``name``/``detail`` are what the console's readiness table shows."""
        detail = (
            self.evidence if self.status != "fail" or not self.fix else f"{self.evidence} Fix: {self.fix}"
        )
        return {
            "id": self.id,
            "section": self.section,
            "name": f"{self.id} {self.title}",
            "title": self.title,
            "status": self.status,
            "required": self.required,
            "automated": self.automated,
            "points": self.points,
            "evidence": self.evidence,
            "fix": self.fix if self.status == "fail" else "",
            "detail": detail,
        }


@dataclass(frozen=True, slots=True)
class Level:
    """One maturity level's criteria: ``(criterion, met, evidence)`` each."""

    level: int
    name: str
    criteria: tuple[tuple[str, bool, str], ...]

    @property
    def met(self) -> bool:
        """Every criterion is met."""
        return all(ok for _, ok, _ in self.criteria)


@dataclass(frozen=True)
class Report:
    """A whole readiness report for one feature."""

    feature: str
    spec_path: str
    spec_version: str
    at: float
    mode: str
    items: tuple[Item, ...]
    levels: tuple[Level, ...]
    sections: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def level(self) -> int:
        """The highest level whose criteria, and every lower level's, are met."""
        reached = 0
        for level in sorted(self.levels, key=lambda lv: lv.level):
            if not level.met:
                break
            reached = level.level
        return reached

    @property
    def score(self) -> float:
        """The weakest section's share of its possible points (0 to 1)."""
        shares = [s["share"] for s in self.sections.values() if s["possible"] > 0]
        return min(shares) if shares else 0.0

    @property
    def weakest(self) -> str | None:
        """The section the score comes from."""
        scored = [(s["share"], name) for name, s in self.sections.items() if s["possible"] > 0]
        return min(scored)[1] if scored else None

    @property
    def failed_required(self) -> list[Item]:
        """The required items that failed (any of them makes ``runwell check`` exit 1)."""
        return [i for i in self.items if i.required and i.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the form ``--save`` stores and the console reads (``checks``)."""
        return {
            "feature": self.feature,
            "spec": self.spec_path,
            "spec_version": self.spec_version,
            "at": self.at,
            "mode": self.mode,
            "score": round(self.score, 4),
            "weakest_section": self.weakest,
            "level": self.level,
            "sections": self.sections,
            "levels": [
                {
                    "level": lv.level,
                    "name": lv.name,
                    "met": lv.met,
                    "criteria": [{"criterion": c, "met": ok, "evidence": e} for c, ok, e in lv.criteria],
                }
                for lv in self.levels
            ],
            "passed": not self.failed_required,
            "checks": [i.to_dict() for i in self.items],
        }

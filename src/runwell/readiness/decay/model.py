"""One decay signal: which decay mode it watches, how it stands, the fact behind it, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["MODES", "Signal", "SignalStatus", "age_status"]

SignalStatus = Literal["ok", "warn", "bad", "n/a"]

MODES: dict[str, str] = {
    "ground_truth": "ground truth slips",
    "operators": "operators drift",
    "guardrails": "guardrails relax",
}
"""Decay mode ids and their names."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One fact about decay. ``bad`` is past the threshold: it raises a ``decay_<mode>`` event."""

    mode: str
    check: str
    status: SignalStatus
    detail: str
    fix: str = ""

    @property
    def area(self) -> str:
        """The decay mode's name (what the console's table shows)."""
        return MODES[self.mode]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "mode": self.mode,
            "area": self.area,
            "check": self.check,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix if self.status in ("warn", "bad") else "",
        }


def age_status(days: float | None, warn_days: float, bad_days: float) -> SignalStatus:
    """``bad`` past ``bad_days`` (or never), ``warn`` past ``warn_days``, else ``ok``."""
    if days is None or days > bad_days:
        return "bad"
    return "warn" if days > warn_days else "ok"

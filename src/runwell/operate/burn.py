"""SLO burn rates with the SRE workbook's multiwindow, multi-burn-rate pairs.

An SLO of ``objective`` percent over a ``period`` leaves an error budget of ``1 - objective/100``
of the requests. The *burn rate* over a window is the window's error ratio divided by that
budget: at 1x the budget lasts exactly the period, at 14.4x it is gone in 1/14.4 of it.

The workbook's pairs for a 30-day SLO (slok/sloth ``google-30d.yaml``, citing
https://sre.google/workbook/alerting-on-slos/):

======  ================  ===========  ============  =========
action  budget consumed   long window  short window  burn rate
======  ================  ===========  ============  =========
page    2 %               1 h          5 min         14.4
page    5 %               6 h          30 min        6
ticket  10 %              1 d          2 h           3
ticket  10 %              3 d          6 h           1
======  ================  ===========  ============  =========

The burn rate of a pair is ``budget consumed x period / long window`` (2 % x 720 h / 1 h = 14.4),
and a pair alerts only when *both* windows burn faster than it, that is when both error ratios
exceed ``burn rate x (1 - objective)``: the long window proves the budget is really going, the
short one that it is still going now (so the alert resolves soon after the bleeding stops).

For another period the windows scale with it (a 7-day SLO pages on 14 min and 70 s) and the burn
rates stay the same, since both the budget share and the window are fractions of the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from runwell.errors import ConfigError

__all__ = [
    "PAIRS",
    "WORKBOOK_PERIOD_S",
    "BurnPair",
    "PairVerdict",
    "burn_rate",
    "error_budget",
    "evaluate_pairs",
    "pairs_for",
]

WORKBOOK_PERIOD_S = 30 * 86400.0
"""The period the workbook's windows are written for: 30 days."""

_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class BurnPair:
    """One multiwindow rule: alert when both windows burn faster than ``factor``."""

    action: Literal["page", "ticket"]
    budget_share: float
    """The share of the whole period's error budget this rule lets go before it alerts."""
    long_s: float
    short_s: float
    period_s: float = WORKBOOK_PERIOD_S

    @property
    def factor(self) -> float:
        """The burn rate both windows must exceed: ``budget_share x period / long window``."""
        return self.budget_share * self.period_s / self.long_s

    def threshold(self, objective: float) -> float:
        """The error ratio both windows must exceed for an SLO of ``objective`` percent."""
        return self.factor * error_budget(objective)

    def label(self) -> str:
        """``14.4x over 1h and 5m`` (windows in the largest whole unit)."""
        return f"{self.factor:g}x over {_duration(self.long_s)} and {_duration(self.short_s)}"


PAIRS: tuple[BurnPair, ...] = (
    BurnPair("page", 0.02, 1 * _HOUR, 5 * 60.0),
    BurnPair("page", 0.05, 6 * _HOUR, 30 * 60.0),
    BurnPair("ticket", 0.10, 24 * _HOUR, 2 * _HOUR),
    BurnPair("ticket", 0.10, 72 * _HOUR, 6 * _HOUR),
)
"""The workbook's four pairs for a 30-day SLO (see the module docstring)."""


def error_budget(objective: float) -> float:
    """The share of requests an SLO of ``objective`` percent may fail: 99.9 -> 0.001."""
    if not 0 < objective < 100:
        raise ConfigError(f"an SLO objective is a percentage strictly between 0 and 100, got {objective}")
    return (100.0 - objective) / 100.0


def burn_rate(error_ratio: float, objective: float) -> float:
    """How many times faster than sustainable the budget burns at ``error_ratio``."""
    return error_ratio / error_budget(objective)


def pairs_for(period_s: float) -> tuple[BurnPair, ...]:
    """The four pairs for an SLO over ``period_s`` seconds: the workbook's windows scaled by
    ``period / 30 days`` (same burn rates)."""
    if not period_s > 0:
        raise ConfigError(f"an SLO period must be positive, got {period_s} s")
    scale = period_s / WORKBOOK_PERIOD_S
    return tuple(
        BurnPair(p.action, p.budget_share, p.long_s * scale, p.short_s * scale, period_s) for p in PAIRS
    )


@dataclass(frozen=True, slots=True)
class PairVerdict:
    """One pair evaluated: each window's error ratio (``None``: too few requests) and whether it
    alerts."""

    pair: BurnPair
    long_ratio: float | None
    short_ratio: float | None
    alerting: bool


def evaluate_pairs(
    pairs: Sequence[BurnPair], objective: float, ratios: dict[float, float | None]
) -> list[PairVerdict]:
    """Each pair's verdict from the error ratio measured over each window (``ratios`` maps a
    window's length in seconds to its ratio, ``None`` when there is too little data)."""
    out = []
    for pair in pairs:
        long_ratio, short_ratio = ratios.get(pair.long_s), ratios.get(pair.short_s)
        limit = pair.threshold(objective)
        alerting = (
            long_ratio is not None and short_ratio is not None and long_ratio > limit and short_ratio > limit
        )
        out.append(PairVerdict(pair, long_ratio, short_ratio, alerting))
    return out


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", _HOUR), ("m", 60.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"

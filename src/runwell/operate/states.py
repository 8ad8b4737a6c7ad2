"""The life of one alert: ``ok`` → ``pending`` → ``firing`` → ``resolved``, without flapping.

A pure function of the previous state, whether the condition holds now, and the time: the
evaluator stores the result and acts on the transition it reports (page on ``fire``, tell the
channels on ``resolve``).

* The condition must hold for ``for_s`` before the alert fires (``pending`` meanwhile); a dip
  before that sends it back to ``ok`` without anyone being told.
* A firing alert resolves only after the condition has been false for ``keep_firing_s`` in a
  row; holding again in between resets that clock. So an error rate that hovers around its
  threshold pages once and resolves once, not every evaluation.
* No data (too few requests to compute a rate) counts as "does not hold".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["AlertState", "State", "Transition", "step"]

State = Literal["ok", "pending", "firing", "resolved"]
Transition = Literal["pending", "fire", "resolve", "cancel"]


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where one alert stands: ``since`` is when it entered ``state``; ``clear_since`` is when a
    firing alert's condition stopped holding (``None`` while it holds)."""

    state: State = "ok"
    since: float | None = None
    clear_since: float | None = None

    @property
    def active(self) -> bool:
        """Pending or firing."""
        return self.state in ("pending", "firing")


def step(
    prev: AlertState, holds: bool, now: float, *, for_s: float, keep_firing_s: float
) -> tuple[AlertState, Transition | None]:
    """The next state and the transition that led to it (``None`` when nothing changed that
    anyone needs to hear about)."""
    if prev.state == "firing":
        if holds:
            return (replace(prev, clear_since=None) if prev.clear_since is not None else prev), None
        clear = prev.clear_since if prev.clear_since is not None else now
        if now - clear >= keep_firing_s:
            return AlertState("resolved", now), "resolve"
        return replace(prev, clear_since=clear), None
    if prev.state == "pending":
        if not holds:
            return AlertState("ok", now), "cancel"
        since = prev.since if prev.since is not None else now
        if now - since >= for_s:
            return AlertState("firing", now), "fire"
        return prev, None
    if not holds:
        return prev, None
    if for_s <= 0:
        return AlertState("firing", now), "fire"
    return AlertState("pending", now), "pending"

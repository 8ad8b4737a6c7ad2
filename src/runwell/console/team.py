"""Who is on call for a feature, who is next, and how many days the authors' handoff window has left.

The plan is the operations layer's (:func:`runwell.operate.oncall_plan.compile_oncall`: the spec's
rotation, overrides, escalation and handoff window), answered by :mod:`runwell.ops.oncall` at the
console's clock, so the page and the pager always agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runwell.errors import ConfigError
from runwell.operate.oncall_plan import compile_oncall
from runwell.ops.oncall import OnCallSummary

if TYPE_CHECKING:
    from runwell.spec.loader import LoadedSpec

__all__ = ["OnCallView", "on_call"]


@dataclass(frozen=True)
class OnCallView:
    """The summary (``None`` without a rotation), the escalation steps, and why when there is none."""

    summary: OnCallSummary | None
    escalation: list[tuple[float, str]]
    note: str


def on_call(loaded: LoadedSpec | None, now: float) -> OnCallView:
    """The feature's on-call picture at ``now`` (epoch seconds)."""
    if loaded is None:
        return OnCallView(None, [], "The spec is not loaded here: pass --spec to runwell console.")
    steps = [(s.delay_s / 60.0, s.notify) for s in loaded.spec.oncall.escalation]
    try:
        plan = compile_oncall(loaded)
    except ConfigError as exc:
        return OnCallView(None, steps, f"The on-call section cannot be compiled: {exc}")
    summary = plan.summary(dt.datetime.fromtimestamp(now, dt.UTC))
    note = "" if summary is not None else "The spec declares no oncall.rotation: nobody is on call."
    return OnCallView(summary, steps, note)

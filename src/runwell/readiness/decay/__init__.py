"""The three ways a feature decays after cutover, measured from the spec's git history, the store
and the signed audit log: ground truth slips, operators drift, guardrails relax.

:func:`decay_report` is the one implementation, used by ``runwell decay``, the console's decay
table and the gateway's periodic job (:func:`decay_events` turns the signals past their threshold
into ``decay_<mode>`` events, which alerts on the ``decay`` metric page like any other failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runwell.readiness.context import Thresholds
from runwell.readiness.decay.ground_truth import ground_truth
from runwell.readiness.decay.guardrails import guardrails, overrides
from runwell.readiness.decay.model import MODES, Signal
from runwell.readiness.decay.operators import drills_signal, never_acked, operators, reviews_signal

if TYPE_CHECKING:
    from runwell.audit.log import AuditLog
    from runwell.drift import Embed
    from runwell.spec.loader import LoadedSpec
    from runwell.store import Database

__all__ = ["MODES", "Signal", "collect_decay_events", "decay_events", "decay_report"]


def decay_report(
    db: Database,
    log: AuditLog | None,
    loaded: LoadedSpec | None,
    feature: str,
    now: float,
    *,
    thresholds: Thresholds | None = None,
    embed: Embed | None = None,
) -> list[Signal]:
    """Every decay signal of ``feature`` at ``now`` (blocking: store, audit log, git)."""
    limits = thresholds or Thresholds()
    if loaded is None:
        # No spec at hand (a console without the spec): only what the store and the log say.
        return [
            drills_signal(db, feature, now, limits),
            never_acked(db, feature),
            reviews_signal(db, feature, now),
            *overrides(db, log, feature, now, limits),
        ]
    return [
        *ground_truth(loaded, db, now, limits, embed=embed),
        *operators(loaded, db, now, limits),
        *guardrails(loaded, db, log, now, limits),
    ]


def decay_events(feature: str, signals: Sequence[Signal]) -> list[tuple[str, dict[str, Any]]]:
    """``(kind, details)`` of one event per decay mode with a signal past its threshold."""
    out = []
    for mode in MODES:
        bad = [s for s in signals if s.mode == mode and s.status == "bad"]
        if bad:
            out.append(
                (
                    f"decay_{mode}",
                    {
                        "feature": feature,
                        "mode": MODES[mode],
                        "signals": [{"check": s.check, "detail": s.detail, "fix": s.fix} for s in bad],
                    },
                )
            )
    return out


def collect_decay_events(
    specs: Sequence[LoadedSpec],
    db: Database,
    log: AuditLog | None,
    now: float,
    *,
    features: Sequence[str] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The decay events of ``features`` (default: every spec's feature), for the gateway's job.

    Blocking (store, audit log, git): call it from a worker thread, and emit on the event loop.
    """
    out = []
    for loaded in specs:
        if features is None or loaded.name in features:
            out += decay_events(loaded.name, decay_report(db, log, loaded, loaded.name, now))
    return out

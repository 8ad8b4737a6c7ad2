"""Which parts of a spec this gateway enforces, and which it only validates so far.

A spec that says ``pii_redaction: true`` while nothing redacts is the "guardrail quietly off" failure
the product exists to prevent. Until a section is enforced, the gateway names it at start-up and in
``/readyz``, so nobody mistakes a declaration for a running control.
"""

from __future__ import annotations

from runwell.spec.models import FeatureSpec

__all__ = ["declared_not_enforced"]


def declared_not_enforced(spec: FeatureSpec) -> list[str]:
    """Dotted names of the sections ``spec`` turns on that this gateway does not yet enforce.

    Guardrails, budgets, fallbacks, degradation, resilience and ``user_id.hash`` are enforced on
    every request (:mod:`runwell.gateway.chat`); a rollout and alerts are validated only.
    """
    declared = {
        "rollout": spec.rollout.strategy != "none",
        "alerts": bool(spec.alerts),
    }
    return [name for name, on in declared.items() if on]

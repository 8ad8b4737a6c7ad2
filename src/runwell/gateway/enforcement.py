"""Which parts of a spec this gateway enforces, and which it only validates so far.

A spec that says ``pii_redaction: true`` while nothing redacts is the "guardrail quietly off" failure
the product exists to prevent. Until a section is enforced, the gateway names it at start-up and in
``/readyz``, so nobody mistakes a declaration for a running control.
"""

from __future__ import annotations

from runwell.spec.models import FeatureSpec

__all__ = ["declared_not_enforced"]


def declared_not_enforced(spec: FeatureSpec) -> list[str]:
    """Dotted names of the sections ``spec`` turns on that this gateway does not yet enforce."""
    g, b, f = spec.guardrails, spec.budgets, spec.fallbacks
    declared = {
        "guardrails.pii_redaction": g.pii_redaction,
        "guardrails.injection_check": g.injection_check,
        "guardrails.output_schema": g.output_schema is not None,
        "guardrails.max_input_chars": g.max_input_chars is not None,
        "budgets": any(v is not None for v in (b.daily_usd, b.monthly_usd, b.per_request_max_tokens)),
        "fallbacks.chain": bool(f.chain),
        "fallbacks.degradation": f.degradation is not None,
        "rollout": spec.rollout.strategy != "none",
        "alerts": bool(spec.alerts),
        "user_id.hash": spec.user_id.hash,
    }
    return [name for name, on in declared.items() if on]

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

    Every section is enforced today, so the list is empty; a section added to the spec before its
    runtime lands goes here until it does. Guardrails, budgets, fallbacks, degradation, resilience
    and ``user_id.hash`` are enforced on every request (:mod:`runwell.gateway.chat`); alerts by the
    operations layer (:mod:`runwell.gateway.operations_setup`); the ``rollout`` section (shadow,
    canary and A/B traffic, the judge, automated rollback, online evaluation, drift) by the
    experiment layer (:mod:`runwell.gateway.experiments_setup`).
    """
    declared: dict[str, bool] = {}
    del spec  # nothing is declared-only today (see above)
    return [name for name, on in declared.items() if on]

"""runwell.control: the state an operator changes, each change audited in the same transaction.

API keys today; the kill switch, flags, guardrail overrides and budgets join them. Every change goes
through :func:`runwell.audit.open.change_state`, so the change and its signed audit entry are
stored together or not at all, and asking for the state something already has records nothing.
"""

from runwell.control.keys import create_key, revoke_key

__all__ = ["create_key", "revoke_key"]

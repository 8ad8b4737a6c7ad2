"""runwell.control: the state an operator changes, each change audited in the same transaction.

API keys (:mod:`~runwell.control.keys`) and the levers (:mod:`~runwell.control.levers`: kill switch,
guardrail overrides, flags, budget changes). Every change goes through
:func:`runwell.audit.open.change_state`, so the change and its signed audit entry are stored
together or not at all, and asking for the state something already has records nothing. Also here:
the budget engine (:mod:`~runwell.control.budgets`) and flag evaluation
(:mod:`~runwell.control.flags`), which the gateway runs on those levers.
"""

from runwell.control.keys import create_key, revoke_key

__all__ = ["create_key", "revoke_key"]

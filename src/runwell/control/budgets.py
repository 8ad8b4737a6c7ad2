"""Spending and rate limits, enforced by reservation on every gateway replica.

Before a provider call the gateway reserves the request's *maximum* cost and tokens; after it, it
settles the reservation with what was really used, or releases it if the call failed::

    budgets = RedisBudgets("redis://cache:6379/0")        # or LocalBudgets() for one replica
    limits = Limits(max_output_tokens=1024, feature=ScopeLimits(usd_per_day=50.0),
                    user=ScopeLimits(requests_per_minute=20), alert_at_fraction=0.8)

    reservation = await budgets.reserve(limits, Ask(feature, key_id, user_id,
                                                    input_tokens=812, max_output_tokens=1024,
                                                    max_cost_usd=0.0043))   # BudgetExceeded -> 429
    try:
        response = await call_provider(...)
    except BaseException:
        await budgets.release(reservation)
        raise
    for alert in await budgets.settle(reservation, Usage(cost, input_tokens, output_tokens)):
        raise_event(alert)

How it behaves:

- **Atomic check-and-hold.** ``reserve`` checks every applicable limit (spent + held by requests
  in flight + this request's maximum <= limit) and holds the amounts in all of them in one atomic
  step: a lock in :class:`LocalBudgets`, one Lua script in :class:`RedisBudgets` shared by many
  processes. Concurrent requests therefore overshoot a limit by no more than what requests use
  beyond their own estimate (nothing, when the estimate is the true maximum). A refusal
  (:class:`BudgetExceeded`) names the first limit breached, largest window first, so its
  ``Retry-After`` is the real wait.
- **Windows.** Days and months are UTC calendar windows (a day resets at 00:00 UTC, a month on
  the 1st), matching how invoices and the records' reports count. Minutes are fixed clock
  minutes, not sliding: one counter per minute keeps each check O(1) and one Redis key per
  minute; the price is that up to twice the per-minute limit can pass within 60 s straddling a
  minute boundary. A request's spend is counted in the windows it started in.
- **Scopes.** ``feature`` limits a feature's whole traffic; ``key`` and ``user`` limit one API
  key's and one end user's traffic *to that feature* (limits come from the feature's spec).
- **Reservations expire.** One that is neither settled nor released (its replica crashed) stops
  counting after ``reservation_ttl_s`` (default 300 s, or ``ttl_s`` per call); choose it longer
  than the slowest provider call, streaming included. A late settle still adds its spend.
- **Per-request limits** (``max_input_tokens``, ``max_output_tokens``, ``max_cost_usd``) are
  checked before any store is touched.
- **Alerts.** With ``alert_at_fraction``, the settle that brings a day or month budget's spend to
  that fraction of its limit returns a :class:`BudgetAlert`, once per budget and window, across
  replicas (Redis marks it). Alerts follow settled spend only: a reservation is a maximum and
  may be released, so counting it would alert on requests that never cost anything.
- **Store outage.** :class:`RedisBudgets` answers within its short socket timeout (100 ms by
  default) or raises :class:`BudgetStoreUnavailable`; the gateway then fails open or closed as
  its policy says. :class:`LocalBudgets` has no outage, and restores today's and this month's
  spend from the stored request records at start-up (:meth:`LocalBudgets.seed_from_records`).

Money is counted in whole nano-dollars inside the engine, so boundaries are exact on both backends.
"""

from __future__ import annotations

from runwell.control._budget_local import LocalBudgets
from runwell.control._budget_model import (
    Ask,
    Breach,
    BudgetAlert,
    BudgetExceeded,
    BudgetStoreUnavailable,
    Limits,
    Scope,
    ScopeLimits,
    Unit,
    Usage,
    Window,
)
from runwell.control._budget_plan import Budgets, Reservation
from runwell.control._budget_redis import RedisBudgets
from runwell.control._budget_seed import SpentSoFar, spend_in_records

__all__ = [
    "Ask",
    "Breach",
    "BudgetAlert",
    "BudgetExceeded",
    "BudgetStoreUnavailable",
    "Budgets",
    "Limits",
    "LocalBudgets",
    "RedisBudgets",
    "Reservation",
    "Scope",
    "ScopeLimits",
    "SpentSoFar",
    "Unit",
    "Usage",
    "Window",
    "spend_in_records",
]

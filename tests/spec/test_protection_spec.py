"""The protection sections of the spec: what counts as declared."""

from __future__ import annotations

import pytest

from runwell.spec.protection import Budgets


def test_budgets_with_only_defaults_enforce_nothing() -> None:
    # alert_at_fraction and on_store_unavailable have defaults: they are not limits.
    assert Budgets().enforced is False
    assert Budgets.model_validate({"alert_at_fraction": 0.5}).enforced is False


@pytest.mark.parametrize(
    "section",
    [
        {"daily_usd": 5},
        {"per_request_max_tokens": 512},
        {"per_request": {"max_cost_usd": 0.01}},
        {"per_key": {"requests_per_minute": 10}},
        {"per_user": {"monthly_tokens": 1000}},
    ],
)
def test_any_limit_enforces_budgets(section: dict[str, object]) -> None:
    assert Budgets.model_validate(section).enforced is True

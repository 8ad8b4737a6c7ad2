"""SLO burn rates: the SRE workbook's multiwindow pairs, checked against its worked numbers."""

from __future__ import annotations

import pytest

from runwell.errors import ConfigError
from runwell.operate.burn import PAIRS, WORKBOOK_PERIOD_S, burn_rate, error_budget, evaluate_pairs, pairs_for

HOUR = 3600.0


def test_the_four_pairs_are_the_workbooks_windows_and_burn_rates() -> None:
    table = [(p.action, p.budget_share, p.long_s / HOUR, p.short_s / 60, round(p.factor, 6)) for p in PAIRS]
    assert table == [
        ("page", 0.02, 1, 5, 14.4),
        ("page", 0.05, 6, 30, 6.0),
        ("ticket", 0.10, 24, 120, 3.0),
        ("ticket", 0.10, 72, 360, 1.0),
    ]
    # Burn rate = budget share x 720 h / long window (the reference's formula).
    assert [p.budget_share * 720 / (p.long_s / HOUR) for p in PAIRS] == pytest.approx([14.4, 6, 3, 1])


@pytest.mark.parametrize(
    ("objective", "thresholds"),
    [
        # 99.9 %: a budget of 0.1 % of requests; 14.4x burns it in 50 hours.
        (99.9, [0.0144, 0.006, 0.003, 0.001]),
        (99.5, [0.072, 0.03, 0.015, 0.005]),
        (99.0, [0.144, 0.06, 0.03, 0.01]),
    ],
)
def test_each_pair_alerts_above_its_burn_rate_times_the_error_budget(
    objective: float, thresholds: list[float]
) -> None:
    assert [p.threshold(objective) for p in PAIRS] == pytest.approx(thresholds)


def test_burn_rate_is_the_error_ratio_over_the_budget() -> None:
    assert error_budget(99.9) == pytest.approx(0.001)
    assert burn_rate(0.0144, 99.9) == pytest.approx(14.4)
    assert burn_rate(0.001, 99.9) == pytest.approx(1.0)  # exactly sustainable
    with pytest.raises(ConfigError, match="strictly between 0 and 100"):
        error_budget(100)


def test_a_pair_alerts_only_when_both_windows_burn_too_fast() -> None:
    fast = PAIRS[0]
    just_over, just_under = 0.0145, 0.0143
    verdicts = evaluate_pairs(
        [fast],
        99.9,
        {fast.long_s: just_over, fast.short_s: just_over},
    )
    assert verdicts[0].alerting
    # The burning stopped: the hour still looks bad, the last five minutes do not. No page.
    assert not evaluate_pairs([fast], 99.9, {fast.long_s: 0.05, fast.short_s: just_under})[0].alerting
    # A short spike that the hour has not seen enough of: no page either.
    assert not evaluate_pairs([fast], 99.9, {fast.long_s: just_under, fast.short_s: 0.5})[0].alerting
    # Too little data in a window (None) never alerts.
    assert not evaluate_pairs([fast], 99.9, {fast.long_s: None, fast.short_s: 0.5})[0].alerting


def test_windows_scale_with_the_slo_period_and_burn_rates_do_not() -> None:
    week = pairs_for(7 * 86400.0)
    assert [p.long_s for p in week] == pytest.approx([h * HOUR * 7 / 30 for h in (1, 6, 24, 72)])
    assert [p.short_s for p in week] == pytest.approx([m * 60 * 7 / 30 for m in (5, 30, 120, 360)])
    assert [p.factor for p in week] == pytest.approx([14.4, 6, 3, 1])
    assert pairs_for(WORKBOOK_PERIOD_S) == PAIRS
    assert PAIRS[0].label() == "14.4x over 1h and 5m"

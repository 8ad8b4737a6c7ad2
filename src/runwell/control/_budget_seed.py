"""Today's and this month's spend per feature, API key and end user, read from the request records.

The local budget backend starts from these so that a restart does not reset a daily budget to
zero. One grouped query over this month's records (the ``requests_started`` index bounds it).
"""

from __future__ import annotations

from dataclasses import dataclass

from runwell.control._budget_model import Scope, Window
from runwell.control._budget_plan import Calendar
from runwell.store import Database

__all__ = ["SpentSoFar", "spend_in_records"]

_SPEND = """
SELECT feature, api_key_id, user_id,
       SUM(COALESCE(cost_usd, 0)),
       SUM(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)),
       SUM(CASE WHEN started_at >= ? THEN COALESCE(cost_usd, 0) ELSE 0 END),
       SUM(CASE WHEN started_at >= ? THEN COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) ELSE 0 END)
FROM requests
WHERE started_at >= ? AND started_at < ? AND feature IS NOT NULL
GROUP BY feature, api_key_id, user_id
"""


@dataclass(frozen=True, slots=True)
class SpentSoFar:
    """What one scope spent in one window according to the stored records.

    ``subject`` is the feature name, the API key id or the user id, as ``scope`` says.
    """

    scope: Scope
    feature: str
    subject: str
    window: Window
    window_id: str
    usd: float
    tokens: int


def spend_in_records(db: Database, *, now: float) -> list[SpentSoFar]:
    """Sum the records of the UTC day and month containing ``now``, per feature, key and user.

    Blocking (one query): call it from a worker thread in the gateway. Unpriced requests add no
    dollars (their tokens still count).
    """
    calendar = Calendar()
    day, month = calendar.span("day", now), calendar.span("month", now)
    rows = db.query(
        _SPEND,
        (day.start, day.start, month.start, month.end),
        action="sum this month's spend per feature, API key and user for the budgets",
    )
    sums: dict[tuple[Scope, str, str, Window], list[float]] = {}

    def add(scope: Scope, feature: str, subject: str, window: Window, usd: float, tokens: float) -> None:
        total = sums.setdefault((scope, feature, subject, window), [0.0, 0])
        total[0] += usd
        total[1] += tokens

    for feature, key_id, user_id, month_usd, month_tokens, day_usd, day_tokens in rows:
        windows: tuple[tuple[Window, float, int], ...] = (
            ("month", float(month_usd), int(month_tokens)),
            ("day", float(day_usd), int(day_tokens)),
        )
        for window, usd, tokens in windows:
            add("feature", feature, feature, window, usd, tokens)
            if key_id is not None:
                add("key", feature, key_id, window, usd, tokens)
            if user_id is not None:
                add("user", feature, user_id, window, usd, tokens)
    ids = {"day": day.id, "month": month.id}
    return [
        SpentSoFar(scope, feature, subject, window, ids[window], usd, int(tokens))
        for (scope, feature, subject, window), (usd, tokens) in sums.items()
    ]

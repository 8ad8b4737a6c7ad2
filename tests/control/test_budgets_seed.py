"""The local backend restores today's and this month's spend from the stored request records."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runwell.control.budgets import (
    Ask,
    BudgetExceeded,
    Limits,
    LocalBudgets,
    ScopeLimits,
    SpentSoFar,
    spend_in_records,
)
from runwell.store import Database
from runwell.store._records import RecordTable
from runwell.telemetry.record import RequestRecord
from tests.control.test_budgets import FakeClock, ts

NOW = "2025-03-14T15:09:26.5"


class ThreadNotingDatabase(Database):
    """A database that notes the thread each query runs on."""

    query_threads: list[int]

    def query(self, sql: str, params: Any = (), *, action: str) -> list[tuple[Any, ...]]:
        self.query_threads.append(threading.get_ident())
        return super().query(sql, params, action=action)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThreadNotingDatabase]:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    database = ThreadNotingDatabase.open(url, base_dir=tmp_path)
    assert isinstance(database, ThreadNotingDatabase)
    database.query_threads = []
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def stored(db: Database, make_record: Callable[..., RequestRecord]) -> Database:
    """Records of this month, of last month and of other features, keys and users."""

    def at(iso: str, **fields: Any) -> RequestRecord:
        return make_record(started_at=ts(iso), **fields)

    records = [
        at(
            "2025-03-14T00:00:00",
            api_key_id="k1",
            user_id="u1",
            cost_usd=0.10,
            input_tokens=100,
            output_tokens=50,
        ),
        at(
            "2025-03-14T15:00:00",
            api_key_id="k2",
            user_id="u1",
            cost_usd=0.20,
            input_tokens=10,
            output_tokens=5,
        ),
        # Unpriced: its tokens count, its dollars are unknown.
        at(
            "2025-03-14T09:00:00",
            api_key_id="k2",
            user_id=None,
            cost_usd=None,
            priced=False,
            input_tokens=7,
            output_tokens=0,
        ),
        at(
            "2025-03-13T23:59:59",
            api_key_id="k1",
            user_id="u2",
            cost_usd=1.00,
            input_tokens=1,
            output_tokens=1,
        ),
        at(
            "2025-03-01T00:00:00",
            api_key_id=None,
            user_id=None,
            cost_usd=2.00,
            input_tokens=0,
            output_tokens=0,
        ),
        at(
            "2025-02-28T23:59:59",
            api_key_id="k1",
            user_id="u1",
            cost_usd=50.0,
            input_tokens=9,
            output_tokens=9,
        ),
        at("2025-03-14T10:00:00", feature="billing-faq", api_key_id="k1", user_id="u1", cost_usd=3.0),
        at("2025-03-14T10:00:01", feature=None, cost_usd=9.0),
    ]
    RecordTable(db).write_records(records)
    return db


def _by_key(entries: list[SpentSoFar]) -> dict[tuple[str, str, str, str], tuple[float, int]]:
    found: dict[tuple[str, str, str, str], tuple[float, int]] = {}
    for e in entries:
        assert e.window_id == ("2025-03-14" if e.window == "day" else "2025-03")
        found[(e.feature, e.scope, e.subject, e.window)] = (round(e.usd, 9), e.tokens)
    return found


def test_spend_is_summed_per_feature_key_and_user_for_today_and_this_month(stored: Database) -> None:
    got = _by_key(spend_in_records(stored, now=ts(NOW)))
    r = "support-reply"
    assert got == {
        (r, "feature", r, "day"): (0.30, 172),
        (r, "feature", r, "month"): (3.30, 174),
        (r, "key", "k1", "day"): (0.10, 150),
        (r, "key", "k1", "month"): (1.10, 152),
        (r, "key", "k2", "day"): (0.20, 22),
        (r, "key", "k2", "month"): (0.20, 22),
        (r, "user", "u1", "day"): (0.30, 165),
        (r, "user", "u1", "month"): (0.30, 165),
        (r, "user", "u2", "month"): (1.00, 2),
        (r, "user", "u2", "day"): (0.0, 0),
        ("billing-faq", "feature", "billing-faq", "day"): (3.0, 168),
        ("billing-faq", "feature", "billing-faq", "month"): (3.0, 168),
        ("billing-faq", "key", "k1", "day"): (3.0, 168),
        ("billing-faq", "key", "k1", "month"): (3.0, 168),
        ("billing-faq", "user", "u1", "day"): (3.0, 168),
        ("billing-faq", "user", "u1", "month"): (3.0, 168),
    }


async def test_a_seeded_backend_starts_from_the_stored_spend(stored: ThreadNotingDatabase) -> None:
    budgets = LocalBudgets(clock=FakeClock(NOW))
    assert await budgets.seed_from_records(stored) == 16
    assert stored.query_threads and threading.get_ident() not in stored.query_threads  # off the loop

    limits = Limits(user=ScopeLimits(usd_per_day=0.5), key=ScopeLimits(usd_per_month=1.2))
    u1 = Ask("support-reply", "k2", "u1", 1, 1, 0.2)
    await budgets.reserve(limits, u1)  # 0.30 spent today + 0.20 = the limit exactly
    with pytest.raises(BudgetExceeded) as caught:
        await budgets.reserve(limits, u1)
    b = caught.value.breach
    assert (b.budget, b.subject, b.spent, b.reserved) == ("user.usd_per_day", "u1", 0.3, 0.2)
    with pytest.raises(BudgetExceeded) as caught:
        await budgets.reserve(limits, Ask("support-reply", "k1", "u3", 1, 1, 0.11))
    assert (caught.value.breach.budget, caught.value.breach.spent) == (
        "key.usd_per_month",
        1.1,
    )


async def test_seeded_spend_of_yesterday_is_gone_tomorrow(stored: Database) -> None:
    clock = FakeClock(NOW)
    budgets = LocalBudgets(clock=clock)
    await budgets.seed_from_records(stored)
    limits = Limits(feature=ScopeLimits(usd_per_day=1.0))
    with pytest.raises(BudgetExceeded):
        await budgets.reserve(limits, Ask("billing-faq", None, None, 1, 1, 0.5))
    clock.set("2025-03-15T00:00:00")
    await budgets.reserve(limits, Ask("billing-faq", None, None, 1, 1, 1.0))


def test_an_empty_store_seeds_nothing(db: Database) -> None:
    assert spend_in_records(db, now=ts(NOW)) == []

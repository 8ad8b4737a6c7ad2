"""On-call rotations, overrides, escalation and the handoff window, on fixed clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from runwell.errors import ConfigError
from runwell.ops.oncall import (
    EscalationLevel,
    EscalationPolicy,
    Handoff,
    HandoffWindow,
    OnCallOf,
    Override,
    Person,
    Rotation,
    Shift,
    who_is_on_call,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def daily(**overrides: object) -> Rotation:
    values: dict[str, object] = {
        "name": "primary",
        "members": ("alice", "bob", "carol"),
        "start": date(2026, 3, 27),
        "time_zone": "Europe/Paris",
        "shift_days": 1,
        "handoff": time(9, 0),
    }
    values.update(overrides)
    return Rotation(**values)  # type: ignore[arg-type]


def test_a_daily_rotation_hands_off_at_the_handoff_time_in_order() -> None:
    r = daily()
    assert r.on_call(paris(2026, 3, 27, 8, 59)) is None  # before the rotation starts
    assert r.on_call(paris(2026, 3, 27, 9, 0)) == "alice"
    assert r.on_call(paris(2026, 3, 28, 8, 59)) == "alice"
    assert r.on_call(paris(2026, 3, 28, 9, 0)) == "bob"
    assert r.on_call(paris(2026, 3, 30, 12, 0)) == "alice"  # wrapped around
    assert r.on_call(datetime(2026, 3, 28, 8, 0, tzinfo=UTC)) == "bob"  # 09:00 CET, any zone works


def test_a_daily_handoff_stays_at_0900_paris_across_spring_forward() -> None:
    r = daily()
    # Clocks jump from 02:00 CET to 03:00 CEST on Sunday 29 March 2026.
    saturday, sunday, monday = (r.shift_start(k) for k in (1, 2, 3))
    assert [(s.hour, s.minute) for s in (saturday, sunday, monday)] == [(9, 0)] * 3
    assert saturday.utcoffset() == timedelta(hours=1) and sunday.utcoffset() == timedelta(hours=2)
    assert sunday.astimezone(UTC) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert r.on_call(paris(2026, 3, 29, 8, 59)) == "bob"
    assert r.on_call(paris(2026, 3, 29, 9, 0)) == "carol"
    # Bob's shift spans the jump, so it is one hour short.
    [bob] = [s for s in r.shifts(paris(2026, 3, 28, 0), paris(2026, 3, 29, 12)) if s.member == "bob"]
    assert bob.end.astimezone(UTC) - bob.start.astimezone(UTC) == timedelta(hours=23)


def test_a_daily_handoff_stays_at_0900_paris_across_fall_back() -> None:
    r = daily(start=date(2026, 10, 23))
    # Clocks go back from 03:00 CEST to 02:00 CET on Sunday 25 October 2026.
    before, after = r.shift_start(1), r.shift_start(2)
    assert (before.hour, after.hour) == (9, 9)
    assert after.astimezone(UTC) == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    assert r.on_call(datetime(2026, 10, 25, 7, 59, tzinfo=UTC)) == "bob"
    assert r.on_call(datetime(2026, 10, 25, 8, 0, tzinfo=UTC)) == "carol"
    assert r.next_handoff(paris(2026, 10, 24, 12)) == Handoff(paris(2026, 10, 25, 9), "carol")


def test_a_weekly_rotation_in_new_york_keeps_its_monday_handoff_through_dst() -> None:
    r = Rotation("week", ("ann", "ben"), date(2026, 3, 2), "America/New_York", shift_days=7, handoff=time(10))
    # US clocks spring forward on 8 March 2026: the next Monday handoff is still 10:00 local.
    second = r.shift_start(1)
    assert second == datetime(2026, 3, 9, 10, tzinfo=NEW_YORK)
    assert second.astimezone(UTC).hour == 14  # it was 15:00 UTC a week before
    assert r.on_call(datetime(2026, 3, 9, 9, 59, tzinfo=NEW_YORK)) == "ann"
    assert r.on_call(datetime(2026, 3, 9, 10, 0, tzinfo=NEW_YORK)) == "ben"


def test_a_handoff_in_the_spring_forward_gap_happens_once_the_clocks_have_jumped() -> None:
    r = daily(handoff=time(2, 30), start=date(2026, 3, 28))
    sunday = r.shift_start(1)
    assert (sunday.hour, sunday.minute) == (3, 30)
    assert sunday.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_an_override_covers_a_span_and_the_last_listed_wins() -> None:
    r = daily().with_override(Override("dave", paris(2026, 3, 28, 18), paris(2026, 3, 29, 9)))
    assert r.on_call(paris(2026, 3, 28, 17, 59)) == "bob"
    assert r.on_call(paris(2026, 3, 28, 18)) == "dave"
    assert r.scheduled(paris(2026, 3, 28, 18)) == "bob"
    assert r.on_call(paris(2026, 3, 29, 9)) == "carol"
    assert r.next_handoff(paris(2026, 3, 28, 12)) == Handoff(paris(2026, 3, 28, 18), "dave")
    assert r.next_handoff(paris(2026, 3, 28, 19)) == Handoff(paris(2026, 3, 29, 9), "carol")

    stacked = r.with_override(Override("erin", paris(2026, 3, 28, 20), paris(2026, 3, 28, 22)))
    assert stacked.on_call(paris(2026, 3, 28, 21)) == "erin"
    assert stacked.on_call(paris(2026, 3, 28, 22)) == "dave"


def test_shifts_list_the_timeline_with_overrides_and_merge_neighbours() -> None:
    r = daily().with_override(Override("bob", paris(2026, 3, 27, 9), paris(2026, 3, 27, 12)))
    timeline = r.shifts(paris(2026, 3, 27, 0), paris(2026, 3, 29, 0))
    assert timeline == [
        Shift("bob", paris(2026, 3, 27, 9), paris(2026, 3, 27, 12), override=True),
        Shift("alice", paris(2026, 3, 27, 12), paris(2026, 3, 28, 9)),
        Shift("bob", paris(2026, 3, 28, 9), paris(2026, 3, 29, 0)),
    ]


def test_a_one_person_rotation_has_no_next_handoff_unless_an_override_is_ahead() -> None:
    solo = daily(members=("alice",))
    assert solo.next_handoff(paris(2026, 4, 1, 12)) is None
    later = solo.with_override(Override("bob", paris(2026, 6, 1, 9), paris(2026, 6, 2, 9)))
    assert later.next_handoff(paris(2026, 4, 1, 12)) == Handoff(paris(2026, 6, 1, 9), "bob")


def test_bad_rotations_and_naive_times_are_refused() -> None:
    with pytest.raises(ConfigError, match="not an IANA zone"):
        daily(time_zone="Paris")
    with pytest.raises(ConfigError, match="no members"):
        daily(members=())
    with pytest.raises(ConfigError, match="timezone-aware"):
        daily().on_call(datetime(2026, 3, 28, 9))
    with pytest.raises(ConfigError, match="before it starts"):
        Override("x", paris(2026, 3, 28, 9), paris(2026, 3, 28, 8))


FIRED = paris(2026, 3, 28, 14, 0)  # bob is on call


def policy(**overrides: object) -> EscalationPolicy:
    values: dict[str, object] = {
        "name": "support-reply",
        "levels": (
            EscalationLevel((OnCallOf(daily()),), delay_minutes=15),
            EscalationLevel((Person("lead"), OnCallOf(daily())), delay_minutes=30),
        ),
    }
    values.update(overrides)
    return EscalationPolicy(**values)  # type: ignore[arg-type]


def test_levels_fall_due_one_delay_after_another_until_acknowledged() -> None:
    p = policy()
    assert [pg.people for pg in p.pages(FIRED, FIRED)] == [("bob",)]
    assert [pg.people for pg in p.pages(FIRED, FIRED + timedelta(minutes=14))] == [("bob",)]
    pages = p.pages(FIRED, FIRED + timedelta(hours=5))
    assert [(pg.level, pg.loop, pg.people) for pg in pages] == [(0, 0, ("bob",)), (1, 0, ("lead", "bob"))]
    assert pages[1].due_at == datetime(2026, 3, 28, 13, 15, tzinfo=UTC)
    acked = p.pages(FIRED, FIRED + timedelta(hours=5), acknowledged_at=FIRED + timedelta(minutes=10))
    assert [pg.level for pg in acked] == [0]
    assert p.next_escalation(FIRED, FIRED + timedelta(minutes=1)) == FIRED + timedelta(minutes=15)
    assert p.next_escalation(FIRED, FIRED + timedelta(minutes=16)) is None
    assert p.next_escalation(FIRED, FIRED, acknowledged_at=FIRED) is None


def test_num_loops_repeats_the_policy_after_its_last_level() -> None:
    p = policy(num_loops=1)
    pages = p.pages(FIRED, FIRED + timedelta(hours=5))
    assert [(pg.step, pg.level, pg.loop) for pg in pages] == [(0, 0, 0), (1, 1, 0), (2, 0, 1), (3, 1, 1)]
    assert pages[2].due_at == FIRED.astimezone(UTC) + timedelta(minutes=45)


def test_a_rotation_target_pages_whoever_is_on_call_when_the_level_is_reached() -> None:
    late = paris(2026, 3, 29, 8, 50)  # bob now, carol from 09:00
    pages = policy().pages(late, late + timedelta(hours=1))
    assert [pg.people for pg in pages] == [("bob",), ("lead", "carol")]


def test_a_rotation_with_nobody_on_call_is_reported_as_a_gap() -> None:
    early = paris(2026, 3, 20, 12)
    [page] = policy().pages(early, early)
    assert page.people == () and page.gaps == ("primary",)


def test_the_handoff_window_pages_the_owners_alongside_the_rotation_for_90_days() -> None:
    window = HandoffWindow(date(2026, 3, 1), ("author-1", "author-2"), time_zone="Europe/Paris")
    p = policy(handoff=window)
    [first] = p.pages(FIRED, FIRED)
    assert first.people == ("bob", "author-1", "author-2") and first.handoff_owners == (
        "author-1",
        "author-2",
    )

    assert window.active(paris(2026, 3, 1, 0)) and window.days_left(paris(2026, 3, 1, 0)) == 90
    assert window.days_left(paris(2026, 5, 29, 23, 59)) == 1
    assert not window.active(paris(2026, 5, 30, 0)) and window.days_left(paris(2026, 5, 30, 0)) == 0
    assert not window.active(paris(2026, 2, 28, 23, 59))
    after = paris(2026, 6, 2, 14)
    [later] = p.pages(after, after)
    assert later.handoff_owners == () and "author-1" not in later.people


def test_person_only_levels_do_not_pull_in_the_owners() -> None:
    window = HandoffWindow(date(2026, 3, 1), ("author-1",))
    p = EscalationPolicy("p", (EscalationLevel((Person("lead"),)),), handoff=window)
    assert p.pages(FIRED, FIRED)[0].people == ("lead",)


def test_who_is_on_call_summarises_now_next_and_the_window() -> None:
    window = HandoffWindow(date(2026, 3, 1), ("author-1",), time_zone="Europe/Paris")
    summary = who_is_on_call(daily(), paris(2026, 3, 28, 12), handoff=window)

    assert (summary.now, summary.next) == ("bob", "carol")
    assert summary.next_at == paris(2026, 3, 29, 9)
    assert summary.handoff_days_left == 63
    assert summary.lines() == [
        "rotation primary (Europe/Paris)",
        "  on call now: bob",
        # 20 hours, not 21: the clocks jump forward in between.
        "  next: carol from Sun 2026-03-29 09:00 CEST (in 0 d 20 h)",
        "  handoff window: author-1 paged too, 63 days left",
    ]
    quiet = who_is_on_call(daily(members=("alice",)), paris(2026, 7, 1, 12), handoff=window)
    assert quiet.lines() == [
        "rotation primary (Europe/Paris)",
        "  on call now: alice",
        "  next: nobody else is scheduled",
    ]


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ConfigError, match="no levels"):
        EscalationPolicy("p", ())
    with pytest.raises(ConfigError, match="at least 1"):
        EscalationLevel((Person("x"),), delay_minutes=0)
    with pytest.raises(ConfigError, match="at least one target"):
        EscalationLevel(())


def test_a_level_may_wait_seconds_for_drills_and_tests() -> None:
    fired = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    policy = EscalationPolicy(
        "fast", (EscalationLevel((Person("a"),), delay_s=3.0), EscalationLevel((Person("b"),), delay_s=60))
    )
    assert [p.people for p in policy.pages(fired, fired + timedelta(seconds=2.9))] == [("a",)]
    assert [p.people for p in policy.pages(fired, fired + timedelta(seconds=3))] == [("a",), ("b",)]
    assert policy.next_escalation(fired, fired) == fired + timedelta(seconds=3)
    with pytest.raises(ConfigError, match="delay_s must be positive"):
        EscalationLevel((Person("a"),), delay_s=0)

"""Sticky assignment: stable per user, monotone as the percentage grows, independent per rollout."""

from __future__ import annotations

import pytest

from runwell.rollout.assign import assign, bucket, mirrored

USERS = [f"user-{i}" for i in range(20_000)]


def test_the_same_user_always_gets_the_same_variant() -> None:
    first = [assign(u, "r-1", 25) for u in USERS[:500]]
    assert [assign(u, "r-1", 25) for u in USERS[:500]] == first
    assert bucket("user-7", "r-1") == bucket("user-7", "r-1")


def test_buckets_are_monotone_a_candidate_user_stays_a_candidate() -> None:
    steps = (1, 5, 25, 50, 100)
    for user in USERS[:5000]:
        arms = [assign(user, "r-1", p) for p in steps]
        first = arms.index("candidate")
        assert arms[first:] == ["candidate"] * (len(steps) - first)


@pytest.mark.parametrize("percent", [5, 25, 50])
def test_the_candidate_share_matches_the_percentage(percent: float) -> None:
    share = sum(assign(u, "r-1", percent) == "candidate" for u in USERS) / len(USERS)
    assert share == pytest.approx(percent / 100, abs=0.01)


def test_rollouts_split_users_independently() -> None:
    both = sum(assign(u, "r-1", 50) == "candidate" and assign(u, "r-2", 50) == "candidate" for u in USERS)
    assert both / len(USERS) == pytest.approx(0.25, abs=0.015)


def test_the_edges_send_everyone_one_way() -> None:
    assert {assign(u, "r-1", 0) for u in USERS[:1000]} == {"baseline"}
    assert {assign(u, "r-1", 100) for u in USERS[:1000]} == {"candidate"}
    assert all(0.0 <= bucket(u, "r-1") < 100.0 for u in USERS[:1000])


def test_key_and_rollout_cannot_run_into_each_other() -> None:
    assert bucket("c", "ab") != bucket("bc", "a")


def test_shadow_mirrors_the_sampled_fraction() -> None:
    share = sum(mirrored(f"req-{i}", "r-1", 0.1) for i in range(20_000)) / 20_000
    assert share == pytest.approx(0.1, abs=0.01)
    assert not any(mirrored(f"req-{i}", "r-1", 0.0) for i in range(100))


@pytest.mark.parametrize("percent", [-1, 100.5, float("nan")])
def test_percent_outside_0_to_100_is_refused(percent: float) -> None:
    with pytest.raises(ValueError, match=r"percent must be within 0\.\.100"):
        assign("user-1", "r-1", percent)

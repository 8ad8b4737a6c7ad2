"""Flags the OpenFeature way: each reason, sticky and monotone splits, targeting, bad definitions."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from runwell.control.flags import (
    ErrorCode,
    EvaluationContext,
    FlagDefinition,
    FlagError,
    Flags,
    Reason,
    SplitShare,
    TargetingRule,
    pin_flag,
    pinned_variant,
    served,
    traffic_flag,
)
from runwell.errors import ConfigError
from runwell.rollout import bucket

USERS = [f"user-{i}" for i in range(4000)]

COLOR: dict[str, Any] = {
    "type": "string",
    "variants": {"red": "#f00", "green": "#0f0", "blue": "#00f"},
    "default_variant": "red",
    "targeting": [
        {"variant": "green", "keys": ["alice", "bob"]},
        {"variant": "blue", "keys": ["bob", "carol"]},
    ],
    "split": [{"variant": "red", "percent": 50}, {"variant": "blue", "percent": 50}],
}


def client(definitions: Mapping[str, Any], **context: Any) -> Any:
    return Flags(definitions).client(EvaluationContext(**context) if context else None)


def ctx(key: str | None = None, **attributes: Any) -> EvaluationContext:
    return EvaluationContext(key, attributes)


# --- reasons ---------------------------------------------------------------------------------


def test_a_flag_without_rules_or_split_is_static() -> None:
    c = client({"beta": {"type": "boolean", "variants": {"on": True, "off": False}, "default_variant": "on"}})
    r = c.boolean("beta", False)
    assert (r.value, r.variant, r.reason, r.error_code) == (True, "on", Reason.STATIC, None)


def test_a_targeted_key_gets_its_variant_and_the_first_matching_rule_wins() -> None:
    c = client({"color": COLOR})
    assert c.string("color", "x", ctx("alice")).value == "#0f0"
    r = c.string("color", "x", ctx("bob"))  # listed by both rules
    assert (r.value, r.variant, r.reason) == ("#0f0", "green", Reason.TARGETING_MATCH)
    assert c.string("color", "x", ctx("carol")).variant == "blue"


def test_other_keys_go_through_the_split() -> None:
    c = client({"color": COLOR})
    r = c.string("color", "x", ctx("dave"))
    assert r.reason is Reason.SPLIT and r.variant in ("red", "blue")
    assert {c.string("color", "x", ctx(u)).variant for u in USERS[:200]} == {"red", "blue"}


def test_rules_that_match_nobody_and_no_split_give_the_default_variant() -> None:
    flag = {**COLOR, "split": []}
    r = client({"color": flag}).string("color", "x", ctx("dave"))
    assert (r.value, r.variant, r.reason) == ("#f00", "red", Reason.DEFAULT)


def test_a_disabled_flag_answers_the_callers_default() -> None:
    r = client({"color": {**COLOR, "enabled": False}}).string("color", "caller's", ctx("alice"))
    assert (r.value, r.variant, r.reason, r.error_code) == ("caller's", None, Reason.DISABLED, None)


def test_an_unknown_flag_is_an_error_with_the_callers_default() -> None:
    r = client({}).boolean("nope", True)
    assert (r.value, r.variant, r.reason, r.error_code) == (
        True,
        None,
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
    )
    assert r.error_message == "no flag 'nope'; the default was used"


def test_asking_for_the_wrong_type_is_an_error() -> None:
    r = client({"color": COLOR}).boolean("color", False, ctx("alice"))
    assert (r.value, r.reason, r.error_code) == (False, Reason.ERROR, ErrorCode.TYPE_MISMATCH)
    assert r.error_message == "flag 'color' is a string flag, asked for boolean"


def test_an_integer_flag_is_not_a_boolean_one_and_the_reverse() -> None:
    c = client({
        "n": {"type": "integer", "variants": {"a": 3}, "default_variant": "a"},
        "b": {"type": "boolean", "variants": {"a": True}, "default_variant": "a"},
    })  # fmt: skip
    assert c.integer("n", 0).value == 3
    assert c.integer("b", 0).error_code is ErrorCode.TYPE_MISMATCH
    assert c.boolean("n", False).error_code is ErrorCode.TYPE_MISMATCH


def test_a_split_without_a_targeting_key_is_an_error() -> None:
    r = client({"color": COLOR}).string("color", "caller's")
    assert (r.value, r.reason, r.error_code) == ("caller's", Reason.ERROR, ErrorCode.TARGETING_KEY_MISSING)
    assert "request id for anonymous traffic" in (r.error_message or "")


def test_an_invalid_stored_definition_breaks_only_its_own_flag() -> None:
    flags = Flags()
    problems = flags.replace({"color": COLOR, "bad": {**COLOR, "default_variant": "pink"}})
    assert list(problems) == ["bad"]
    assert problems["bad"].startswith(
        "flag 'bad' has an invalid definition: default_variant: must name a variant"
    )
    c = flags.client()
    r = c.string("bad", "fallback", ctx("alice"))
    assert (r.value, r.reason, r.error_code) == ("fallback", Reason.ERROR, ErrorCode.PARSE_ERROR)
    assert r.error_message == problems["bad"]
    assert c.string("color", "x", ctx("alice")).value == "#0f0"
    assert flags.definition("bad") is None and flags.definition("color") == FlagDefinition.from_dict(COLOR)


def test_evaluation_never_raises() -> None:
    class Exploding(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("boom")

        def __contains__(self, key: object) -> bool:
            raise RuntimeError("boom")

        def __iter__(self) -> Iterator[str]:
            return iter(())

        def __len__(self) -> int:
            return 0

    flag = {**COLOR, "targeting": [{"variant": "green", "keys": ["acme"], "attribute": "tenant"}]}
    r = client({"color": flag}).string("color", "safe", EvaluationContext("alice", Exploding()))
    assert (r.value, r.reason, r.error_code) == ("safe", Reason.ERROR, ErrorCode.GENERAL)
    assert "RuntimeError('boom')" in (r.error_message or "")


# --- splits ----------------------------------------------------------------------------------


def test_the_split_is_sticky_across_calls_and_processes() -> None:
    first = {u: client({"color": COLOR}).string("color", "x", ctx(u)).variant for u in USERS[:500]}
    again = {u: client({"color": COLOR}).string("color", "x", ctx(u)).variant for u in USERS[:500]}
    assert first == again
    # Fixed points: a hash that changed between versions or processes (Python's own hash() is
    # salted per process) would move users, and fails here.
    expected = ["red", "blue", "red", "blue", "red", "blue", "blue", "blue"]
    assert [first[f"user-{i}"] for i in range(8)] == expected


def test_the_split_follows_the_percentages() -> None:
    flag = {
        **COLOR,
        "targeting": [],
        "split": [{"variant": "red", "percent": 20}, {"variant": "blue", "percent": 80}],
    }
    c = client({"color": flag})
    share = sum(c.string("color", "x", ctx(u)).variant == "red" for u in USERS) / len(USERS)
    assert 0.18 < share < 0.22


def test_buckets_are_monotone_as_the_share_grows() -> None:
    served_at: list[set[str]] = []
    for percent in (0, 1, 5, 10, 25, 50, 75, 99, 100):
        c = Flags({"f.traffic": traffic_flag(percent)}).client()
        served_at.append({u for u in USERS if served(c, "f", u).value})
        assert abs(len(served_at[-1]) / len(USERS) - percent / 100) < 0.03
    for smaller, larger in itertools.pairwise(served_at):
        assert smaller <= larger
    assert served_at[0] == set() and served_at[-1] == set(USERS)


def test_two_flags_split_users_independently() -> None:
    c = Flags({"a.traffic": traffic_flag(50), "b.traffic": traffic_flag(50)}).client()
    both = sum(served(c, "a", u).value and served(c, "b", u).value for u in USERS) / len(USERS)
    assert 0.22 < both < 0.28  # independent halves overlap on a quarter; the same hash would give a half


def test_a_shared_salt_aligns_two_flags() -> None:
    a = {**traffic_flag(30).to_dict(), "salt": "cohort-1"}
    b = {**traffic_flag(30).to_dict(), "salt": "cohort-1"}
    c = Flags({"a.traffic": a, "b.traffic": b}).client()
    assert all(served(c, "a", u).value == served(c, "b", u).value for u in USERS[:1000])


# --- context ---------------------------------------------------------------------------------


def test_context_merges_global_then_client_then_invocation() -> None:
    flag = {
        **COLOR,
        "targeting": [{"variant": "green", "keys": ["acme"], "attribute": "tenant"}],
        "split": [],
    }
    flags = Flags({"color": flag}, context=EvaluationContext(None, {"tenant": "acme", "region": "eu"}))
    assert flags.client().string("color", "x").variant == "green"  # global
    other = flags.client(EvaluationContext(None, {"tenant": "globex"}))
    assert other.string("color", "x").variant == "red"  # the client's overrides the global
    assert other.string("color", "x", ctx(tenant="acme")).variant == "green"  # the invocation's wins


def test_the_targeting_key_comes_from_the_nearest_context() -> None:
    flags = Flags({"color": COLOR}, context=EvaluationContext("alice"))
    assert flags.client().string("color", "x").variant == "green"
    assert flags.client(EvaluationContext("carol")).string("color", "x").variant == "blue"
    assert flags.client(EvaluationContext("carol")).string("color", "x", ctx("alice")).variant == "green"


def test_merge_keeps_the_earlier_key_when_the_later_has_none() -> None:
    merged = EvaluationContext("u1", {"a": 1, "b": 2}).merge(EvaluationContext(None, {"b": 3}))
    assert merged == EvaluationContext("u1", {"a": 1, "b": 3})
    assert EvaluationContext("u1").merge(None) == EvaluationContext("u1")


# --- definitions -----------------------------------------------------------------------------


def _with(**changes: Any) -> dict[str, Any]:
    return {**COLOR, **changes}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_with(type="bool"), "type"),
        (_with(variants={}), "variants"),
        (_with(variants={"red": 1}), "variants.red"),
        (_with(variants={"bad name": "x"}), "variants.bad name"),
        (_with(default_variant="pink"), "default_variant"),
        (_with(enabled="yes"), "enabled"),
        (_with(targeting={"variant": "red"}), "targeting"),
        (_with(targeting=[{"variant": "pink", "keys": ["a"]}]), "targeting[0].variant"),
        (_with(targeting=[{"variant": "red", "keys": []}]), "targeting[0].keys"),
        (_with(targeting=[{"variant": "red", "keys": ["a", 7]}]), "targeting[0].keys[1]"),
        (_with(targeting=[{"variant": "red"}]), "targeting[0].keys"),
        (_with(targeting=[{"variant": "red", "keys": ["a"], "when": 1}]), "targeting[0].when"),
        (
            _with(split=[{"variant": "red", "percent": 150}, {"variant": "blue", "percent": -50}]),
            "split[0].percent",
        ),
        (_with(split=[{"variant": "red", "percent": "50"}]), "split[0].percent"),
        (
            _with(split=[{"variant": "red", "percent": 50}, {"variant": "red", "percent": 50}]),
            "split[1].variant",
        ),
        (_with(split=[{"variant": "red", "percent": 40}, {"variant": "blue", "percent": 50}]), "split"),
        (_with(salt=""), "salt"),
        (_with(colour="red"), "colour"),
        ({"type": "string", "variants": {"a": "a"}}, "default_variant"),
        ({"type": "float", "variants": {"a": float("nan")}, "default_variant": "a"}, "variants.a"),
        ({"type": "object", "variants": {"a": {"k": {1, 2}}}, "default_variant": "a"}, "variants.a.k"),
    ],
)
def test_a_bad_definition_names_the_bad_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(FlagError) as caught:
        FlagDefinition.from_dict(data)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)


def test_the_split_total_error_says_what_it_adds_up_to() -> None:
    with pytest.raises(FlagError, match=r"split: the shares add up to 90%, they must add up to 100%"):
        FlagDefinition.from_dict(
            _with(split=[{"variant": "red", "percent": 40}, {"variant": "blue", "percent": 50}])
        )


@pytest.mark.parametrize(
    "data",
    [
        COLOR,
        traffic_flag(12.5).to_dict(),
        {
            "type": "integer",
            "variants": {"small": 1, "big": 10**12},
            "default_variant": "small",
            "enabled": False,
        },
        {
            "type": "float",
            "variants": {"t": 0.7, "one": 1},
            "default_variant": "t",
            "description": "temperature",
        },
        {
            "type": "object",
            "variants": {"a": {"nested": [1, 2.5, None, {"k": "v"}]}, "b": []},
            "default_variant": "a",
            "targeting": [{"variant": "b", "keys": ["acme"], "attribute": "tenant"}],
            "salt": "s1",
        },
    ],
    ids=["string", "traffic", "integer", "float", "object"],
)
def test_definitions_survive_a_json_round_trip(data: dict[str, Any]) -> None:
    definition = FlagDefinition.from_dict(data)
    stored = json.loads(json.dumps(definition.to_dict()))
    assert FlagDefinition.from_dict(stored) == definition
    assert stored == definition.to_dict()


def test_to_dict_is_the_canonical_form() -> None:
    assert FlagDefinition.from_dict(COLOR).to_dict() == {**COLOR, "enabled": True}


def test_object_values_are_copies_the_caller_cannot_corrupt() -> None:
    c = client({"cfg": {"type": "object", "variants": {"a": {"n": 1}}, "default_variant": "a"}})
    first = c.object("cfg", {})
    first.value["n"] = 99
    assert c.object("cfg", {}).value == {"n": 1}


def test_a_definition_built_in_code_is_validated_too() -> None:
    with pytest.raises(FlagError, match=r"^split\[0\]\.variant: must name a variant"):
        FlagDefinition("boolean", {"on": True}, "on", split=(SplitShare("off", 100.0),))
    with pytest.raises(FlagError, match=r"^targeting\[0\]\.keys\[0\]"):
        FlagDefinition("boolean", {"on": True}, "on", targeting=(TargetingRule("on", ("",)),))


# --- the gateway's two uses ------------------------------------------------------------------


def test_traffic_flag_serves_the_share_and_fails_open() -> None:
    flags = Flags({"summary.traffic": traffic_flag(30)})
    c = flags.client()
    r = served(c, "summary", "user-1")
    assert r.reason is Reason.SPLIT and r.variant in ("served", "shed") and r.value is (r.variant == "served")
    missing = served(c, "other-feature", "user-1")
    assert (missing.value, missing.reason) == (True, Reason.ERROR)
    flags.replace({"summary.traffic": {"type": "boolean"}})
    assert served(c, "summary", "user-1").value is True  # a broken flag must not cut all traffic
    assert served(Flags({"summary.traffic": traffic_flag(0)}).client(), "summary", "user-1").value is False


def test_traffic_flag_uses_the_clients_targeting_key_when_none_is_given() -> None:
    c = Flags({"f.traffic": traffic_flag(50)}).client(EvaluationContext("user-42"))
    assert served(c, "f", None) == c.boolean("f.traffic", True, ctx("user-42"))


@pytest.mark.parametrize("percent", [-1, 100.5, float("nan"), True])
def test_traffic_flag_refuses_a_percentage_outside_0_100(percent: float) -> None:
    with pytest.raises(FlagError) as caught:
        traffic_flag(percent)
    assert caught.value.field == "percent"


def test_pinned_users_get_their_variant_and_the_rest_is_left_to_routing() -> None:
    flag = pin_flag(None, "challenger", ["alice", "bob"])
    assert flag.type == "string" and flag.variants == {"challenger": "challenger"}
    c = Flags({"summary.variant": flag}).client()
    assert pinned_variant(c, "summary", "alice") == "challenger"
    assert pinned_variant(c, "summary", "carol") is None  # the flag's default: not pinned
    assert pinned_variant(c, "summary", None) is None
    assert pinned_variant(c, "unknown", "alice") is None


def test_pinning_builds_on_the_stored_definition_and_moves_users() -> None:
    first = pin_flag(None, "challenger", ["alice", "bob"]).to_dict()
    stored = json.loads(json.dumps(first))  # as the levers table keeps it
    second = pin_flag(stored, "champion", ["bob", "carol"])
    c = Flags({"summary.variant": second}).client()
    assert [pinned_variant(c, "summary", u) for u in ("alice", "bob", "carol", "dave")] == [
        "challenger", "champion", "champion", None
    ]  # fmt: skip
    assert second.default_variant == "challenger"


def test_a_pin_flag_can_split_the_unpinned_users() -> None:
    flag = pin_flag(None, "champion", ["alice"], split=[("champion", 90), ("challenger", 10)])
    c = Flags({"summary.variant": flag}).client()
    assert pinned_variant(c, "summary", "alice") == "champion"
    picks = [pinned_variant(c, "summary", u) for u in USERS]
    assert 0.08 < picks.count("challenger") / len(USERS) < 0.12
    assert set(picks) == {"champion", "challenger"}


def test_pinning_onto_a_flag_of_another_type_is_refused() -> None:
    with pytest.raises(FlagError, match="a pin flag is a string flag, the current one is boolean"):
        pin_flag(traffic_flag(50), "champion", ["alice"])


@pytest.mark.parametrize("salt", [None, "cohort-1"])
def test_the_split_uses_the_rollouts_buckets(salt: str | None) -> None:
    definition = traffic_flag(37.5).to_dict()
    if salt is not None:
        definition["salt"] = salt
    c = Flags({"f.traffic": definition}).client()
    for user in USERS[:1000]:
        assert served(c, "f", user).value is (bucket(user, salt or "flag/f.traffic") < 37.5)


def test_a_stored_value_that_is_not_an_object_breaks_only_its_flag() -> None:
    flags = Flags()
    problems = flags.replace({"a": ["not", "a", "flag"], "b": traffic_flag(100)})  # type: ignore[dict-item]
    assert problems == {
        "a": "flag 'a' has an invalid definition: (definition): must be a JSON object, got list"
    }
    assert served(flags.client(), "b", "u").value is True


def test_pinning_keeps_a_disabled_flag_disabled() -> None:
    stored = {**pin_flag(None, "challenger", ["alice"]).to_dict(), "enabled": False}
    flag = pin_flag(stored, "challenger", ["bob"])
    assert flag.enabled is False
    assert pinned_variant(Flags({"f.variant": flag}).client(), "f", "bob") is None


def test_the_public_api_is_pinned_and_documented() -> None:
    import runwell.control.flags as flags_module

    assert set(flags_module.__all__) == {
        "PIN_SUFFIX", "TRAFFIC_SUFFIX", "ErrorCode", "EvaluationContext", "FlagClient", "FlagDefinition",
        "FlagError", "FlagType", "Flags", "Reason", "Resolution", "SplitShare", "TargetingRule", "pin_flag",
        "pinned_variant", "served", "traffic_flag",
    }  # fmt: skip
    for name in set(flags_module.__all__) - {"FlagType", "PIN_SUFFIX", "TRAFFIC_SUFFIX"}:
        assert getattr(flags_module, name).__doc__, f"{name} has no docstring"

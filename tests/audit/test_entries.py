"""Audit entry shapes: fields, validation, canonical leaf bytes."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from runwell.audit import (
    AuditError,
    ChangeEntry,
    entry_leaf,
    format_time,
    parse_leaf,
    pseudonymize_user,
    sha256_hex,
)

from .helpers import change, decision


def test_decision_leaf_is_canonical_json_with_every_field() -> None:
    leaf = entry_leaf(decision(3), 41)
    entry = json.loads(leaf)
    assert list(entry) == sorted(entry)  # canonical: members sorted, no whitespace
    assert b" " not in leaf.replace(b"support-bot", b"")
    assert entry["v"] == 1 and entry["type"] == "decision" and entry["index"] == 41
    assert set(entry) == {
        "v", "type", "index", "time", "request_id", "feature", "variant", "provider", "model",
        "spec_version", "prompt_version", "user", "guardrails", "flags", "outcome", "http_status",
        "input_sha256", "output_sha256",
    }  # fmt: skip
    assert entry["guardrails"] == {"pii_redaction": "on", "injection_check": "on"}
    assert parse_leaf(leaf) == entry


def test_change_leaf_carries_who_what_why_and_the_values() -> None:
    entry = json.loads(entry_leaf(change(1), 7))
    assert entry == {
        "v": 1,
        "type": "change",
        "index": 7,
        "time": "2026-11-22T04:24:00.000Z",
        "kind": "flag_changed",
        "actor": "cli:alice",
        "reason": "step 1",
        "subject": "support-bot/flags/new_prompt",
        "before": False,
        "after": True,
    }


def test_entries_hold_digests_not_content() -> None:
    leaf = entry_leaf(decision(5), 0)
    assert b"input 5" not in leaf and sha256_hex("input 5").encode() in leaf


def test_same_entry_same_index_gives_the_same_leaf() -> None:
    assert entry_leaf(decision(1), 9) == entry_leaf(decision(1), 9)
    assert entry_leaf(decision(1), 9) != entry_leaf(decision(1), 10)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time", "2026-11-22 04:23:00", "RFC 3339"),
        ("time", "2026-11-22T04:23:00+01:00", "RFC 3339"),
        ("outcome", "maybe", "outcome"),
        ("input_sha256", "ABC", "input_sha256"),
        ("output_sha256", "0" * 63, "output_sha256"),
        ("http_status", 42, "http_status"),
        ("request_id", "", "request_id"),
    ],
)
def test_invalid_decision_fields_are_named(field: str, value: Any, message: str) -> None:
    with pytest.raises(AuditError, match=message):
        replace(decision(1), **{field: value})


@pytest.mark.parametrize(("field", "value"), [("kind", "Flag Changed"), ("actor", ""), ("subject", "")])
def test_invalid_change_fields_are_named(field: str, value: str) -> None:
    with pytest.raises(AuditError, match=field):
        replace(change(1), **{field: value})


def test_values_that_have_no_canonical_json_are_refused() -> None:
    bad = ChangeEntry(
        time="2026-11-22T04:24:00.000Z", kind="budget_changed", actor="a", subject="s", after=float("nan")
    )
    with pytest.raises(AuditError, match="cannot be canonicalized"):
        entry_leaf(bad, 0)


def test_pseudonymized_users_are_keyed_and_stable() -> None:
    first = pseudonymize_user("alice@example.com", b"k1")
    assert first == pseudonymize_user("alice@example.com", b"k1")
    assert first.startswith("hmac-sha256:") and len(first) == len("hmac-sha256:") + 64
    assert first != pseudonymize_user("alice@example.com", b"k2")
    assert first != "hmac-sha256:" + sha256_hex("alice@example.com")


def test_format_time_is_rfc3339_utc_with_milliseconds() -> None:
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert format_time(1_800_000_000.1234) == "2027-01-15T08:00:00.123Z"


def test_parse_leaf_rejects_non_objects() -> None:
    with pytest.raises(AuditError, match="not valid JSON"):
        parse_leaf(b"{nope")
    with pytest.raises(AuditError, match="not an object"):
        parse_leaf(b"[1]")

"""The operator's levers: each change and its signed audit entry together, refusals, expiry, the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from runwell.audit import AuditLog, SqlAuditStorage, generate_key
from runwell.audit.open import record_change
from runwell.control import levers
from runwell.errors import ConfigError
from runwell.store import Store, open_store

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(None, base_dir=tmp_path)


@pytest.fixture
def log(store: Store) -> AuditLog:
    skey, _ = generate_key("runwell.test/levers")
    return AuditLog.open(SqlAuditStorage(store.db), skey)


def _changes(log: AuditLog) -> list[dict[str, object]]:
    return [e for e in (log.entry(i) for i in range(log.size)) if e["type"] == "change"]


def test_a_kill_is_stored_with_its_audit_entry_and_a_second_kill_records_nothing(
    store: Store, log: AuditLog
) -> None:
    assert levers.kill(log, "support", actor="ada", reason="bad answers") is True
    assert levers.kill(log, "support", actor="ada", reason="again") is False
    [row] = levers.list_levers(store.db)
    assert (row.kind, row.subject, row.actor, row.reason) == ("kill", "support", "ada", "bad answers")
    [entry] = _changes(log)
    assert entry["kind"] == "kill_switch" and entry["before"] == {"killed": False}
    assert levers.unkill(log, "support", actor="bo", reason="fixed") is True
    assert levers.list_levers(store.db) == []
    assert [e["after"] for e in _changes(log)] == [{"killed": True}, {"killed": False}]


def test_every_lever_needs_a_reason(log: AuditLog) -> None:
    with pytest.raises(ConfigError, match="reason"):
        levers.kill(log, "support", actor="ada", reason="  ")
    with pytest.raises(ConfigError, match="reason"):
        levers.set_flag(log, "support.traffic", None, actor="ada", reason="")


def test_a_guardrail_is_switched_off_only_with_an_expiry_and_switches_back_on_audited(
    store: Store, log: AuditLog
) -> None:
    with pytest.raises(ConfigError, match="expiry"):
        levers.switch_guardrail(log, "support", "pii_redaction", on=False, actor="ada", reason="r")
    with pytest.raises(ConfigError, match="7 days"):
        levers.switch_guardrail(
            log, "support", "pii_redaction", on=False, actor="ada", reason="r", for_s=8 * 86400
        )
    with pytest.raises(ConfigError, match="no guardrail 'pii'"):
        levers.switch_guardrail(log, "support", "pii", on=False, actor="ada", reason="r", for_s=60)
    levers.switch_guardrail(
        log,
        "support",
        "pii_redaction",
        on=False,
        actor="ada",
        reason="false positives",
        for_s=60,
        now=lambda: NOW,
    )
    cache = levers.LeverCache(store.db)
    cache.refresh()
    assert cache.current.guardrail_off("support", "pii_redaction", NOW + 30)
    assert not cache.current.guardrail_off("support", "pii_redaction", NOW + 61)  # expired, even unswept
    assert levers.expire(log, store.db, now=NOW + 30) == []
    assert levers.expire(log, store.db, now=NOW + 61) == ["guardrail_off:support:pii_redaction"]
    assert levers.expire(log, store.db, now=NOW + 62) == []  # once, even with several replicas
    off, back_on = _changes(log)
    assert off["after"] == {"on": False, "until": NOW + 60} and off["actor"] == "ada"
    assert (back_on["actor"], back_on["reason"], back_on["after"]) == ("runwell", "expired", {"on": True})
    assert cache.refresh() is True and cache.current.guardrails_off == {}


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [
        ("daily_dollars", 5.0, "no budget limit 'daily_dollars'"),
        ("daily_usd", -1.0, "positive"),
        ("daily_tokens", 10.5, "whole units"),
    ],
)
def test_a_bad_budget_change_is_refused_before_anything_is_stored(
    store: Store, log: AuditLog, limit: str, value: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        levers.set_budget(log, "support", limit, value, actor="ada", reason="r")
    assert levers.list_levers(store.db) == [] and _changes(log) == []


def test_the_cache_reloads_only_when_the_version_moved(store: Store, log: AuditLog) -> None:
    cache = levers.LeverCache(store.db)
    assert cache.refresh() is True and cache.current.killed == frozenset()
    assert cache.refresh() is False
    levers.kill(log, "support", variant="challenger", actor="ada", reason="r")
    levers.set_budget(log, "support", "daily_usd", 12.5, actor="ada", reason="r")
    assert cache.refresh() is True
    assert cache.current.is_killed("support", "challenger") and not cache.current.is_killed("support")
    assert cache.current.budgets == {("support", "daily_usd"): 12.5}


def test_known_features_are_those_deployed_to_this_database(log: AuditLog, store: Store) -> None:
    assert levers.known_features(store.db) == []
    for name in ("support", "billing"):
        record_change(log, kind="spec_deployed", subject=name, actor="t", after="v1", at=NOW)
    assert levers.known_features(store.db) == ["billing", "support"]

"""Request records lost to an unclean shutdown are rebuilt from the durable audit log."""

from __future__ import annotations

import time
from pathlib import Path

from runwell.audit.entries import DecisionEntry, format_time, sha256_hex
from runwell.audit.open import open_audit_log
from runwell.gateway.recovery import RECOVERED_MESSAGE, recover_lost_records
from runwell.store import open_store


def _decision(request_id: str, at: float, outcome: str = "served", status: int = 200) -> DecisionEntry:
    return DecisionEntry(
        time=format_time(at),
        request_id=request_id,
        feature="support",
        variant="main",
        provider="up",
        model="gpt-4o-mini",
        spec_version="abc+123",
        prompt_version="1+456",
        outcome=outcome,  # type: ignore[arg-type]
        input_sha256=sha256_hex("in"),
        output_sha256=None,
        http_status=status,
        user="u-7",
    )


def test_decisions_without_records_get_rebuilt_records_once(tmp_path: Path, make_record) -> None:
    now = time.time()
    audit = open_audit_log(tmp_path, None)
    store = open_store(None, base_dir=tmp_path)
    try:
        store.write_records([make_record(request_id="kept", started_at=now - 1)])
        audit.log.append_many(
            [
                _decision("ancient", now - 3600),
                _decision("kept", now - 1),
                _decision("lost-ok", now),
                _decision("lost-502", now, "error", 502),
                _decision("lost-fallback", now, "fallback", 200),
            ]
        )
        assert recover_lost_records(audit.log, store) == 3
        # A fallback answered the client: an answered request, with its outcome kept.
        fallback = store.get_record("lost-fallback")
        assert fallback is not None and fallback.status == "ok" and fallback.outcome == "fallback"
        ok, failed = store.get_record("lost-ok"), store.get_record("lost-502")
        assert ok is not None and ok.status == "ok" and ok.http_status == 200
        assert ok.feature == "support" and ok.model == "gpt-4o-mini" and ok.user_id == "u-7"
        assert ok.note == RECOVERED_MESSAGE and ok.recovered and ok.error_message is None
        assert ok.latency_ms is None and ok.cost_usd is None
        assert failed is not None and failed.status == "error" and failed.http_status == 502
        assert ok.outcome == "served" and failed.outcome == "error"
        # Older than the newest stored record minus the margin: left alone (not scanned).
        assert store.get_record("ancient") is None
        assert store.get_record("kept").note is None  # untouched
        assert recover_lost_records(audit.log, store) == 0  # idempotent
    finally:
        store.close()
        audit.close()


def test_a_real_record_replaces_a_rebuilt_stub_but_never_the_other_way(tmp_path: Path, make_record) -> None:
    # Replicas share one PostgreSQL: a decision whose real record still waits in another
    # replica's queue looks lost to a replica starting up. Its stub must give way to the real one.
    now = time.time()
    audit = open_audit_log(tmp_path, None)
    store = open_store(None, base_dir=tmp_path)
    try:
        store.write_records([make_record(request_id="older", started_at=now - 5)])
        audit.log.append_many([_decision("queued-elsewhere", now)])
        assert recover_lost_records(audit.log, store) == 1
        assert store.get_record("queued-elsewhere").recovered
        real = make_record(request_id="queued-elsewhere", started_at=now, latency_ms=12.5)
        store.write_records([real])  # the other replica's recorder catches up
        stored = store.get_record("queued-elsewhere")
        assert stored == real and not stored.recovered and stored.latency_ms == 12.5
        # A stub written after the real record (a second replica restarting) changes nothing.
        store.write_records([make_record(request_id="queued-elsewhere", recovered=True, latency_ms=None)])
        assert store.get_record("queued-elsewhere") == real
    finally:
        store.close()
        audit.close()

"""The smaller parts: what counts as a failure, latency percentiles on both databases, the change
feed, signed links, the review sampler, recovering the client's messages, arming a drill."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from runwell.control import levers
from runwell.errors import ConfigError, NotFoundError
from runwell.operate.drills import finish_drill, start_drill
from runwell.operate.export import client_messages
from runwell.operate.feed import ChangeFeed, FeatureIndex
from runwell.operate.incidents import open_or_join
from runwell.operate.links import LinkSigner
from runwell.operate.measure import RecordMetrics
from runwell.operate.review import ReviewSampler, label_item, list_items, queue_items
from runwell.spec.loader import LoadedSpec
from runwell.spec.operate import ReviewRules
from runwell.spec.prompts import parse_template
from runwell.telemetry.record import RequestRecord
from tests.operate.conftest import Project


def write(project: Project, make_record: Callable[..., RequestRecord], **fields: Any) -> None:
    import secrets

    base = {"feature": "ops", "started_at": time.time() - 1, "request_id": secrets.token_hex(12)}
    project.store.write_records([make_record(**(base | fields))])


def test_only_a_failed_model_path_counts_as_an_error(
    project: Project, make_record: Callable[..., RequestRecord]
) -> None:
    failed_attempt = [{"variant": "main", "outcome": "error"}]
    write(project, make_record, status="error", http_status=502, outcome="error")  # upstream error
    write(project, make_record, status="ok", http_status=200, outcome="degraded", attempts=failed_attempt)
    write(
        project, make_record, status="ok", http_status=200, outcome="degraded", attempts=None
    )  # kill switch
    write(
        project, make_record, status="error", http_status=503, outcome="degraded", attempts=None
    )  # killed, no degradation
    write(
        project,
        make_record,
        status="error",
        http_status=400,
        outcome="blocked",
        error_class="guardrail_injection_check",
    )
    write(project, make_record, status="ok", http_status=200, outcome="fallback", attempts=failed_attempt)
    write(
        project, make_record, status="ok", http_status=200, outcome="served", shadow_of="abc"
    )  # not a user's
    metrics, now = RecordMetrics(project.store.db), time.time()
    assert metrics.value("ops", "requests", 60, now, 1) == 6
    assert metrics.value("ops", "error_rate", 60, now, 1) == pytest.approx(2 / 6)
    assert metrics.value("ops", "degraded_rate", 60, now, 1) == pytest.approx(3 / 6)
    assert metrics.value("ops", "fallback_rate", 60, now, 1) == pytest.approx(1 / 6)
    assert metrics.value("ops", "guardrail_block_rate", 60, now, 1) == pytest.approx(1 / 6)
    assert metrics.value("ops", "error_rate", 60, now, 7) is None  # fewer requests than min_requests


def test_latency_percentiles_agree_on_both_databases(
    project: Project, make_record: Callable[..., RequestRecord]
) -> None:
    for ms in (100, 200, 300, 400, 1000):
        write(project, make_record, latency_ms=float(ms), status="ok", http_status=200)
    metrics, now = RecordMetrics(project.store.db), time.time()
    assert metrics.value("ops", "latency_p50_ms", 60, now, 1) == pytest.approx(300)
    assert metrics.value("ops", "latency_p95_ms", 60, now, 1) == pytest.approx(880)  # 400 + 0.8 * 600
    assert metrics.value("ops", "cost_usd", 60, now, 1) == pytest.approx(5 * 0.0000468)


def test_quality_scores_and_feedback_are_measured(project: Project) -> None:
    now = time.time()
    with project.store.db.transaction("seed") as tx:
        for i, (score, passed) in enumerate([(0.9, True), (0.3, False), (0.6, True)]):
            tx.execute(
                "INSERT INTO scores (request_id, scorer, feature, score, passed, created_at) VALUES (?, 'q', 'ops', ?, ?, ?)",
                (f"r{i}", score, passed, now - 1),
            )
        for i, score in enumerate([0.0, 1.0, 0.2, 1.0]):
            tx.execute(
                "INSERT INTO feedback (id, request_id, feature, score, created_at) VALUES (?, ?, 'ops', ?, ?)",
                (f"f{i}", f"r{i}", score, now - 1),
            )
    metrics = RecordMetrics(project.store.db)
    assert metrics.value("ops", "quality_score", 60, now, 1) == pytest.approx(0.6)
    assert metrics.value("ops", "quality_pass_rate", 60, now, 1) == pytest.approx(2 / 3)
    assert metrics.value("ops", "negative_feedback_rate", 60, now, 1) == pytest.approx(0.5)


def test_the_change_feed_reads_every_replicas_events_and_levers_by_feature(project: Project) -> None:
    from runwell.audit.open import record_change

    log, now = project.log, time.time()
    record_change(log, kind="breaker_open", subject="down/sim-down", actor="runwell", at=now)
    record_change(
        log, kind="budget_alert", subject="key_1", actor="runwell", after={"feature": "ops"}, at=now
    )
    record_change(log, kind="drift", subject="other", actor="runwell", after={"feature": "other"}, at=now)
    levers.kill(log, "ops", variant="outage", actor="ana", reason="outage")
    levers.set_flag(log, "ops.traffic", {"type": "boolean", "variants": {"a": True}, "default_variant": "a"},
                    actor="ana", reason="cut")  # fmt: skip
    feed = ChangeFeed(project.store.db, FeatureIndex(["ops", "other"], {"down/sim-down": {"ops"}}))
    fresh = feed.poll(time.time() + 1)
    assert [c.kind for c in fresh] == ["breaker_open", "budget_alert", "drift", "kill_switch", "flag_changed"]
    assert [sorted(c.features) for c in fresh] == [["ops"], ["ops"], ["other"], ["ops"], ["ops"]]
    assert feed.count("breaker_open", "ops", now - 1) == 1
    assert feed.poll(time.time() + 1) == []  # read once
    later = ChangeFeed(project.store.db, FeatureIndex(["ops"], {}), keep_s=0.5)
    assert later.poll(time.time() + 60) == []  # starts keep_s ago: nothing that recent


def test_a_link_allows_one_action_on_one_incident() -> None:
    links = LinkSigner(b"secret" * 6, "https://gw.example/")
    token = links.token("inc_1", "ack")
    assert links.check("inc_1", "ack", token)
    assert not links.check("inc_1", "resolve", token) and not links.check("inc_2", "ack", token)
    assert not LinkSigner(b"other" * 6, None).check("inc_1", "ack", token)
    assert links.url("inc_1", "ack") == f"https://gw.example/operate/incidents/inc_1/ack?t={token}"
    assert LinkSigner(b"x" * 32, None).url("inc_1", "ack") is None


def test_the_sampler_queues_flagged_and_sampled_answers_only(project: Project) -> None:
    sampler = ReviewSampler({"ops": ReviewRules(guardrail_flags=True, sample_percent=50)})
    sampler.consider("r-flag", "ops", {"injection_check": "flagged", "pii_redaction": "passed"}, True)
    sampler.consider("r-block", "ops", {"injection_check": "flagged"}, False)  # not answered
    sampler.consider("r-other", "other", {"x": "flagged"}, True)  # no rules for it
    for i in range(200):
        sampler.consider(f"s{i}", "ops", {}, True)
    drained = sampler.drain()
    assert drained[0][:3] == ("r-flag", "ops", "guardrail_flag:injection_check")
    sampled = {d[0] for d in drained[1:]}
    assert 70 < len(sampled) < 130 and all(d[2] == "sampled" for d in drained[1:])
    again = ReviewSampler({"ops": ReviewRules(sample_percent=50)})
    for i in range(200):
        again.consider(f"s{i}", "ops", {}, True)
    assert {d[0] for d in again.drain()} == sampled  # by hash: every replica picks the same
    # The request hook skips a feature no rule can ever select (decided once per feature).
    assert sampler.wants("ops") and again.wants("ops") and not sampler.wants("other")
    assert not ReviewSampler({"ops": ReviewRules(guardrail_flags=False, sample_percent=0)}).wants("ops")
    assert queue_items(project.store.db, drained) == len(drained)
    assert queue_items(project.store.db, drained) == 0  # a request is queued once
    item = list_items(project.store.db, feature="ops")[0]
    labelled = label_item(project.store.db, item.request_id, label="bad", correction="right", reviewer="ana")
    assert (labelled.state, labelled.label, labelled.correction, labelled.reviewer) == (
        "labelled",
        "bad",
        "right",
        "ana",
    )
    with pytest.raises(ConfigError, match="a label is needed"):
        label_item(project.store.db, item.id, label=" ", correction=None, reviewer="ana")
    with pytest.raises(NotFoundError, match="runwell review list"):
        label_item(project.store.db, "rev_nope", label="bad", correction=None, reviewer="ana")


def test_the_clients_messages_are_recovered_from_the_stored_prompt() -> None:
    template = parse_template(
        'system: "Be brief."\nuser: "Ticket: {{ input }} (be kind)"\n', source="p.yaml", is_yaml=True
    )
    sent = [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "client's own system message"},
        {"role": "user", "content": "Ticket: where is <EMAIL_1>'s order? (be kind)"},
    ]
    assert client_messages(sent, template) == [
        {"role": "system", "content": "client's own system message"},
        {"role": "user", "content": "where is <EMAIL_1>'s order?"},
    ]
    assert client_messages(sent, None) == [sent[2]]


def test_a_drill_pins_only_its_own_user_and_finishing_restores_the_flag(
    project: Project, ops_spec: LoadedSpec
) -> None:
    db = project.store.db
    levers.set_flag(project.log, "ops.variant", {"type": "string", "variants": {"main": "main"}, "default_variant": "main",
                    "targeting": [{"variant": "main", "keys": ["vip"]}]}, actor="ana", reason="vip")  # fmt: skip
    before = {r.subject: r.value for r in levers.list_levers(db)}["ops.variant"]
    plan = start_drill(project.store, project.log, ops_spec, "outage", actor="drill", user_hash_key=b"k")
    assert (plan.failure_mode, plan.variant, plan.mitigation) == ("provider-outage", "outage", "kill")
    assert plan.alerts == ["error-rate-high"] and plan.runbook == "runbooks/outage.md"
    flag = {r.subject: r.value for r in levers.list_levers(db)}["ops.variant"]
    assert {"variant": "outage", "keys": [plan.user]} in flag["targeting"]
    assert {"variant": "main", "keys": ["vip"]} in flag["targeting"]  # others keep their pin
    with pytest.raises(ConfigError, match="is still running"):
        start_drill(project.store, project.log, ops_spec, "outage", actor="drill", user_hash_key=b"k")
    finish_drill(project.store, project.log, plan.id, passed=True, result={"x": 1}, actor="drill")
    assert {r.subject: r.value for r in levers.list_levers(db)}["ops.variant"] == before
    open_or_join(db, feature="ops", failure_mode="provider-outage", severity=2, title="t", runbook=None,
                 alert="a", detail={}, now=time.time())  # fmt: skip
    with pytest.raises(ConfigError, match="is open on ops: a drill would join it"):
        start_drill(
            project.store, project.log, ops_spec, "provider-outage", actor="drill", user_hash_key=b"k"
        )
    with pytest.raises(NotFoundError, match="no scenario 'flood' for ops"):
        start_drill(project.store, project.log, ops_spec, "flood", actor="drill", user_hash_key=b"k")


def test_a_resolved_incidents_failed_inputs_become_a_drill_scenario(
    project: Project, ops_spec: LoadedSpec, make_record: Callable[..., RequestRecord]
) -> None:
    from runwell.operate.drills import resolve_scenario
    from runwell.operate.lifecycle import resolve

    db = project.store.db
    incident_id, _ = open_or_join(db, feature="ops", failure_mode="provider-outage", severity=2, title="t",
                                  runbook=None, alert="a", detail={}, now=time.time())  # fmt: skip
    prompt = [
        {"role": "system", "content": "You answer briefly."},
        {"role": "user", "content": "Question: refund?"},
    ]
    write(
        project,
        make_record,
        variant="outage",
        status="error",
        http_status=503,
        outcome="error",
        prompt=prompt,
    )
    resolve(project.log, db, incident_id, actor="ana", via="cli", reason="fixed")
    mode, inputs = resolve_scenario(project.store, ops_spec, incident_id)
    assert mode.name == "provider-outage" and inputs == [[{"role": "user", "content": "refund?"}]]

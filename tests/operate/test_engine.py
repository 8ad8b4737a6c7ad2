"""One evaluation pass at a time, on SQLite and PostgreSQL, paging real local receivers: an alert
fires, an incident opens, pages go out with one dedup key, nobody acknowledges so the next level
is paged, levers land on the timeline, acknowledge and resolve reach PagerDuty."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from runwell.control import levers
from runwell.operate.dispatch import Dispatcher, FeatureChannels, dedup_key
from runwell.operate.engine import Evaluator, FeatureOps
from runwell.operate.feed import ChangeFeed, FeatureIndex
from runwell.operate.incidents import claim_pages, get_incident, incident_events, incident_pages
from runwell.operate.lease import Lease
from runwell.operate.lifecycle import acknowledge, resolve
from runwell.operate.links import LinkSigner
from runwell.operate.postmortem import describe_event
from runwell.operate.review import list_items
from runwell.testing.receivers import PagerDutyReceiver, SlackReceiver, check_pagerduty_event
from tests.operate.conftest import ESCALATE_S, Project
from tests.operate.project import LEAD, OWNER, on_call_now


def evaluator(project: Project, ops: FeatureOps) -> Evaluator:
    index = FeatureIndex(["ops"], {"ok/sim-ok": {"ops"}, "down/sim-down": {"ops"}})
    return Evaluator(project.store.db, {"ops": ops}, ChangeFeed(project.store.db, index))


def dispatcher(project: Project, ops: FeatureOps) -> Dispatcher:
    fc = FeatureChannels(ops.channels, ops.plan, {r.name: r for r in ops.rules})
    return Dispatcher(project.store.db, {"ops": fc}, LinkSigner(b"k" * 32, "https://gw.example"))


async def test_an_outage_pages_escalates_and_resolves_with_one_dedup_key(
    project: Project,
    ops: FeatureOps,
    pagerduty: PagerDutyReceiver,
    slack: SlackReceiver,
    add_requests: Callable[..., list[str]],
) -> None:
    engine, send = evaluator(project, ops), dispatcher(project, ops)
    db = project.store.db
    add_requests(2, failed=False)
    assert engine.run(time.time()).fired == []  # 2 requests: under min_requests, no data
    failed_ids = add_requests(4, failed=True)
    t0 = time.time()
    done = engine.run(t0)
    assert done.fired == ["ops/error-rate-high"] and len(done.opened) == 1
    [incident_id] = done.opened
    assert done.pages_queued == 2  # level 0 over PagerDuty and Slack
    assert await send.tick() == 2

    [trigger] = pagerduty.accepted()
    assert check_pagerduty_event(trigger.body) == [] and trigger.notes == ()
    key = dedup_key("ops", incident_id)
    assert trigger.body["dedup_key"] == key and trigger.body["event_action"] == "trigger"
    payload = trigger.body["payload"]
    assert payload["severity"] == "critical" and payload["class"] == "provider-outage"
    assert payload["custom_details"]["runbook"] == "runbooks/outage.md"
    now_person, _next = on_call_now()
    assert payload["custom_details"]["paged"] == [now_person, OWNER]
    assert payload["custom_details"]["handoff_owners"] == [OWNER]
    ack_link = next(link["href"] for link in trigger.body["links"] if link["text"] == "Acknowledge")
    assert ack_link.startswith(f"https://gw.example/operate/incidents/{incident_id}/ack?t=")
    [slack_page] = slack.accepted()
    assert f"paging {now_person}, {OWNER}" in slack_page.body["text"]

    # Nobody acknowledges: after the timeout the next level (the lead, over Slack) is paged.
    assert engine.run(t0 + ESCALATE_S / 2).pages_queued == 0  # not yet due, however slow the steps above
    time.sleep(ESCALATE_S)
    assert engine.run(time.time()).pages_queued == 1
    await send.tick()
    assert [r.body["text"] for r in slack.accepted()][1].endswith(f"(paging {LEAD})")
    assert get_incident(db, incident_id).escalation_level == 1

    # The operator pulls the kill switch: it lands on the timeline (read from the audit log).
    levers.kill(project.log, "ops", actor="ana", reason="provider outage")
    engine.run(time.time())
    acknowledge(project.log, incident_id, actor="ana", via="cli")
    assert not acknowledge(project.log, incident_id, actor="bo", via="cli")  # already acknowledged
    await send.tick()
    assert [e["event_action"] for e in (r.body for r in pagerduty.accepted())] == ["trigger", "acknowledge"]
    assert pagerduty.alerts[0].status == "acknowledged"

    assert resolve(
        project.log, db, incident_id, actor="ana", via="cli", reason="provider back", review_due_days=14
    )
    await send.tick()
    events = [r.body for r in pagerduty.accepted()]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {key}
    assert events[2] == {"routing_key": events[0]["routing_key"], "dedup_key": key, "event_action": "resolve"}
    assert pagerduty.alerts[0].status == "resolved" and len(pagerduty.alerts) == 1
    assert all(r.problems == () for r in [*pagerduty.received, *slack.received])

    incident = get_incident(db, incident_id)
    assert incident.state == "resolved" and incident.acked_by == "ana"
    assert incident.review_due_at == pytest.approx(incident.resolved_at + 14 * 86400)  # type: ignore[operator]
    review = incident.review or ""
    for section in ("## Summary", "## Impact", "## Timeline (UTC)", "## Root cause", "## What went well",
                    "## Action items", "| action | owner | due | ticket |"):  # fmt: skip
        assert section in review
    kinds = [e.kind for e in incident_events(db, incident_id)]
    for kind in ("opened", "alert_firing", "handoff_paged", "page_sent", "escalated", "lever", "acknowledged",
                 "resolved", "review_due"):  # fmt: skip
        assert kind in kinds
    assert (
        kinds.index("escalated")
        < kinds.index("lever")
        < kinds.index("acknowledged")
        < kinds.index("resolved")
    )
    texts = [describe_event(e) for e in incident_events(db, incident_id)]
    assert any(t.startswith("kill_switch ops by ana: provider outage") for t in texts)
    # The failed requests wait in the review queue for the right answer (then become eval cases).
    queued = {i.request_id: i.reason for i in list_items(db, feature="ops")}
    assert set(failed_ids) <= set(queued) and queued[failed_ids[0]] == f"incident:{incident_id}"
    assert set(incident.scenario["inputs"]) >= set(failed_ids)


async def test_two_evaluators_on_one_database_queue_and_send_each_page_once(
    project: Project, ops: FeatureOps, pagerduty: PagerDutyReceiver, add_requests: Callable[..., list[str]]
) -> None:
    first, second = evaluator(project, ops), evaluator(project, ops)
    add_requests(5, failed=True)
    now = time.time()
    a, b = first.run(now), second.run(now)
    # The second pass finds the alert firing already: no second incident, no second page.
    assert len(a.opened) + len(b.opened) == 1 and a.pages_queued + b.pages_queued == 2
    # Even two dispatchers claiming at once send each page once.
    claimed_a = claim_pages(project.store.db, now)
    claimed_b = claim_pages(project.store.db, now)
    assert len(claimed_a) == 2 and claimed_b == []


def test_only_one_holder_has_the_lease_until_it_expires(project: Project) -> None:
    clock = [1000.0]
    a = Lease(project.store.db, "operate", "a", ttl_s=10, clock=lambda: clock[0])
    b = Lease(project.store.db, "operate", "b", ttl_s=10, clock=lambda: clock[0])
    assert a.acquire() and not b.acquire()
    clock[0] += 5
    assert a.acquire() and not b.acquire()  # renewed
    clock[0] += 11
    assert b.acquire() and not a.acquire()  # a stopped renewing: b took over
    b.release()
    assert a.acquire()


async def test_a_ticket_alert_notifies_the_ticket_channels_without_an_incident(
    project: Project,
    ops: FeatureOps,
    pagerduty: PagerDutyReceiver,
    slack: SlackReceiver,
    add_requests: Callable[..., list[str]],
) -> None:
    ticket = replace(ops.rules[0], name="errors-ticket", severity="ticket", keep_firing_s=0)
    quiet = replace(ops, rules=[ticket])
    engine, send = evaluator(project, quiet), dispatcher(project, quiet)
    add_requests(5, failed=True)
    now = time.time()
    assert engine.run(now).fired == ["ops/errors-ticket"]
    await send.tick()
    assert project.store.db.query("SELECT count(*) FROM incidents", action="count") == [(0,)]
    assert pagerduty.received == []  # tickets never page
    [opened] = slack.accepted()
    assert opened.body["text"].startswith("WARNING triggered [ops]: [ticket]")
    assert engine.run(now + 10).resolved == ["ops/errors-ticket"]  # the window emptied
    await send.tick()
    assert slack.accepted()[1].body["text"].startswith("WARNING resolved [ops]")


async def test_pages_that_fail_are_marked_and_the_timeline_says_so(
    project: Project, ops: FeatureOps, pagerduty: PagerDutyReceiver, add_requests: Callable[..., list[str]]
) -> None:
    from runwell.ops.notify import Retrier

    for notifier in ops.channels.notifiers.values():
        notifier.retrier = Retrier(attempts=2, base_delay_s=0.0, max_delay_s=0.0)  # type: ignore[attr-defined]
    pagerduty.fail_next(2, status=500, retry_after=None)
    add_requests(5, failed=True)
    [incident_id] = evaluator(project, ops).run(time.time()).opened
    await dispatcher(project, ops).tick()
    pages = {p.channel: p for p in incident_pages(project.store.db, incident_id)}
    assert pages["pagerduty"].status == "failed" and "HTTP 500" in (pages["pagerduty"].error or "")
    assert pages["slack"].status == "sent"
    texts = [describe_event(e) for e in incident_events(project.store.db, incident_id)]
    assert any("trigger FAILED over pagerduty" in t for t in texts)


def test_a_burn_rate_rule_fires_when_both_windows_of_a_pair_burn_too_fast(
    project: Project, ops: FeatureOps, add_requests: Callable[..., list[str]]
) -> None:
    from runwell.operate.burn import pairs_for
    from runwell.spec.operate import Slo

    # A 99 % SLO over 2880 s: the fast pair's windows are 4 s and 1/3 s, its thresholds 14.4 % / 6 %.
    slo = Slo(objective=99.0, period_days=2880 / 86400)
    fast = tuple(p for p in pairs_for(slo.period_s) if p.action == "page")
    rule = replace(ops.rules[0], name="slo", metric=None, op=None, threshold=None, slo=slo, pairs=fast,
                   min_requests=1)  # fmt: skip
    engine = evaluator(project, replace(ops, rules=[rule]))
    add_requests(20, failed=False, ago=2.0)
    add_requests(4, failed=True, ago=2.0)  # 17 % over the long window, nothing in the short one
    assert engine.run(time.time()).fired == []
    now = time.time()  # the record and the pass share one clock reading: the window is 1/3 s
    add_requests(1, failed=True, started_at=now - 0.1)  # now the last third of a second is failing too
    done = engine.run(now)
    assert done.fired == ["ops/slo"]
    row = project.store.db.query_one(
        "SELECT last_value, detail FROM alerts WHERE name = 'slo'", action="read"
    )
    assert row is not None and row[0] == pytest.approx(5 / 25 / 0.01)  # a 20x burn over the long window
    assert '"alerting":true' in str(row[1])


def test_overdue_reviews_are_reported_once_an_hour(
    project: Project, ops: FeatureOps, add_requests: Callable[..., list[str]]
) -> None:
    add_requests(5, failed=True)
    engine = evaluator(project, ops)
    [incident_id] = engine.run(time.time()).opened
    resolve(
        project.log, project.store.db, incident_id, actor="ana", via="cli", reason="fixed", review_due_days=1
    )
    later = time.time() + 2 * 86400
    [overdue] = engine.run(later).overdue_reviews
    assert overdue["incident"] == incident_id and overdue["feature"] == "ops"
    assert engine.run(later + 60).overdue_reviews == []  # told already this hour
    assert engine.run(later + 3700).overdue_reviews != []


async def test_webhook_pages_are_signed_and_email_pages_reach_the_people_paged(
    project: Project, ops: FeatureOps, add_requests: Callable[..., list[str]]
) -> None:
    from runwell.operate.channels import build_channels
    from runwell.ops.notify import new_secret
    from runwell.spec.operate import OnCall
    from runwell.testing.receivers import SmtpReceiver, WebhookReceiver

    secret = new_secret().reveal()
    async with WebhookReceiver(secret) as hook, SmtpReceiver() as smtp:
        oncall = OnCall.model_validate(
            {
                "channels": {
                    "hook": {"type": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
                    "mail": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
                             "sender": "runwell@example.com", "to": ["oncall-log@example.com"]},
                }
            }
        )  # fmt: skip
        channels = build_channels(oncall, {"HOOK_URL": hook.url, "HOOK_SECRET": secret}, feature="ops")
        plan = replace(ops.plan, level_channels=(("hook", "mail"), ("mail",)))
        mailed = replace(ops, channels=channels, plan=plan)
        add_requests(5, failed=True)
        [incident_id] = evaluator(project, mailed).run(time.time()).opened
        await dispatcher(project, mailed).tick()
        await channels.aclose()
        [signed] = hook.accepted()
        assert signed.problems == () and signed.body["type"] == "runwell.alert.triggered"
        assert signed.body["data"]["dedup_key"] == dedup_key("ops", incident_id)
        [mail] = smtp.received
        on_call, _ = on_call_now()
        contact = {"Ana": "ana@example.com", "Bo": "bo@example.com"}[on_call]
        assert mail.rcpt_tos == (contact, "olga@example.com", "oncall-log@example.com")
        assert "runbooks/outage.md" in mail.body and f"/operate/incidents/{incident_id}/ack?t=" in mail.body

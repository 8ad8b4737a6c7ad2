"""PagerDuty Events API v2 notifier, against the checking local receiver over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from runwell.errors import ConfigError
from runwell.ops.notify import Link, Notification, PagerDutyNotifier, Retrier
from runwell.ops.notify.pagerduty import MAX_DEDUP_KEY, MAX_SUMMARY
from runwell.testing.receivers import PagerDutyReceiver

from .conftest import ROUTING_KEY, FakeTime

FIRED = datetime(2026, 3, 20, 14, 5, 0, tzinfo=UTC)


def alert(event: str = "trigger", **overrides: object) -> Notification:
    values: dict[str, object] = {
        "event": event,
        "dedup_key": "support-reply/latency-p95",
        "summary": "support-reply p95 latency 9.2 s over the 4 s SLO",
        "severity": "critical",
        "source": "gateway-eu-1",
        "feature": "support-reply",
        "failure_mode": "provider-slow",
        "runbook": "https://runbooks.example.com/support-reply#provider-slow",
        "ack_url": "https://console.example.com/alerts/42/ack",
        "links": (Link("https://grafana.example.com/d/abc", "Latency dashboard"),),
        "details": {"p95_ms": 9200, "slo_ms": 4000},
        "timestamp": FIRED,
    }
    values.update(overrides)
    return Notification(**values)  # type: ignore[arg-type]


@pytest.fixture
async def notifier(pagerduty: PagerDutyReceiver, retrier: Retrier) -> AsyncIterator[PagerDutyNotifier]:
    n = PagerDutyNotifier(
        ROUTING_KEY,
        url=pagerduty.url,
        client_url="https://console.example.com",
        group="llm-features",
        retrier=retrier,
    )
    yield n
    await n.aclose()


async def test_trigger_ack_resolve_reach_one_alert_with_the_right_payloads(
    notifier: PagerDutyNotifier, pagerduty: PagerDutyReceiver
) -> None:
    results = [await notifier.send(alert(e)) for e in ("trigger", "acknowledge", "resolve")]

    assert [r.ok for r in results] == [True, True, True]
    assert {r.receiver_id for r in results} == {"support-reply/latency-p95"}
    assert [r.status for r in pagerduty.received] == [202, 202, 202]
    assert all(not r.problems and not r.notes for r in pagerduty.received)
    trigger = pagerduty.received[0].body
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == "support-reply/latency-p95"
    assert trigger["client"] == "runwell" and trigger["client_url"] == "https://console.example.com"
    assert trigger["payload"] == {
        "summary": "support-reply p95 latency 9.2 s over the 4 s SLO",
        "source": "gateway-eu-1",
        "severity": "critical",
        "timestamp": "2026-03-20T14:05:00+00:00",
        "component": "support-reply",
        "group": "llm-features",
        "class": "provider-slow",
        "custom_details": {
            "p95_ms": 9200,
            "slo_ms": 4000,
            "runbook": "https://runbooks.example.com/support-reply#provider-slow",
            "feature": "support-reply",
            "failure_mode": "provider-slow",
        },
    }
    assert trigger["links"] == [
        {"href": "https://runbooks.example.com/support-reply#provider-slow", "text": "Runbook"},
        {"href": "https://console.example.com/alerts/42/ack", "text": "Acknowledge"},
        {"href": "https://grafana.example.com/d/abc", "text": "Latency dashboard"},
    ]
    for follow_up, action in zip(pagerduty.received[1:], ("acknowledge", "resolve"), strict=True):
        assert follow_up.body == {
            "routing_key": ROUTING_KEY,
            "dedup_key": "support-reply/latency-p95",
            "event_action": action,
        }
    [only] = pagerduty.alerts
    assert only.status == "resolved" and only.actions == ["trigger", "acknowledge", "resolve"]


async def test_a_trigger_after_resolve_opens_a_new_alert(
    notifier: PagerDutyNotifier, pagerduty: PagerDutyReceiver
) -> None:
    await notifier.send(alert("trigger"))
    await notifier.send(alert("resolve"))
    await notifier.send(alert("trigger"))

    assert [a.status for a in pagerduty.alerts] == ["resolved", "triggered"]
    assert pagerduty.open_alert("support-reply/latency-p95") is pagerduty.alerts[1]


async def test_429_then_202_is_retried_after_retry_after_and_succeeds(
    notifier: PagerDutyNotifier, pagerduty: PagerDutyReceiver, fake_time: FakeTime
) -> None:
    pagerduty.fail_next(1, status=429, retry_after=30)

    delivery = await notifier.send(alert())

    assert delivery.ok and delivery.attempts == 2 and delivery.status == 202
    assert [r.status for r in pagerduty.received] == [429, 202]
    assert pagerduty.received[0].raw == pagerduty.received[1].raw  # the same event, re-sent
    [slept] = fake_time.sleeps
    assert 30 <= slept <= 31  # Retry-After plus at most base_delay_s of jitter


async def test_an_invalid_event_gets_pagerdutys_400_body_and_the_notifier_quotes_its_errors(
    pagerduty: PagerDutyReceiver, retrier: Retrier, fake_time: FakeTime
) -> None:
    notifier = PagerDutyNotifier(ROUTING_KEY, url=pagerduty.url, retrier=retrier)
    # client must be a string on the wire; sneak a number past the notifier to make PagerDuty say no.
    notifier.client = 7  # type: ignore[assignment]
    try:
        delivery = await notifier.send(alert())
    finally:
        await notifier.aclose()

    assert not delivery.ok and delivery.status == 400 and delivery.attempts == 1
    assert delivery.error == (
        "PagerDuty rejected the event (HTTP 400, not retried): Event object is invalid: 'client' must be a string"
    )
    assert pagerduty.received[0].problems == ("'client' must be a string",)
    assert fake_time.sleeps == []


async def test_5xx_is_retried_until_attempts_run_out_with_growing_full_jitter_backoff(
    notifier: PagerDutyNotifier, pagerduty: PagerDutyReceiver, fake_time: FakeTime
) -> None:
    pagerduty.fail_next(4, status=503, retry_after=None)

    delivery = await notifier.send(alert())

    assert not delivery.ok and delivery.attempts == 4 and delivery.status == 503
    assert delivery.error is not None and delivery.error.endswith("(after 4 attempts)")
    assert len(pagerduty.received) == 4
    assert len(fake_time.sleeps) == 3
    for retry, slept in enumerate(fake_time.sleeps, start=1):
        assert 0 <= slept <= 2 ** (retry - 1)


async def test_a_network_error_is_retried(closed_port: int, retrier: Retrier) -> None:
    notifier = PagerDutyNotifier(
        ROUTING_KEY, url=f"http://127.0.0.1:{closed_port}/v2/enqueue", retrier=retrier
    )
    try:
        delivery = await notifier.send(alert())
    finally:
        await notifier.aclose()

    assert not delivery.ok and delivery.attempts == 4 and delivery.status is None
    assert f"cannot connect to http://127.0.0.1:{closed_port}" in (delivery.error or "")


async def test_over_long_summary_is_cut_with_an_ellipsis_and_long_keys_stay_distinct(
    notifier: PagerDutyNotifier, pagerduty: PagerDutyReceiver
) -> None:
    long_key = "k" * 300
    other_key = "k" * 299 + "j"
    await notifier.send(alert(summary="x" * 5000, dedup_key=long_key))
    await notifier.send(alert(dedup_key=other_key))
    await notifier.send(alert("resolve", dedup_key=long_key))

    first, second, resolve = (r.body for r in pagerduty.received)
    assert all(r.status == 202 for r in pagerduty.received)
    assert len(first["payload"]["summary"]) == MAX_SUMMARY and first["payload"]["summary"].endswith("…")
    assert len(first["dedup_key"]) <= MAX_DEDUP_KEY
    assert first["dedup_key"] != second["dedup_key"]
    assert resolve["dedup_key"] == first["dedup_key"]
    assert first["payload"]["custom_details"]["runwell_dedup_key"] == long_key
    assert [a.status for a in pagerduty.alerts] == ["resolved", "triggered"]


def test_routing_key_length_is_checked_and_never_shown() -> None:
    with pytest.raises(ConfigError, match="must be 32 characters") as info:
        PagerDutyNotifier("too-short-secret-key")
    assert "too-short-secret-key" not in str(info.value)
    notifier = PagerDutyNotifier(ROUTING_KEY)
    assert ROUTING_KEY not in repr(notifier)
    assert ROUTING_KEY not in repr(vars(notifier))

"""Slack incoming-webhook notifier, against the checking local receiver over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from runwell.ops.notify import Notification, Retrier, SlackNotifier
from runwell.ops.notify.slack import escape_mrkdwn, slack_message
from runwell.testing.receivers import SlackReceiver, check_slack_message

from .conftest import FakeTime


def alert(event: str = "trigger", **overrides: object) -> Notification:
    values: dict[str, object] = {
        "event": event,
        "dedup_key": "support-reply/refusals",
        "summary": "support-reply refusal rate 12 % <!channel> & rising",
        "severity": "warning",
        "feature": "support-reply",
        "failure_mode": "over-refusal",
        "runbook": "docs/runbooks/support-reply.md#over-refusal",
        "ack_url": "https://console.example.com/alerts/7/ack",
        "timestamp": datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return Notification(**values)  # type: ignore[arg-type]


@pytest.fixture
async def notifier(slack: SlackReceiver, retrier: Retrier) -> AsyncIterator[SlackNotifier]:
    n = SlackNotifier(slack.url, retrier=retrier)
    yield n
    await n.aclose()


async def test_a_trigger_gets_ok_and_carries_fallback_fields_runbook_and_ack_button(
    notifier: SlackNotifier, slack: SlackReceiver
) -> None:
    delivery = await notifier.send(alert())

    assert delivery.ok and delivery.status == 200 and delivery.attempts == 1
    [got] = slack.received
    assert got.status == 200 and got.problems == ()
    body = got.body
    assert (
        body["text"]
        == "WARNING triggered [support-reply]: support-reply refusal rate 12 % <!channel> & rising"
    )
    header, summary, fields, runbook, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "Triggered: support-reply refusal rate 12 % <!channel> & rising",
        },
    }
    # mrkdwn is escaped so that a summary cannot ping the whole channel.
    assert "&lt;!channel&gt; &amp; rising" in summary["text"]["text"]
    assert [f["text"] for f in fields["fields"]][:3] == [
        "*Severity*\nwarning",
        "*Feature*\nsupport-reply",
        "*Failure mode*\nover-refusal",
    ]
    assert runbook["text"]["text"] == "*Runbook:* `docs/runbooks/support-reply.md#over-refusal`"
    [button] = actions["elements"]
    assert button["text"]["text"] == "Acknowledge"
    assert button["url"] == "https://console.example.com/alerts/7/ack"


async def test_a_resolve_has_no_acknowledge_button(notifier: SlackNotifier, slack: SlackReceiver) -> None:
    assert (await notifier.send(alert("resolve"))).ok
    assert all(block["type"] != "actions" for block in slack.received[0].body["blocks"])


async def test_429_honours_retry_after_then_succeeds(
    notifier: SlackNotifier, slack: SlackReceiver, fake_time: FakeTime
) -> None:
    slack.fail_next(2, status=429, retry_after=3)

    delivery = await notifier.send(alert())

    assert delivery.ok and delivery.attempts == 3
    assert [r.status for r in slack.received] == [429, 429, 200]
    assert len(fake_time.sleeps) == 2 and all(3 <= s <= 4 for s in fake_time.sleeps)


async def test_a_retry_after_beyond_the_limit_stops_and_is_reported_for_rescheduling(
    slack: SlackReceiver, fake_time: FakeTime
) -> None:
    notifier = SlackNotifier(
        slack.url, retrier=Retrier(max_retry_after_s=60, sleep=fake_time.sleep, clock=fake_time.time)
    )
    slack.fail_next(1, status=429, retry_after=3600)
    try:
        delivery = await notifier.send(alert())
    finally:
        await notifier.aclose()

    assert not delivery.ok and delivery.attempts == 1 and delivery.retry_after_s == 3600
    assert "asked to retry after 3600 s" in (delivery.error or "")
    assert fake_time.sleeps == []


@pytest.mark.parametrize(("status", "gone"), [(404, False), (403, False), (410, True)])
async def test_other_4xx_are_final(
    notifier: SlackNotifier, slack: SlackReceiver, status: int, gone: bool, fake_time: FakeTime
) -> None:
    slack.fail_next(1, status=status, retry_after=None)

    delivery = await notifier.send(alert())

    assert not delivery.ok and delivery.attempts == 1 and delivery.status == status and delivery.gone is gone
    assert fake_time.sleeps == []


def test_the_receiver_rejects_what_slack_would() -> None:
    assert check_slack_message({}) == ["no_text: the message has neither text nor blocks"]
    too_long = {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}
    assert check_slack_message(too_long) == [
        "blocks[0].text.text must be a non-empty string of at most 150 characters"
    ]
    assert check_slack_message(
        {"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "a"}] * 11}]}
    )


def test_every_notification_shape_passes_the_block_kit_checks() -> None:
    huge = alert(summary="s" * 10_000, failure_mode="f" * 5000, links=())
    for n in (alert(), alert("acknowledge"), alert(runbook=None, ack_url=None, feature=None), huge):
        assert check_slack_message(slack_message(n)) == []


def test_webhook_url_is_never_shown() -> None:
    url = "https://hooks.slack.com/services/T0001/B0002/very-secret-token"
    notifier = SlackNotifier(url)
    assert "very-secret-token" not in repr(notifier)
    assert repr(notifier) == "SlackNotifier(webhook=https://hooks.slack.com/***)"
    assert escape_mrkdwn("<a & b>") == "&lt;a &amp; b&gt;"

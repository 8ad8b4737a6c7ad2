"""Email notifier against a local SMTP server (aiosmtpd) over real SMTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runwell.errors import ConfigError
from runwell.ops.notify import EmailNotifier, Link, Notification, Retrier, Secret, SmtpSettings
from runwell.testing.receivers import SmtpReceiver

from .conftest import FakeTime


def alert(event: str = "trigger", **overrides: object) -> Notification:
    values: dict[str, object] = {
        "event": event,
        "dedup_key": "support-reply/cost",
        "summary": "support-reply spend at 140 % of the daily budget",
        "severity": "critical",
        "feature": "support-reply",
        "failure_mode": "cost-runaway",
        "runbook": "docs/runbooks/support-reply.md#cost",
        "ack_url": "https://console.example.com/alerts/9/ack",
        "links": (Link("https://grafana.example.com/d/cost", "Cost dashboard"),),
        "details": {"spend_usd": 70.2, "budget_usd": 50},
        "timestamp": datetime(2026, 3, 20, 9, 30, tzinfo=UTC),
    }
    values.update(overrides)
    return Notification(**values)  # type: ignore[arg-type]


def settings(smtp: SmtpReceiver, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "sender": "runwell@example.com",
        "recipients": ("oncall@example.com", "owners@example.com"),
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


async def test_the_email_arrives_with_severity_and_summary_in_the_subject(
    smtp: SmtpReceiver, retrier: Retrier
) -> None:
    delivery = await EmailNotifier(settings(smtp), retrier=retrier).send(alert())

    assert delivery.ok and delivery.attempts == 1 and delivery.status == 250
    [mail] = smtp.received
    assert (
        mail.subject
        == "[CRITICAL] triggered [support-reply]: support-reply spend at 140 % of the daily budget"
    )
    assert mail.mail_from == "runwell@example.com"
    assert mail.rcpt_tos == ("oncall@example.com", "owners@example.com")
    assert mail.headers["message-id"] == delivery.receiver_id
    assert mail.headers["auto-submitted"] == "auto-generated"
    assert mail.headers["x-runwell-dedup-key"] == "support-reply/cost"
    assert "Runbook: docs/runbooks/support-reply.md#cost" in mail.body
    assert "Acknowledge: https://console.example.com/alerts/9/ack" in mail.body
    assert "Cost dashboard: https://grafana.example.com/d/cost" in mail.body
    assert "spend_usd: 70.2" in mail.body
    assert "Failure mode: cost-runaway" in mail.body


async def test_a_summary_cannot_inject_headers(smtp: SmtpReceiver, retrier: Retrier) -> None:
    await EmailNotifier(settings(smtp), retrier=retrier).send(
        alert(summary="spend\r\nBcc: everyone@example.com")
    )

    [mail] = smtp.received
    assert "bcc" not in mail.headers
    assert mail.subject.endswith("spend Bcc: everyone@example.com")


async def test_a_temporary_4xx_is_retried(smtp: SmtpReceiver, retrier: Retrier, fake_time: FakeTime) -> None:
    smtp.fail_next(2, code=451)

    delivery = await EmailNotifier(settings(smtp), retrier=retrier).send(alert())

    assert delivery.ok and delivery.attempts == 3
    assert len(smtp.received) == 1 and len(fake_time.sleeps) == 2


async def test_a_permanent_5xx_is_not_retried(
    smtp: SmtpReceiver, retrier: Retrier, fake_time: FakeTime
) -> None:
    smtp.fail_next(1, code=554, message="5.7.1 Message rejected")

    delivery = await EmailNotifier(settings(smtp), retrier=retrier).send(alert())

    assert not delivery.ok and delivery.attempts == 1 and delivery.status == 554
    assert delivery.error == f"SMTP 127.0.0.1:{smtp.port} refused the mail: 554 5.7.1 Message rejected"
    assert smtp.received == [] and fake_time.sleeps == []


async def test_starttls_and_auth(retrier: Retrier) -> None:
    async with SmtpReceiver(tls=True, users={"pager": "s3cret-pass"}) as smtp:
        good = settings(
            smtp,
            security="starttls",
            username="pager",
            password=Secret("s3cret-pass"),
            ssl_context=smtp.client_ssl_context(),
        )
        delivery = await EmailNotifier(good, retrier=retrier).send(alert())
        wrong = settings(
            smtp,
            security="starttls",
            username="pager",
            password=Secret("wrong"),
            ssl_context=smtp.client_ssl_context(),
        )
        refused = await EmailNotifier(wrong, retrier=retrier).send(alert())

    assert delivery.ok
    [mail] = smtp.received
    assert mail.tls and mail.user == "pager"
    assert not refused.ok and refused.status == 535 and refused.attempts == 1
    assert "s3cret-pass" not in repr(good) and "s3cret-pass" not in repr(EmailNotifier(good))


async def test_an_untrusted_certificate_fails_without_retrying(retrier: Retrier, fake_time: FakeTime) -> None:
    async with SmtpReceiver(tls=True) as smtp:
        delivery = await EmailNotifier(settings(smtp, security="starttls"), retrier=retrier).send(alert())

    assert not delivery.ok and delivery.attempts == 1 and "certificate" in (delivery.error or "")
    assert smtp.received == []


async def test_an_unreachable_relay_is_retried(closed_port: int, retrier: Retrier) -> None:
    s = SmtpSettings(
        host="127.0.0.1", port=closed_port, security="none", sender="a@b.c", recipients=("d@e.f",)
    )
    delivery = await EmailNotifier(s, retrier=retrier).send(alert())

    assert not delivery.ok and delivery.attempts == 4 and "ConnectionRefusedError" in (delivery.error or "")


def test_settings_refuse_what_would_leak_or_cannot_work() -> None:
    with pytest.raises(ConfigError, match="password in clear"):
        SmtpSettings(
            host="mail",
            sender="a@b.c",
            recipients=("d@e.f",),
            security="none",
            username="u",
            password=Secret("p"),
        )
    with pytest.raises(ConfigError, match="at least one recipient"):
        SmtpSettings(host="mail", sender="a@b.c", recipients=())
    with pytest.raises(ConfigError, match="give both or neither"):
        SmtpSettings(host="mail", sender="a@b.c", recipients=("d@e.f",), username="u")

"""The notifier seam: notifications, the retry loop, Retry-After, secrets, the public API."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime

import pytest

import runwell.ops.notify as notify
from runwell.errors import ConfigError
from runwell.ops.notify import (
    AttemptResult,
    EmailNotifier,
    Notification,
    Notifier,
    PagerDutyNotifier,
    Retrier,
    Secret,
    SlackNotifier,
    SmtpSettings,
    WebhookNotifier,
    new_secret,
)
from runwell.ops.notify.base import parse_retry_after, truncate

from .conftest import ROUTING_KEY, FakeTime


def test_the_public_api_is_pinned() -> None:
    assert notify.__all__ == [
        "EVENTS",
        "SEVERITIES",
        "AttemptResult",
        "Delivery",
        "EmailNotifier",
        "Event",
        "Link",
        "Notification",
        "Notifier",
        "PagerDutyNotifier",
        "Retrier",
        "Secret",
        "Severity",
        "SlackNotifier",
        "SmtpSettings",
        "WebhookNotifier",
        "WebhookVerification",
        "new_secret",
        "sign_standard_webhook",
        "verify_standard_webhook",
    ]


def test_every_channel_is_a_notifier() -> None:
    settings = SmtpSettings(host="mail", sender="a@b.c", recipients=("d@e.f",))
    channels: list[Notifier] = [
        PagerDutyNotifier(ROUTING_KEY),
        SlackNotifier("https://hooks.slack.com/services/T/B/X"),
        WebhookNotifier("https://example.com/hook", new_secret()),
        EmailNotifier(settings),
    ]
    assert all(isinstance(c, Notifier) for c in channels)
    assert [c.channel for c in channels] == ["pagerduty", "slack", "webhook", "email"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event": "escalate"}, "event 'escalate' is not one of trigger, acknowledge, resolve"),
        ({"severity": "high"}, "severity 'high' is not one of critical, error, warning, info"),
        ({"dedup_key": " "}, "non-empty dedup_key"),
        ({"summary": ""}, "empty summary"),
        ({"timestamp": datetime(2026, 3, 20, 9, 0)}, "naive timestamp"),
    ],
)
def test_bad_notifications_are_refused(change: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"event": "trigger", "dedup_key": "k", "summary": "s"}
    with pytest.raises(ConfigError, match=message):
        Notification(**{**values, **change})  # type: ignore[arg-type]


def test_a_notification_keeps_its_own_copy_of_the_details() -> None:
    details = {"a": 1}
    n = Notification("trigger", "k", "s", details=details)
    details["a"] = 2
    assert n.details == {"a": 1}
    assert n.when(lambda: 0.0) == datetime(1970, 1, 1, tzinfo=UTC)


def test_secrets_are_masked_and_cannot_be_pickled() -> None:
    s = Secret("hunter2")
    assert repr(s) == "Secret('***')" and str(s) == "***" and f"{s}" == "***"
    assert s.reveal() == "hunter2" and Secret(s).reveal() == "hunter2"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(s)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Fri, 20 Mar 2026 09:01:00 GMT", 60.0),
        ("Fri, 20 Mar 2026 08:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    now = datetime(2026, 3, 20, 9, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now) == seconds


def test_full_jitter_stays_within_the_exponential_cap() -> None:
    r = Retrier(base_delay_s=1.0, max_delay_s=8.0, rng=random.Random(3))
    for retry, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [r.delay_s(retry) for _ in range(200)]
        assert all(d is not None and 0 <= d <= cap for d in delays)
        assert max(d for d in delays if d is not None) > cap * 0.8  # it really spreads over the range
    assert r.delay_s(1, retry_after_s=10) is not None and 10 <= r.delay_s(1, retry_after_s=10) <= 11  # type: ignore[operator]
    assert r.delay_s(1, retry_after_s=10_000) is None


async def test_the_retry_loop_stops_on_success_on_a_final_failure_and_when_attempts_run_out(
    fake_time: FakeTime,
) -> None:
    r = Retrier(attempts=3, sleep=fake_time.sleep, clock=fake_time.time, rng=random.Random(1))
    script = iter([AttemptResult(ok=False, retry=True, error="busy"), AttemptResult(ok=True, status=202)])

    async def flaky(_attempt: int) -> AttemptResult:
        return next(script)

    ok = await r.run("test", flaky)
    assert (ok.ok, ok.attempts, ok.status, ok.error) == (True, 2, 202, None)

    async def rejected(_attempt: int) -> AttemptResult:
        return AttemptResult(ok=False, status=400, error="bad")

    final = await r.run("test", rejected)
    assert (final.ok, final.attempts, final.error) == (False, 1, "bad")

    async def down(_attempt: int) -> AttemptResult:
        return AttemptResult(ok=False, retry=True, status=503, error="down")

    exhausted = await r.run("test", down)
    assert (exhausted.attempts, exhausted.error) == (3, "down (after 3 attempts)")
    assert len(fake_time.sleeps) == 1 + 2


def test_retrier_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        Retrier(attempts=0)
    with pytest.raises(ConfigError, match="base_delay_s <= max_delay_s"):
        Retrier(base_delay_s=10, max_delay_s=1)


def test_truncate_marks_the_cut() -> None:
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc"

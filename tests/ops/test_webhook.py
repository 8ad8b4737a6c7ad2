"""Standard Webhooks signing and verification, and the webhook notifier over real HTTP."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import aiohttp
import orjson
import pytest

from runwell.errors import ConfigError
from runwell.ops.notify import Notification, Retrier, WebhookNotifier, new_secret
from runwell.ops.notify.webhook import decode_secret, sign_standard_webhook, verify_standard_webhook
from runwell.testing.receivers import WebhookReceiver

from .conftest import FakeTime

# The Standard Webhooks specification's published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def vector_headers(signature: str = VECTOR_SIG, ts: int = VECTOR_TS) -> dict[str, str]:
    return {"Webhook-Id": VECTOR_ID, "Webhook-Timestamp": str(ts), "Webhook-Signature": signature}


def alert(event: str = "trigger") -> Notification:
    return Notification(
        event=event,  # type: ignore[arg-type]
        dedup_key="support-reply/errors",
        summary="support-reply 5xx rate 4 %",
        severity="error",
        feature="support-reply",
        timestamp=datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
        details={"rate": 0.04},
    )


def test_signing_reproduces_the_specs_test_vector() -> None:
    assert sign_standard_webhook(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG
    check = verify_standard_webhook(VECTOR_SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS + 10)
    assert check.ok and check.msg_id == VECTOR_ID and check.timestamp == VECTOR_TS


@pytest.mark.parametrize(
    ("headers", "body", "now", "reason"),
    [
        (vector_headers(), b'{"test": 2432232315}', VECTOR_TS, "no v1 signature matches"),
        (vector_headers(), VECTOR_BODY, VECTOR_TS + 301, "outside the 300 s tolerance"),
        (vector_headers(), VECTOR_BODY, VECTOR_TS - 301, "outside the 300 s tolerance"),
        (vector_headers(VECTOR_SIG.replace("v1,", "v2,")), VECTOR_BODY, VECTOR_TS, "no v1 signature"),
        (vector_headers("v1,not-base64!"), VECTOR_BODY, VECTOR_TS, "no v1 signature"),
        (
            {"webhook-id": VECTOR_ID},
            VECTOR_BODY,
            VECTOR_TS,
            "missing header(s): webhook-timestamp, webhook-signature",
        ),
        ({**vector_headers(), "Webhook-Timestamp": "soon"}, VECTOR_BODY, VECTOR_TS, "is not Unix seconds"),
    ],
)
def test_verification_rejects_tampering_replays_and_malformed_headers(
    headers: dict[str, str], body: bytes, now: float, reason: str
) -> None:
    check = verify_standard_webhook(VECTOR_SECRET, headers, body, now=now)
    assert not check.ok and reason in check.reason


def test_any_of_several_signatures_and_secrets_verifies_for_key_rotation() -> None:
    new = new_secret()
    two_sigs = f"{sign_standard_webhook(new, VECTOR_ID, VECTOR_TS, VECTOR_BODY)} {VECTOR_SIG}"
    # A receiver that still has only the old key accepts a message signed with both.
    assert verify_standard_webhook(VECTOR_SECRET, vector_headers(two_sigs), VECTOR_BODY, now=VECTOR_TS).ok
    # A receiver that already holds both keys accepts a message signed with the old one.
    assert verify_standard_webhook([new, VECTOR_SECRET], vector_headers(), VECTOR_BODY, now=VECTOR_TS).ok
    assert not verify_standard_webhook(new, vector_headers(), VECTOR_BODY, now=VECTOR_TS).ok


def test_secrets_are_checked() -> None:
    assert len(decode_secret(new_secret())) == 32
    assert decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == decode_secret(VECTOR_SECRET)
    with pytest.raises(ConfigError, match="not valid base64"):
        decode_secret("whsec_not base64!")
    with pytest.raises(ConfigError, match="24 to 64 random bytes, this one holds 5"):
        decode_secret("whsec_c2hvcnQ=")


async def test_the_receiver_verifies_the_notifiers_signature(
    webhook: WebhookReceiver, webhook_secret: str, retrier: Retrier, fake_time: FakeTime
) -> None:
    notifier = WebhookNotifier(webhook.url, webhook_secret, retrier=retrier)
    try:
        delivery = await notifier.send(alert())
    finally:
        await notifier.aclose()

    assert delivery.ok and delivery.status == 204
    [got] = webhook.received
    assert got.problems == ()
    assert got.headers["webhook-id"] == delivery.receiver_id
    assert got.headers["webhook-timestamp"] == str(int(fake_time.now))
    assert got.body["type"] == "runwell.alert.triggered"
    assert got.body["data"]["dedup_key"] == "support-reply/errors"
    assert got.body["data"]["details"] == {"rate": 0.04}


async def test_the_receiver_rejects_a_tampered_body_and_a_stale_timestamp(
    webhook: WebhookReceiver, webhook_secret: str, fake_time: FakeTime
) -> None:
    now = int(fake_time.now)
    body = orjson.dumps({"type": "runwell.alert.triggered", "data": {}})
    signature = sign_standard_webhook(webhook_secret, "msg_1", now, body)
    stale = sign_standard_webhook(webhook_secret, "msg_2", now - 3600, body)
    async with aiohttp.ClientSession() as session:
        for msg_id, ts, sig, sent in (
            ("msg_1", now, signature, body.replace(b"triggered", b"resolved")),
            ("msg_2", now - 3600, stale, body),
            ("msg_1", now, signature, body),
        ):
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}
            async with session.post(webhook.url, data=sent, headers=headers) as resp:
                await resp.read()

    tampered, replayed, genuine = webhook.received
    assert tampered.status == 401 and "no v1 signature matches" in tampered.problems[0]
    assert replayed.status == 401 and "outside the 300 s tolerance" in replayed.problems[0]
    assert genuine.status == 204


async def test_retries_keep_the_webhook_id_and_sign_a_fresh_timestamp(
    webhook: WebhookReceiver, webhook_secret: str, retrier: Retrier, fake_time: FakeTime
) -> None:
    webhook.fail_next(1, status=502, retry_after=None)
    webhook.fail_next(1, status=429, retry_after=20)
    notifier = WebhookNotifier(webhook.url, webhook_secret, retrier=retrier)
    try:
        delivery = await notifier.send(alert())
        again = await notifier.send(alert())
    finally:
        await notifier.aclose()

    assert delivery.ok and delivery.attempts == 3
    first, second, third, repeat = webhook.received
    assert [r.status for r in webhook.received] == [502, 429, 204, 204]
    assert len({r.headers["webhook-id"] for r in webhook.received}) == 1
    stamps = [int(r.headers["webhook-timestamp"]) for r in (first, second, third)]
    assert stamps[0] <= stamps[1] and stamps[2] - stamps[1] >= 20  # the fake clock moved by each sleep
    assert first.raw == second.raw == third.raw
    # Sending the same notification again is recognisably the same message.
    assert again.receiver_id == delivery.receiver_id and repeat.notes == ("duplicate webhook-id",)


async def test_410_means_gone_and_is_not_retried(
    webhook: WebhookReceiver, webhook_secret: str, retrier: Retrier, fake_time: FakeTime
) -> None:
    webhook.gone = True
    notifier = WebhookNotifier(webhook.url, webhook_secret, retrier=retrier)
    try:
        delivery = await notifier.send(alert())
    finally:
        await notifier.aclose()

    assert not delivery.ok and delivery.gone and delivery.status == 410 and delivery.attempts == 1
    assert "disable it" in (delivery.error or "")
    assert fake_time.sleeps == []


async def test_a_receiver_that_does_not_answer_in_time_is_retried(
    webhook: WebhookReceiver, webhook_secret: str, fake_time: FakeTime
) -> None:
    webhook.stall_next(1, seconds=2.0)
    retrier = Retrier(attempts=2, sleep=fake_time.sleep, clock=fake_time.time, rng=random.Random(1))
    notifier = WebhookNotifier(webhook.url, webhook_secret, timeout_s=0.2, retrier=retrier)
    try:
        delivery = await notifier.send(alert())
    finally:
        await notifier.aclose()

    assert delivery.ok and delivery.attempts == 2


def test_secrets_never_show_in_repr(webhook_secret: str) -> None:
    notifier = WebhookNotifier("https://hooks.example.com/in/abc-token", webhook_secret)
    assert webhook_secret not in repr(notifier) and "abc-token" not in repr(notifier)
    with pytest.raises(ConfigError, match="absolute http"):
        WebhookNotifier("hooks.example.com/in", webhook_secret)

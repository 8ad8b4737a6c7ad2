"""A generic JSON webhook, signed the Standard Webhooks 1.0.0 way, and the check a receiver runs.

Wire format (standard-webhooks/standard-webhooks ``spec/standard-webhooks.md``):

* headers ``webhook-id`` (the message id: the same on every retry, so the receiver can use it as
  an idempotency key), ``webhook-timestamp`` (Unix seconds of *this attempt*) and
  ``webhook-signature``: a space-separated list of ``v1,<base64 HMAC-SHA256>`` values, one per
  signing key, which lets a receiver rotate keys without downtime;
* the signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``;
* a secret is ``whsec_`` followed by base64 of 24 to 64 random bytes;
* 2xx is success; 410 means the endpoint is gone (stop sending); 429, 502 and 504 ask the sender
  to throttle, honouring ``Retry-After``; 15–30 s is the recommended request timeout.

Beyond the spec, for paging: 408, 429 and every 5xx and network failure are retried within one
:meth:`WebhookNotifier.send`; other 4xx are final, since retrying a rejected page a few seconds
later cannot change the answer. Redirects are not followed (the spec counts 3xx as failure).

The body is ``{"type": "runwell.alert.<triggered|acknowledged|resolved>", "timestamp": ...,
"data": {...}}``, the payload shape the spec recommends.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import orjson

from runwell.errors import ConfigError
from runwell.ops.notify._http import HttpAnswer, HttpPoster, check_url, site
from runwell.ops.notify.base import (
    AttemptResult,
    Delivery,
    Notification,
    Retrier,
    Secret,
    event_label,
)

__all__ = [
    "SECRET_PREFIX",
    "WebhookNotifier",
    "WebhookVerification",
    "decode_secret",
    "new_secret",
    "sign_standard_webhook",
    "verify_standard_webhook",
    "webhook_body",
    "webhook_message_id",
]

SECRET_PREFIX: Final = "whsec_"
"""How a Standard Webhooks symmetric secret is written."""

_MIN_SECRET_BYTES: Final = 24
_MAX_SECRET_BYTES: Final = 64


def decode_secret(secret: str | Secret) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret; ConfigError if it is not one.

    A secret pasted without its ``whsec_`` prefix is accepted too, as the spec's reference
    libraries do.
    """
    text = Secret(secret).reveal().strip()
    encoded = text.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"a Standard Webhooks secret is {SECRET_PREFIX!r} followed by base64, and the value given is "
            "not valid base64; copy it again, or generate one with runwell.ops.notify.webhook.new_secret()"
        ) from None
    if not _MIN_SECRET_BYTES <= len(key) <= _MAX_SECRET_BYTES:
        raise ConfigError(
            f"a webhook secret must hold {_MIN_SECRET_BYTES} to {_MAX_SECRET_BYTES} random bytes, this "
            f"one holds {len(key)}; generate one with runwell.ops.notify.webhook.new_secret()"
        )
    return key


def new_secret(n_bytes: int = 32) -> Secret:
    """A fresh random ``whsec_`` secret of ``n_bytes`` bytes (24 to 64)."""
    if not _MIN_SECRET_BYTES <= n_bytes <= _MAX_SECRET_BYTES:
        raise ConfigError(f"n_bytes must be {_MIN_SECRET_BYTES}..{_MAX_SECRET_BYTES}, got {n_bytes}")
    return Secret(SECRET_PREFIX + base64.b64encode(secrets.token_bytes(n_bytes)).decode("ascii"))


def _mac(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = msg_id.encode("utf-8") + b"." + str(timestamp).encode("ascii") + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign_standard_webhook(secret: str | Secret, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of ``body`` sent as message ``msg_id`` at ``timestamp``."""
    if "." in msg_id:
        # The signed string is dot-delimited; a dot in the id would make it ambiguous.
        raise ConfigError(f"a webhook message id may not contain '.', got {msg_id!r}")
    mac = _mac(decode_secret(secret), msg_id, timestamp, body)
    return "v1," + base64.b64encode(mac).decode("ascii")


@dataclass(frozen=True, slots=True)
class WebhookVerification:
    """The result of :func:`verify_standard_webhook`: ``ok``, else ``reason`` says why not."""

    ok: bool
    reason: str = ""
    msg_id: str | None = None
    timestamp: int | None = None


def verify_standard_webhook(
    secret: str | Secret | Sequence[str | Secret],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> WebhookVerification:
    """Check a received Standard Webhooks message.

    ``secret`` may be several secrets (the receiver's side of a key rotation). The message is
    accepted when the timestamp is within ``tolerance_s`` of ``now`` (default: the current time)
    and any ``v1`` signature in the header matches any secret, compared in constant time.
    Header names are matched case-insensitively. Callers should also remember ``msg_id`` for a
    while and drop repeats (the spec's idempotency key).
    """
    given = [secret] if isinstance(secret, str | Secret) else list(secret)
    keys = [decode_secret(s) for s in given]
    if not keys:
        raise ConfigError("verify_standard_webhook needs at least one secret")
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "").strip()
    stamp = lower.get("webhook-timestamp", "").strip()
    signatures = lower.get("webhook-signature", "").strip()
    if not msg_id or not stamp or not signatures:
        missing = [
            name
            for name, value in (
                ("webhook-id", msg_id),
                ("webhook-timestamp", stamp),
                ("webhook-signature", signatures),
            )
            if not value
        ]
        return WebhookVerification(False, f"missing header(s): {', '.join(missing)}", msg_id or None)
    try:
        timestamp = int(stamp)
    except ValueError:
        return WebhookVerification(False, f"webhook-timestamp {stamp[:20]!r} is not Unix seconds", msg_id)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return WebhookVerification(
            False,
            f"webhook-timestamp is {current - timestamp:+.0f} s from now, outside the {tolerance_s:.0f} s "
            "tolerance (a replay, or a clock out of sync)",
            msg_id,
            timestamp,
        )
    expected = [_mac(key, msg_id, timestamp, body) for key in keys]
    matched = False
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            presented = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Every pair is compared (no early exit) so timing says nothing about which key matched.
        for mac in expected:
            matched |= hmac.compare_digest(mac, presented)
    if not matched:
        return WebhookVerification(False, "no v1 signature matches the body and secret", msg_id, timestamp)
    return WebhookVerification(True, "", msg_id, timestamp)


def webhook_message_id(n: Notification, when_iso: str) -> str:
    """A ``msg_…`` id derived from the alert, the event and its time.

    Deterministic on purpose: if the caller re-sends the same notification (say, after a crash
    between sending and recording it), the receiver sees the same id and can drop the repeat.
    """
    digest = hashlib.sha256(f"{n.dedup_key}\x00{n.event}\x00{when_iso}".encode()).digest()
    return "msg_" + base64.b32encode(digest[:20]).decode("ascii").rstrip("=").lower()


def webhook_body(n: Notification, when_iso: str) -> dict[str, Any]:
    """The JSON object sent for ``n`` (the Standard Webhooks ``type``/``timestamp``/``data`` shape)."""
    return {
        "type": f"runwell.alert.{event_label(n.event)}",
        "timestamp": when_iso,
        "data": {
            "event": n.event,
            "dedup_key": n.dedup_key,
            "summary": n.summary,
            "severity": n.severity,
            "source": n.source,
            "feature": n.feature,
            "failure_mode": n.failure_mode,
            "runbook": n.runbook,
            "ack_url": n.ack_url,
            "links": [{"href": link.href, "text": link.text} for link in n.links],
            "details": dict(n.details),
        },
    }


class WebhookNotifier:
    """POSTs :class:`Notification`\\s as signed JSON to one endpoint.

    ``secret`` signs every message; ``previous_secrets`` add signatures during a key rotation,
    until the receiver has the new key. ``timeout_s`` defaults to 15 s, the low end of the
    spec's recommendation, because a page should not wait half a minute on one endpoint.
    """

    channel = "webhook"

    def __init__(
        self,
        url: str | Secret,
        secret: str | Secret,
        *,
        previous_secrets: Sequence[str | Secret] = (),
        timeout_s: float = 15.0,
        retrier: Retrier | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._url = Secret(url)
        check_url(self._url.reveal(), "the webhook URL")
        self._secrets = [Secret(secret), *(Secret(s) for s in previous_secrets)]
        for s in self._secrets:
            decode_secret(s)  # fail at start-up, not at 3 a.m.
        self.retrier = retrier if retrier is not None else Retrier()
        self._http = HttpPoster(timeout_s=timeout_s, session=session)

    def __repr__(self) -> str:
        return f"WebhookNotifier(endpoint={site(self._url.reveal())}, secrets=***)"

    def headers(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The headers of one attempt: id, timestamp and one signature per secret."""
        signatures = " ".join(sign_standard_webhook(s, msg_id, timestamp, body) for s in self._secrets)
        return {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures,
        }

    async def send(self, n: Notification) -> Delivery:
        """Deliver ``n``; every retry carries the same ``webhook-id`` and a fresh timestamp."""
        clock = self.retrier.clock
        when_iso = n.when(clock).isoformat()
        body = orjson.dumps(webhook_body(n, when_iso), default=str)
        msg_id = webhook_message_id(n, when_iso)
        url = self._url.reveal()

        async def once(_attempt: int) -> AttemptResult:
            # The spec signs the time of the attempt, not of the event, so a receiver's replay
            # window still holds for a message retried minutes later.
            now = clock()
            answer = await self._http.post(url, body, self.headers(msg_id, int(now), body), now=now)
            if isinstance(answer, AttemptResult):
                return answer
            return _classify(answer, msg_id, site(url))

        return await self.retrier.run(self.channel, once)

    async def aclose(self) -> None:
        """Close this notifier's connections."""
        await self._http.aclose()


def _classify(answer: HttpAnswer, msg_id: str, where: str) -> AttemptResult:
    status = answer.status
    if 200 <= status < 300:
        return AttemptResult(ok=True, status=status, receiver_id=msg_id)
    text = answer.text() or "(empty body)"
    if status == 410:
        return AttemptResult(
            ok=False,
            status=status,
            receiver_id=msg_id,
            gone=True,
            error=f"{where} answered 410 Gone: the endpoint no longer wants these webhooks; disable it",
        )
    if status in (408, 429) or status >= 500:
        return AttemptResult(
            ok=False,
            retry=True,
            status=status,
            receiver_id=msg_id,
            error=f"{where} answered HTTP {status}: {text}",
            retry_after_s=answer.retry_after_s,
        )
    return AttemptResult(
        ok=False,
        status=status,
        receiver_id=msg_id,
        error=f"{where} refused the webhook (HTTP {status}, not retried): {text}",
    )

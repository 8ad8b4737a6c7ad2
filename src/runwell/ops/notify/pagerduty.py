"""PagerDuty Events API v2: trigger, acknowledge and resolve alerts by ``dedup_key``.

Wire format (PagerDuty developer docs, ``events-API-v2/02-Trigger-Events.md`` and
``01-Overview.md``): ``POST https://events.pagerduty.com/v2/enqueue`` with a JSON body.

* A trigger carries ``routing_key`` (32 characters), ``event_action``, ``dedup_key`` (at most 255),
  ``payload`` (``summary`` at most 1024, ``source``, ``severity``, ``timestamp``, ``component``,
  ``group``, ``class``, ``custom_details``), ``links``, ``client`` and ``client_url``.
* Acknowledge and resolve carry only ``routing_key``, ``dedup_key`` and ``event_action``.
* 202 means accepted; 400 means the event is invalid and must not be retried; 429, 5xx and
  network errors should be retried. Payloads are limited to 512 KB.

How a :class:`~runwell.ops.notify.base.Notification` maps onto it: ``source`` → ``payload.source``,
``feature`` → ``payload.component``, ``failure_mode`` → ``payload.class``, the notifier's
``group`` → ``payload.group``; the runbook and ack link become ``links`` when they are URLs and
``custom_details`` entries otherwise, next to the notification's own details.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import aiohttp
import orjson

from runwell.errors import ConfigError
from runwell.ops.notify._http import HttpAnswer, HttpPoster, check_url
from runwell.ops.notify.base import AttemptResult, Delivery, Notification, Retrier, Secret, truncate

__all__ = [
    "DEFAULT_URL",
    "MAX_BODY_BYTES",
    "MAX_DEDUP_KEY",
    "MAX_SUMMARY",
    "ROUTING_KEY_LENGTH",
    "PagerDutyNotifier",
    "pagerduty_dedup_key",
]

DEFAULT_URL: Final = "https://events.pagerduty.com/v2/enqueue"
"""The Events API v2 endpoint."""

ROUTING_KEY_LENGTH: Final = 32
"""An integration's routing key is exactly this many characters."""

MAX_DEDUP_KEY: Final = 255
"""The longest ``dedup_key`` PagerDuty accepts."""

MAX_SUMMARY: Final = 1024
"""The longest ``payload.summary`` PagerDuty accepts."""

MAX_BODY_BYTES: Final = 512 * 1024
"""PagerDuty's limit on one event's JSON body."""

# How much of an over-long dedup key is kept readable before its hash.
_KEY_PREFIX = MAX_DEDUP_KEY - 1 - 64 - 10


def pagerduty_dedup_key(key: str) -> str:
    """``key`` itself when PagerDuty accepts its length, else a readable prefix plus its SHA-256.

    Truncating alone could make two alerts share a key; hashing the whole key keeps them apart,
    and since the mapping is deterministic, the acknowledge and resolve of an alert reach the
    same PagerDuty alert as its trigger.
    """
    if len(key) <= MAX_DEDUP_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{key[:_KEY_PREFIX]}~{digest}"


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


class PagerDutyNotifier:
    """Sends :class:`Notification`\\s to one PagerDuty integration (one routing key).

    ``client`` and ``client_url`` name the sender on the alert (``client_url`` is typically the
    operator console); ``group`` is PagerDuty's logical grouping (e.g. ``llm-features``).
    """

    channel = "pagerduty"

    def __init__(
        self,
        routing_key: str | Secret,
        *,
        url: str = DEFAULT_URL,
        client: str = "runwell",
        client_url: str | None = None,
        group: str | None = None,
        timeout_s: float = 10.0,
        retrier: Retrier | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        key = Secret(routing_key)
        if len(key.reveal()) != ROUTING_KEY_LENGTH:
            raise ConfigError(
                f"the PagerDuty routing key must be {ROUTING_KEY_LENGTH} characters (the integration "
                f"key of an Events API v2 integration), got {len(key.reveal())}; check the environment "
                "variable it was read from"
            )
        check_url(url, "the PagerDuty events URL")
        self._routing_key = key
        self.url = url
        self.client = client
        self.client_url = client_url
        self.group = group
        self.retrier = retrier if retrier is not None else Retrier()
        self._http = HttpPoster(timeout_s=timeout_s, session=session)

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(url={self.url!r}, routing_key=***)"

    def event_body(self, n: Notification) -> dict[str, Any]:
        """The Events API v2 JSON object for ``n``, lengths already brought within the limits."""
        base: dict[str, Any] = {
            "routing_key": self._routing_key.reveal(),
            "event_action": n.event,
            "dedup_key": pagerduty_dedup_key(n.dedup_key),
        }
        if n.event != "trigger":
            return base
        details: dict[str, Any] = dict(n.details)
        links: list[dict[str, str]] = []
        if n.runbook:
            if _is_url(n.runbook):
                links.append({"href": n.runbook, "text": "Runbook"})
            details.setdefault("runbook", n.runbook)
        if n.ack_url:
            links.append({"href": n.ack_url, "text": "Acknowledge"})
        links.extend({"href": link.href, "text": link.text or link.href} for link in n.links)
        if n.feature:
            details.setdefault("feature", n.feature)
        if n.failure_mode:
            details.setdefault("failure_mode", n.failure_mode)
        if len(n.dedup_key) > MAX_DEDUP_KEY:
            details.setdefault("runwell_dedup_key", n.dedup_key)
        payload: dict[str, Any] = {
            "summary": truncate(n.summary, MAX_SUMMARY),
            "source": n.source,
            "severity": n.severity,
            "timestamp": n.when(self.retrier.clock).isoformat(),
        }
        if n.feature:
            payload["component"] = n.feature
        if self.group:
            payload["group"] = self.group
        if n.failure_mode:
            payload["class"] = n.failure_mode
        if details:
            payload["custom_details"] = details
        body = base | {"payload": payload, "client": self.client}
        if self.client_url:
            body["client_url"] = self.client_url
        if links:
            body["links"] = links
        return body

    def encode(self, n: Notification) -> bytes:
        """The JSON bytes sent for ``n``, never above PagerDuty's 512 KB limit."""
        body = self.event_body(n)
        data = orjson.dumps(body, default=str)
        if len(data) > MAX_BODY_BYTES and "custom_details" in body.get("payload", {}):
            # The page matters more than its attachments: drop the details, say so, send.
            body["payload"]["custom_details"] = {
                "runwell_note": f"custom details were dropped: the event was {len(data)} bytes, "
                f"over PagerDuty's {MAX_BODY_BYTES}"
            }
            data = orjson.dumps(body, default=str)
        return data

    async def send(self, n: Notification) -> Delivery:
        """Enqueue ``n``; 429, 5xx and network errors are retried, 400 is reported at once."""
        data = self.encode(n)
        sent_key = pagerduty_dedup_key(n.dedup_key)
        headers = {"Content-Type": "application/json"}

        async def once(_attempt: int) -> AttemptResult:
            answer = await self._http.post(self.url, data, headers, now=self.retrier.clock())
            if isinstance(answer, AttemptResult):
                return answer
            return _classify(answer, sent_key)

        return await self.retrier.run(self.channel, once)

    async def aclose(self) -> None:
        """Close this notifier's connections."""
        await self._http.aclose()


def _classify(answer: HttpAnswer, sent_key: str) -> AttemptResult:
    status = answer.status
    if status == 202:
        return AttemptResult(ok=True, status=status, receiver_id=_answer_key(answer) or sent_key)
    if status == 429 or status >= 500:
        return AttemptResult(
            ok=False,
            retry=True,
            status=status,
            error=f"PagerDuty answered HTTP {status}: {_message(answer)}",
            retry_after_s=answer.retry_after_s,
        )
    return AttemptResult(
        ok=False,
        status=status,
        error=f"PagerDuty rejected the event (HTTP {status}, not retried): {_message(answer)}",
    )


def _answer_key(answer: HttpAnswer) -> str | None:
    try:
        data = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    key = data.get("dedup_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def _message(answer: HttpAnswer) -> str:
    """PagerDuty's own words: ``message`` and the ``errors`` list, else the body's text."""
    try:
        data = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return answer.text() or "(empty body)"
    if not isinstance(data, dict):
        return answer.text()
    parts = [str(data["message"])] if data.get("message") else []
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(e) for e in errors))
    return truncate(": ".join(parts), 500) if parts else answer.text()

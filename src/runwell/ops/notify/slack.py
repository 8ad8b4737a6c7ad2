"""Slack incoming webhooks: one message per notification, readable on a phone at 3 a.m.

Wire format: ``POST`` JSON to the webhook URL (``https://hooks.slack.com/services/T…/B…/…``)
with ``text`` (the fallback shown in notifications) and ``blocks`` (Block Kit layout). Success
is HTTP 200 with the body ``ok``; beyond about one message per second Slack answers 429 with
``Retry-After``; other 4xx answers (``invalid_payload``, ``no_service``, ``channel_is_archived``
…) are final. The webhook URL is the credential, so it is kept in a
:class:`~runwell.ops.notify.base.Secret` and never appears in messages.

Block Kit limits respected here: a header's text at most 150 characters, a section's text at
most 3000, at most 10 fields of at most 2000 each, a button's label at most 75 and its URL at
most 3000.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp
import orjson

from runwell.ops.notify._http import HttpAnswer, HttpPoster, check_url, site
from runwell.ops.notify.base import (
    AttemptResult,
    Delivery,
    Notification,
    Retrier,
    Secret,
    event_label,
    truncate,
)

__all__ = ["SlackNotifier", "escape_mrkdwn", "slack_message"]

_HEADER_MAX: Final = 150
_SECTION_MAX: Final = 3000
_FIELD_MAX: Final = 2000
_URL_MAX: Final = 3000
_FALLBACK_MAX: Final = 3000

_MARKS: Final[dict[str, str]] = {
    "critical": ":red_circle:",
    "error": ":large_orange_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
}


def escape_mrkdwn(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped, as Slack's mrkdwn requires (otherwise a
    summary containing ``<!channel>`` would ping everyone)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(href: str, label: str) -> str:
    # Inside <href|label> the label may not contain '|' or '>'.
    return f"<{href}|{escape_mrkdwn(label).replace('|', '/')}>"


def slack_message(n: Notification) -> dict[str, Any]:
    """The incoming-webhook JSON for ``n``: a ``text`` fallback plus ``blocks``."""
    label = event_label(n.event)
    where = f" [{n.feature}]" if n.feature else ""
    fallback = truncate(f"{n.severity.upper()} {label}{where}: {n.summary}", _FALLBACK_MAX)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{label.capitalize()}: {n.summary}", _HEADER_MAX),
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(f"{_MARKS[n.severity]} {escape_mrkdwn(n.summary)}", _SECTION_MAX),
            },
        },
    ]
    fields = [("Severity", n.severity), ("Feature", n.feature), ("Failure mode", n.failure_mode)]
    fields += [("Source", n.source), ("Dedup key", n.dedup_key)]
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": truncate(f"*{name}*\n{escape_mrkdwn(value)}", _FIELD_MAX)}
                for name, value in fields
                if value
            ],
        }
    )
    lines = []
    if n.runbook:
        runbook = n.runbook
        lines.append(
            f"*Runbook:* {_link(runbook, runbook)}"
            if runbook.startswith(("https://", "http://"))
            else f"*Runbook:* `{escape_mrkdwn(runbook)}`"
        )
    lines += [f"• {_link(link.href, link.text or link.href)}" for link in n.links]
    if lines:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate("\n".join(lines), _SECTION_MAX)}}
        )
    if n.ack_url and n.event == "trigger" and len(n.ack_url) <= _URL_MAX:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "url": n.ack_url,
                        "style": "danger" if n.severity == "critical" else "primary",
                        "action_id": "runwell_acknowledge",
                    }
                ],
            }
        )
    return {"text": fallback, "blocks": blocks}


class SlackNotifier:
    """Posts :class:`Notification`\\s to one Slack incoming webhook (whose URL is the secret)."""

    channel = "slack"

    def __init__(
        self,
        webhook_url: str | Secret,
        *,
        timeout_s: float = 10.0,
        retrier: Retrier | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        url = Secret(webhook_url)
        check_url(url.reveal(), "the Slack webhook URL")
        self._url = url
        self.retrier = retrier if retrier is not None else Retrier()
        self._http = HttpPoster(timeout_s=timeout_s, session=session)

    def __repr__(self) -> str:
        return f"SlackNotifier(webhook={site(self._url.reveal())}/***)"

    async def send(self, n: Notification) -> Delivery:
        """Post ``n``; 429 (honouring ``Retry-After``), 5xx and network errors are retried."""
        data = orjson.dumps(slack_message(n), default=str)
        headers = {"Content-Type": "application/json; charset=utf-8"}

        async def once(_attempt: int) -> AttemptResult:
            answer = await self._http.post(self._url.reveal(), data, headers, now=self.retrier.clock())
            if isinstance(answer, AttemptResult):
                return answer
            return _classify(answer)

        return await self.retrier.run(self.channel, once)

    async def aclose(self) -> None:
        """Close this notifier's connections."""
        await self._http.aclose()


def _classify(answer: HttpAnswer) -> AttemptResult:
    status, text = answer.status, answer.text()
    if status == 200 and text == "ok":
        return AttemptResult(ok=True, status=status)
    if status == 429 or status >= 500:
        return AttemptResult(
            ok=False,
            retry=True,
            status=status,
            error=f"Slack answered HTTP {status}: {text or '(empty body)'}",
            retry_after_s=answer.retry_after_s,
        )
    # 410 is Slack's channel_is_archived: the webhook will never work again.
    return AttemptResult(
        ok=False,
        status=status,
        gone=status == 410,
        error=f"Slack refused the message (HTTP {status}, not retried): {text or '(empty body)'}",
    )

"""Local receivers that speak, and *check*, each paging wire format: tests and drills use them.

=====================  ===================================  =========================================
receiver               route                                answers
=====================  ===================================  =========================================
PagerDutyReceiver      ``POST /v2/enqueue``                 202 ``{"status": "success", "message":
                                                            "Event processed", "dedup_key": …}``, or
                                                            400 ``{"status": "invalid event", …,
                                                            "errors": [...]}``
SlackReceiver          ``POST /services/{T}/{B}/{X}``       200 ``ok``; 400 ``invalid_payload`` /
                                                            ``no_text`` / ``invalid_blocks``
WebhookReceiver        ``POST /webhook``                    204 when the Standard Webhooks signature
                                                            verifies, 401 otherwise; 410 once ``gone``
SmtpReceiver           SMTP (aiosmtpd), STARTTLS and AUTH   ``250`` and keeps the parsed message
                       optional
=====================  ===================================  =========================================

Each receiver keeps what it received (``received``) for assertions, and can be told to answer
a fault for the next N calls (``fail_next``: 429 with ``Retry-After``, 5xx, or an SMTP 4xx) or
to stall (``stall_next``). The PagerDuty receiver applies the Events API's dedup rules: a
trigger opens an alert or joins the open one with the same ``routing_key`` and ``dedup_key``;
acknowledge and resolve reach only an open alert (otherwise they are dropped); after a
resolve, the same key opens a new alert.

In process (pytest fixtures): ``async with PagerDutyReceiver() as pd: … pd.url …``.
As a subprocess (end-to-end tests, drills), all four on one HTTP port plus an SMTP port::

    python -m runwell.testing.receivers --port 8025 [--host 127.0.0.1] [--smtp-port 0]

It prints one JSON line with the URLs when ready and runs until SIGTERM. ``GET /_received``
answers everything received as JSON, ``DELETE /_received`` forgets it, and ``POST /_faults``
with ``{"channel": "pagerduty", "count": 2, "status": 429, "retry_after": 1}`` arms faults. The
webhook secret is read from ``$RUNWELL_WEBHOOK_SECRET`` or generated and printed in the ready
line (this is a throwaway test receiver, not a place for real secrets).

One module per format (:mod:`.pagerduty`, :mod:`.slack`, :mod:`.webhook`, :mod:`.smtp`), the
shared HTTP machinery in ``_base``, the all-in-one server and its command line in :mod:`.hub`.
aiosmtpd (a test dependency) is imported only when an SMTP receiver starts.
"""

from runwell.testing.receivers._base import HttpReceiver, Received
from runwell.testing.receivers.hub import ReceiverHub, main
from runwell.testing.receivers.pagerduty import PagerDutyAlert, PagerDutyReceiver, check_pagerduty_event
from runwell.testing.receivers.slack import SlackReceiver, check_slack_message
from runwell.testing.receivers.smtp import ReceivedEmail, SmtpReceiver
from runwell.testing.receivers.webhook import WebhookReceiver

__all__ = [
    "HttpReceiver",
    "PagerDutyAlert",
    "PagerDutyReceiver",
    "Received",
    "ReceivedEmail",
    "ReceiverHub",
    "SlackReceiver",
    "SmtpReceiver",
    "WebhookReceiver",
    "check_pagerduty_event",
    "check_slack_message",
    "main",
]

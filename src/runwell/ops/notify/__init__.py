"""Notifiers: reach a person over PagerDuty, Slack, a signed webhook or email.

Every channel implements :class:`Notifier` (``await send(notification) -> Delivery``) and
retries with :class:`Retrier`; the wire formats are described in each channel's module.
"""

from runwell.ops.notify.base import (
    EVENTS,
    SEVERITIES,
    AttemptResult,
    Delivery,
    Event,
    Link,
    Notification,
    Notifier,
    Retrier,
    Secret,
    Severity,
)
from runwell.ops.notify.email import EmailNotifier, SmtpSettings
from runwell.ops.notify.pagerduty import PagerDutyNotifier
from runwell.ops.notify.slack import SlackNotifier
from runwell.ops.notify.webhook import (
    WebhookNotifier,
    WebhookVerification,
    new_secret,
    sign_standard_webhook,
    verify_standard_webhook,
)

__all__ = [
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

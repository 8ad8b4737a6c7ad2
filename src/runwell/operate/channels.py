"""A feature's ``oncall.channels`` turned into notifiers, secrets read from the environment once.

The spec names only environment variables (``routing_key_env``, ``webhook_url_env``,
``secret_env``, ``password_env``); their values are read here, at start-up, from the mapping the
gateway read its settings from, and kept in :class:`~runwell.ops.notify.Secret`\\s. A channel whose
variable is unset or whose value is malformed is not built: its problem is kept (``problems``), shown
in ``/readyz`` and logged, and the other channels still page. A gateway does not refuse to serve
because Slack is misconfigured; it says so where an operator looks.

Email pages go to the people paged (their email contacts) plus the channel's ``to``; the other
channels reach one destination each (PagerDuty routes to its own schedules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runwell.errors import ConfigError
from runwell.ops.notify import (
    Delivery,
    EmailNotifier,
    Notification,
    Notifier,
    PagerDutyNotifier,
    Retrier,
    Secret,
    SlackNotifier,
    SmtpSettings,
    WebhookNotifier,
)
from runwell.spec.operate import EmailChannel, OnCall, PagerDutyChannel, SlackChannel, WebhookChannel

__all__ = ["Channels", "build_channels", "page_retrier"]


def page_retrier() -> Retrier:
    """How pages retry: four tries with backoff from 1 s, waiting at most a minute on
    ``Retry-After``; after that, escalation to the next level is the better fallback."""
    return Retrier(attempts=4, base_delay_s=1.0, max_delay_s=8.0, max_retry_after_s=60.0)


@dataclass
class _Email:
    """An email channel: SMTP settings without recipients, completed per page."""

    channel_spec: EmailChannel
    username: str | None
    password: Secret | None
    retrier: Retrier

    async def send(self, n: Notification, recipients: Sequence[str]) -> Delivery:
        to = tuple(dict.fromkeys([*recipients, *self.channel_spec.to]))
        if not to:
            return Delivery("email", ok=False, attempts=0, error="nobody paged has an email contact")
        s = self.channel_spec
        settings = SmtpSettings(
            host=s.host,
            sender=s.sender,
            recipients=to,
            port=s.port,
            security=s.security,
            username=self.username,
            password=self.password,
        )
        return await EmailNotifier(settings, retrier=self.retrier).send(n)


@dataclass
class Channels:
    """The notifiers of one feature by channel name, and the channels that could not be built."""

    notifiers: dict[str, Notifier] = field(default_factory=dict)
    emails: dict[str, _Email] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every working channel."""
        return [*self.notifiers, *self.emails]

    async def send(self, channel: str, n: Notification, emails: Sequence[str]) -> Delivery:
        """Send ``n`` over ``channel``; a channel that is not working answers a failed delivery."""
        if channel in self.emails:
            return await self.emails[channel].send(n, emails)
        notifier = self.notifiers.get(channel)
        if notifier is None:
            problem = self.problems.get(channel, "no such channel in oncall.channels")
            return Delivery(
                channel, ok=False, attempts=0, error=f"channel {channel!r} is not working: {problem}"
            )
        return await notifier.send(n)

    async def aclose(self) -> None:
        """Close the HTTP sessions."""
        for notifier in self.notifiers.values():
            await notifier.aclose()


def build_channels(
    oncall: OnCall,
    environ: Mapping[str, str],
    *,
    feature: str,
    console_url: str | None = None,
    retrier: Retrier | None = None,
) -> Channels:
    """The feature's channels; see the module docstring."""
    out = Channels()
    for name, spec in oncall.channels.items():
        try:
            if isinstance(spec, EmailChannel):
                out.emails[name] = _email(spec, environ, retrier or page_retrier())
            else:
                out.notifiers[name] = _notifier(
                    spec, environ, feature, console_url, retrier or page_retrier()
                )
        except ConfigError as exc:
            out.problems[name] = str(exc)
    return out


def _secret(environ: Mapping[str, str], env: str, what: str) -> Secret:
    value = environ.get(env, "").strip()
    if not value:
        raise ConfigError(
            f"{what}: environment variable {env} is not set; export it where runwell serve runs"
        )
    return Secret(value)


def _notifier(
    spec: PagerDutyChannel | SlackChannel | WebhookChannel,
    environ: Mapping[str, str],
    feature: str,
    console_url: str | None,
    retrier: Retrier,
) -> Notifier:
    if isinstance(spec, PagerDutyChannel):
        key = _secret(environ, spec.routing_key_env, "the PagerDuty routing key")
        return PagerDutyNotifier(key, url=spec.url, client_url=console_url, group=feature, retrier=retrier)
    if isinstance(spec, SlackChannel):
        return SlackNotifier(_secret(environ, spec.webhook_url_env, "the Slack webhook URL"), retrier=retrier)
    url = _secret(environ, spec.url_env, "the webhook URL")
    return WebhookNotifier(
        url, _secret(environ, spec.secret_env, "the webhook signing secret"), retrier=retrier
    )


def _email(spec: EmailChannel, environ: Mapping[str, str], retrier: Retrier) -> _Email:
    username = password = None
    if spec.username_env is not None or spec.password_env is not None:
        if spec.username_env is None or spec.password_env is None:
            raise ConfigError("email: give username_env and password_env together")
        username = _secret(environ, spec.username_env, "the SMTP user name").reveal()
        password = _secret(environ, spec.password_env, "the SMTP password")
        if spec.security == "none":
            raise ConfigError("email: SMTP authentication needs security starttls or tls, not none")
    return _Email(spec, username, password, retrier)

"""Email over SMTP: the channel of last resort, and the one every organisation already has.

Built on the standard library (``smtplib`` and ``email.message``). ``smtplib`` blocks, so each
attempt runs in a worker thread (``asyncio.to_thread``) and the event loop keeps serving.
Transport security is ``starttls`` (submission, port 587: the default), ``tls`` (implicit TLS,
port 465) or ``none`` (a local relay); authenticating over ``none`` is refused, since it would
send the password in clear.

Retries follow SMTP's own split (RFC 5321 §4.2.1): a 4yz reply is a transient failure worth
another try, a 5yz reply is permanent. A dropped connection or a timeout is retried too.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Final, Literal

from runwell.errors import ConfigError
from runwell.ops.notify.base import (
    AttemptResult,
    Delivery,
    Notification,
    Retrier,
    Secret,
    event_label,
    truncate,
)

__all__ = ["EmailNotifier", "SmtpSettings", "email_message"]

_SUBJECT_MAX: Final = 200


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to submit mail. ``password`` is a :class:`Secret` (masked in ``repr``);
    ``ssl_context`` defaults to the system's trust store."""

    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    timeout_s: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipients", tuple(self.recipients))
        if not self.host:
            raise ConfigError("SMTP host is empty; set it to the mail relay's host name")
        if not self.sender or "@" not in self.sender:
            raise ConfigError(f"SMTP sender {self.sender!r} is not an email address")
        if not self.recipients:
            raise ConfigError("the email notifier needs at least one recipient")
        if self.security not in ("starttls", "tls", "none"):
            raise ConfigError(f"SMTP security must be starttls, tls or none, got {self.security!r}")
        if (self.username is None) != (self.password is None):
            raise ConfigError("SMTP username and password go together: give both or neither")
        if self.username is not None and self.security == "none":
            raise ConfigError(
                "SMTP authentication over an unencrypted connection would send the password in clear; "
                "use security='starttls' (port 587) or 'tls' (port 465)"
            )
        if self.timeout_s <= 0:
            raise ConfigError(f"SMTP timeout must be positive, got {self.timeout_s}")


def _one_line(text: str) -> str:
    # Header values must not carry line breaks (they would let a summary inject headers).
    return " ".join(text.split())


def email_message(n: Notification, *, sender: str, recipients: Sequence[str], when: datetime) -> EmailMessage:
    """The message sent for ``n``: severity and summary in the subject; details, runbook and the
    acknowledge link in a plain-text body."""
    label = event_label(n.event)
    where = f" [{n.feature}]" if n.feature else ""
    subject = truncate(_one_line(f"[{n.severity.upper()}] {label}{where}: {n.summary}"), _SUBJECT_MAX)
    lines = [f"Alert {label}: {n.summary}", ""]
    facts = [
        ("Severity", n.severity),
        ("Feature", n.feature),
        ("Failure mode", n.failure_mode),
        ("Source", n.source),
        ("Dedup key", n.dedup_key),
        ("Time", when.isoformat()),
    ]
    lines += [f"{name}: {value}" for name, value in facts if value]
    if n.runbook or n.ack_url:
        lines.append("")
    if n.runbook:
        lines.append(f"Runbook: {n.runbook}")
    if n.ack_url and n.event == "trigger":
        lines.append(f"Acknowledge: {n.ack_url}")
    if n.links:
        lines += ["", "Links:"]
        lines += [f"  - {link.text + ': ' if link.text else ''}{link.href}" for link in n.links]
    if n.details:
        lines += ["", "Details:"]
        lines += [f"  {key}: {value}" for key, value in n.details.items()]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # RFC 3834: marks the mail as machine-sent so auto-responders do not answer the pager.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Runwell-Dedup-Key"] = _one_line(truncate(n.dedup_key, 900))
    msg["X-Runwell-Event"] = n.event
    msg.set_content("\n".join(lines) + "\n")
    return msg


class EmailNotifier:
    """Sends :class:`Notification`\\s as email through one SMTP relay."""

    channel = "email"

    def __init__(self, settings: SmtpSettings, *, retrier: Retrier | None = None) -> None:
        self.settings = settings
        self.retrier = retrier if retrier is not None else Retrier()

    def __repr__(self) -> str:
        s = self.settings
        return f"EmailNotifier(host={s.host!r}, port={s.port}, security={s.security!r}, password=***)"

    async def send(self, n: Notification) -> Delivery:
        """Submit ``n``; 4xx replies, timeouts and dropped connections are retried."""
        s = self.settings
        when = n.when(self.retrier.clock)
        msg = email_message(n, sender=s.sender, recipients=s.recipients, when=when)

        async def once(_attempt: int) -> AttemptResult:
            return await asyncio.to_thread(self._submit, msg)

        return await self.retrier.run(self.channel, once)

    async def aclose(self) -> None:
        """Nothing to close: each attempt opens and closes its own SMTP connection."""

    def _submit(self, msg: EmailMessage) -> AttemptResult:
        s = self.settings
        where = f"SMTP {s.host}:{s.port}"
        message_id = str(msg["Message-ID"])
        context = s.ssl_context if s.ssl_context is not None else ssl.create_default_context()
        try:
            smtp = (
                smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
                if s.security == "tls"
                else smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            )
            with smtp:
                if s.security == "starttls":
                    smtp.starttls(context=context)
                if s.username is not None and s.password is not None:
                    smtp.login(s.username, s.password.reveal())
                refused = smtp.send_message(msg, from_addr=s.sender, to_addrs=list(s.recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            transient = all(400 <= code < 500 for code in codes)
            return AttemptResult(
                ok=False,
                retry=transient,
                status=codes[0] if codes else None,
                error=f"{where} refused every recipient: {_refusals(exc.recipients)}",
            )
        except smtplib.SMTPNotSupportedError as exc:
            return AttemptResult(
                ok=False,
                error=f"{where} does not support what the settings ask ({exc}); check security and port",
            )
        except smtplib.SMTPResponseException as exc:
            code = exc.smtp_code
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            kind = "temporarily refused" if 400 <= code < 500 else "refused"
            return AttemptResult(
                ok=False,
                retry=400 <= code < 500,
                status=code,
                error=f"{where} {kind} the mail: {code} {text}",
            )
        except ssl.SSLCertVerificationError as exc:
            return AttemptResult(
                ok=False,
                error=f"{where} presented a certificate that does not verify ({exc.verify_message}); "
                "fix the relay's certificate or pass an ssl_context that trusts it",
            )
        except (smtplib.SMTPException, OSError) as exc:
            # Dropped connections, refused connects, timeouts and TLS failures: try again.
            return AttemptResult(ok=False, retry=True, error=f"{where} failed: {type(exc).__name__}: {exc}")
        if refused:
            # Some recipients took it: the page got through; name who did not.
            return AttemptResult(
                ok=True,
                status=250,
                receiver_id=message_id,
                error=f"some recipients refused: {_refusals(refused)}",
            )
        return AttemptResult(ok=True, status=250, receiver_id=message_id)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{rcpt} ({code} {reply.decode('utf-8', 'replace')})" for rcpt, (code, reply) in refused.items()
    )

"""The notifier seam: what is sent (:class:`Notification`), what came of it (:class:`Delivery`),
the one interface every channel implements (:class:`Notifier`) and the retry loop they share.

A notifier never raises for a failed delivery: it answers a ``Delivery`` whose ``error`` says
what went wrong, so an escalation engine can fall back to the next channel without a
``try``. It raises :class:`~runwell.errors.ConfigError` only when it is built wrong (a bad
routing key, an empty recipient list), which is a mistake to fix, not an outage to ride out.

Secrets (routing keys, webhook URLs, SMTP passwords, signing secrets) are read from the
environment by the caller and handed in; each notifier keeps them in a :class:`Secret`, whose
``repr`` and ``str`` are masked so that a log line or a traceback cannot leak them.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, Protocol, get_args, runtime_checkable

from runwell.errors import ConfigError

__all__ = [
    "EVENTS",
    "SEVERITIES",
    "AttemptResult",
    "Clock",
    "Delivery",
    "Event",
    "Link",
    "Notification",
    "Notifier",
    "Retrier",
    "Secret",
    "Severity",
    "Sleep",
    "event_label",
    "parse_retry_after",
    "truncate",
]

Event = Literal["trigger", "acknowledge", "resolve"]
"""What happened to the alert: it fired, someone is on it, or it is over (PagerDuty's vocabulary)."""

Severity = Literal["critical", "error", "warning", "info"]
"""How bad it is, most urgent first (PagerDuty's four levels)."""

EVENTS: Final[tuple[str, ...]] = get_args(Event)
"""Every :data:`Event`, in lifecycle order."""

SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)
"""Every :data:`Severity`, most urgent first."""

Clock = Callable[[], float]
"""Wall-clock time in Unix seconds (``time.time``); tests pass a fake one."""

Sleep = Callable[[float], Awaitable[None]]
"""Waits that many seconds (``asyncio.sleep``); tests pass one that records and returns."""

_LABELS: Final[dict[str, str]] = {
    "trigger": "triggered",
    "acknowledge": "acknowledged",
    "resolve": "resolved",
}


def event_label(event: Event) -> str:
    """The past-tense word people read: ``triggered``, ``acknowledged`` or ``resolved``."""
    return _LABELS[event]


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


class Secret:
    """A credential that prints as ``'***'``; :meth:`reveal` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        self._value = value.reveal() if isinstance(value, Secret) else value

    def reveal(self) -> str:
        """The secret itself; call it only where the value goes on the wire."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __reduce__(self) -> Any:
        # A pickled notifier (a worker queue, a cache) must not carry the credential along.
        raise TypeError("a Secret cannot be pickled; pass the value again where it is needed")


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown with the alert; ``text`` is its label (the URL itself when empty)."""

    href: str
    text: str = ""


@dataclass(frozen=True)
class Notification:
    """One thing to tell a person about an alert.

    ``dedup_key`` ties the trigger, acknowledge and resolve of one alert together on every
    channel (it is PagerDuty's ``dedup_key``). ``runbook`` is a URL or a path in the feature's
    repository; ``ack_url`` is where a person acknowledges (a console link). ``timestamp``,
    when set, must be timezone-aware; when unset the notifier stamps the time it sends.
    """

    event: Event
    dedup_key: str
    summary: str
    severity: Severity = "error"
    source: str = "runwell"
    feature: str | None = None
    failure_mode: str | None = None
    runbook: str | None = None
    ack_url: str | None = None
    links: tuple[Link, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ConfigError(f"notification event {self.event!r} is not one of {', '.join(EVENTS)}")
        if self.severity not in SEVERITIES:
            raise ConfigError(
                f"notification severity {self.severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        if not self.dedup_key.strip():
            raise ConfigError(
                "a notification needs a non-empty dedup_key (e.g. the alert id): it is what ties "
                "the trigger, acknowledge and resolve of one alert together"
            )
        if not self.summary.strip():
            raise ConfigError(f"notification {self.dedup_key!r} has an empty summary; say what is wrong")
        if not self.source.strip():
            raise ConfigError(f"notification {self.dedup_key!r} has an empty source; name the system")
        if self.timestamp is not None and self.timestamp.utcoffset() is None:
            raise ConfigError(
                f"notification {self.dedup_key!r} has a naive timestamp; pass a timezone-aware "
                "datetime (e.g. datetime.now(UTC))"
            )
        # A private copy: the caller may keep mutating its own dict after handing it over.
        object.__setattr__(self, "details", dict(self.details))
        object.__setattr__(self, "links", tuple(self.links))

    def when(self, clock: Clock) -> datetime:
        """The notification's timestamp in UTC, or ``clock``'s time when it has none."""
        if self.timestamp is not None:
            return self.timestamp.astimezone(UTC)
        return datetime.fromtimestamp(clock(), UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What came of one :meth:`Notifier.send`.

    ``status`` is the last HTTP status (or SMTP reply code) seen, ``None`` when no answer came;
    ``receiver_id`` is the receiver's handle on the message (PagerDuty's ``dedup_key``, the
    ``webhook-id``, the email's ``Message-ID``). ``gone`` means the endpoint said it no longer
    exists (HTTP 410): disable it rather than send there again. ``retry_after_s`` is set when the
    receiver asked for a pause longer than the notifier was allowed to wait, so the caller can
    reschedule.
    """

    channel: str
    ok: bool
    attempts: int
    status: int | None = None
    receiver_id: str | None = None
    error: str | None = None
    gone: bool = False
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The outcome of one try, as the channel classified it; :class:`Retrier` decides what next."""

    ok: bool
    retry: bool = False
    status: int | None = None
    receiver_id: str | None = None
    error: str | None = None
    gone: bool = False
    retry_after_s: float | None = None


@runtime_checkable
class Notifier(Protocol):
    """A channel that reaches a person: PagerDuty, Slack, a signed webhook, email, ..."""

    channel: str
    """A short stable label for this channel (``pagerduty``, ``slack``, ``webhook``, ``email``)."""

    async def send(self, n: Notification) -> Delivery:
        """Deliver ``n``, retrying what is worth retrying; never raises for a failed delivery."""
        ...

    async def aclose(self) -> None:
        """Release connections; the notifier may be used again afterwards."""
        ...


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP-date, RFC 9110
    §10.2.3), given the current Unix time ``now``; ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, moment.timestamp() - now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class Retrier:
    """How a notifier retries: up to ``attempts`` tries with exponential backoff and full jitter.

    Before retry ``n`` (1 for the first retry) it waits a random time in
    ``[0, min(max_delay_s, base_delay_s * 2 ** (n - 1))]`` ("full jitter": many senders that
    failed together do not come back together). When the receiver sent ``Retry-After`` it waits
    that long instead, plus up to ``base_delay_s`` of jitter; if the receiver asks for more than
    ``max_retry_after_s`` it stops and reports the wait in :attr:`Delivery.retry_after_s`, because
    a page parked for an hour inside one call helps nobody: the caller should reschedule or fall
    back to another channel.

    ``sleep`` and ``clock`` are injectable so that tests neither sleep nor depend on the date.
    """

    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False, repr=False)
    clock: Clock = field(default=time.time, compare=False, repr=False)
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"notifier retry attempts must be at least 1, got {self.attempts}")
        if not 0 <= self.base_delay_s <= self.max_delay_s:
            raise ConfigError(
                "notifier retry delays must satisfy 0 <= base_delay_s <= max_delay_s, got "
                f"base_delay_s={self.base_delay_s}, max_delay_s={self.max_delay_s}"
            )
        if self.max_retry_after_s < 0:
            raise ConfigError(f"max_retry_after_s must be >= 0, got {self.max_retry_after_s}")

    def delay_s(self, retry: int, retry_after_s: float | None = None) -> float | None:
        """Seconds to wait before retry ``retry``; ``None`` when the receiver's ``Retry-After``
        is longer than this retrier may wait."""
        if retry_after_s is not None:
            if retry_after_s > self.max_retry_after_s:
                return None
            return retry_after_s + self.rng.uniform(0.0, self.base_delay_s)
        cap = min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry - 1))
        return self.rng.uniform(0.0, cap)

    async def run(self, channel: str, once: Callable[[int], Awaitable[AttemptResult]]) -> Delivery:
        """Call ``once(attempt)`` (1-based) until it succeeds, fails for good, or attempts run out."""
        for attempt in range(1, self.attempts + 1):
            result = await once(attempt)
            if result.ok or not result.retry or attempt == self.attempts:
                return _delivery(channel, result, attempt)
            wait = self.delay_s(attempt, result.retry_after_s)
            if wait is None:
                error = (
                    f"{result.error}; the receiver asked to retry after {result.retry_after_s:.0f} s, "
                    f"more than this notifier waits ({self.max_retry_after_s:.0f} s): reschedule"
                )
                return _delivery(channel, result, attempt, error=error)
            await self.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns")


def _delivery(channel: str, result: AttemptResult, attempts: int, *, error: str | None = None) -> Delivery:
    message = error if error is not None else result.error
    if message is not None and not result.ok and attempts > 1:
        message = f"{message} (after {attempts} attempts)"
    return Delivery(
        channel=channel,
        ok=result.ok,
        attempts=attempts,
        status=result.status,
        receiver_id=result.receiver_id,
        error=message,
        gone=result.gone,
        retry_after_s=result.retry_after_s if not result.ok else None,
    )

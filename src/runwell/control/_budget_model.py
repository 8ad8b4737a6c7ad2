"""The budget engine's values: the limits, what a request asks for and used, refusals and alerts.

Money is counted in whole nano-dollars (``NANO_PER_USD`` per dollar) inside the engine, so that
"spent + reserved + this <= limit" is exact at the boundary on both backends (Redis counters are
64-bit integers, Lua compares doubles: exact up to 2**53 nano-dollars, about $9 million per window).
The public values here speak dollars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from runwell.errors import ConfigError, RequestError, StoreError

__all__ = [
    "NANO_PER_USD",
    "Ask",
    "Breach",
    "BudgetAlert",
    "BudgetExceeded",
    "BudgetStoreUnavailable",
    "Check",
    "Limits",
    "Rule",
    "Scope",
    "ScopeLimits",
    "Unit",
    "Usage",
    "Window",
]

NANO_PER_USD = 1_000_000_000
"""Dollars are counted in whole nano-dollars inside the engine."""

Scope = Literal["feature", "key", "user"]
"""Whose budget: the whole feature, one API key's traffic to it, or one end user's traffic to it."""
Window = Literal["request", "minute", "day", "month"]
"""One request, a fixed clock minute, a UTC calendar day, a UTC calendar month."""
Unit = Literal["usd", "tokens", "requests"]
"""What a limit counts."""

UNITS: tuple[Unit, ...] = ("usd", "tokens", "requests")
"""Units in the engine's index order (0, 1, 2)."""
SCOPES: tuple[Scope, ...] = ("feature", "key", "user")
_WINDOWS_CHECKED: tuple[Window, ...] = ("month", "day", "minute")

# The ScopeLimits fields, each with the window and unit it limits.
SCOPE_FIELDS: tuple[tuple[str, Window, Unit], ...] = (
    ("usd_per_month", "month", "usd"),
    ("tokens_per_month", "month", "tokens"),
    ("usd_per_day", "day", "usd"),
    ("tokens_per_day", "day", "tokens"),
    ("requests_per_minute", "minute", "requests"),
    ("tokens_per_minute", "minute", "tokens"),
)


class Check(NamedTuple):
    """One windowed limit of one scope, in the engine's units (nano-dollars, tokens, requests)."""

    unit: int
    limit: int
    budget: str


class Rule(NamedTuple):
    """The limits one scope has in one window; ``alerts`` holds ``(unit, threshold)`` pairs."""

    window: Window
    scope: Scope
    checks: tuple[Check, ...]
    alerts: tuple[tuple[int, int], ...]


def to_nano(usd: float) -> int:
    """``usd`` in whole nano-dollars (rounded to the nearest; a sub-nano-dollar cost is free)."""
    return round(usd * NANO_PER_USD)


def _positive(name: str, value: float | None, *, integer: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or (integer and not isinstance(value, int)):
        raise ConfigError(f"budget limit {name} must be a whole number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"budget limit {name} must be a positive number, got {value!r}; omit it for no limit"
        )


@dataclass(frozen=True, slots=True)
class ScopeLimits:
    """The windowed limits of one scope (a feature, one API key, or one end user); ``None`` is no limit.

    Days and months are UTC calendar windows; minutes are fixed clock minutes (see
    :mod:`runwell.control.budgets`). Tokens are input plus output tokens.
    """

    usd_per_day: float | None = None
    usd_per_month: float | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            _positive(f.name, getattr(self, f.name), integer=not f.name.startswith("usd"))


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit of one feature, built once from its spec and passed to each ``reserve``.

    ``max_input_tokens``, ``max_output_tokens`` and ``max_cost_usd`` bound one request and are
    checked without touching the store. ``feature``, ``key`` and ``user`` bound the feature's whole
    traffic, one API key's traffic to the feature and one end user's traffic to the feature.
    ``alert_at_fraction`` (0 < f <= 1) asks for one :class:`BudgetAlert` per day/month budget and
    window when its settled spend reaches that fraction of the limit.
    """

    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    max_cost_usd: float | None = None
    feature: ScopeLimits = field(default_factory=ScopeLimits)
    key: ScopeLimits = field(default_factory=ScopeLimits)
    user: ScopeLimits = field(default_factory=ScopeLimits)
    alert_at_fraction: float | None = None
    rules: tuple[Rule, ...] = field(init=False, repr=False, compare=False)
    """The windowed limits compiled once for the engine, in the order they are checked."""

    def __post_init__(self) -> None:
        _positive("max_input_tokens", self.max_input_tokens, integer=True)
        _positive("max_output_tokens", self.max_output_tokens, integer=True)
        _positive("max_cost_usd", self.max_cost_usd, integer=False)
        fraction = self.alert_at_fraction
        if fraction is not None and not (isinstance(fraction, int | float) and 0 < fraction <= 1):
            raise ConfigError(f"alert_at_fraction must be in (0, 1], got {fraction!r}")
        object.__setattr__(self, "rules", self._compile())

    def _compile(self) -> tuple[Rule, ...]:
        # Largest window first, so the first breach found is the one that resets last and its
        # Retry-After is honest: a request refused by a day and a minute limit must wait a day.
        rules: list[Rule] = []
        for window in _WINDOWS_CHECKED:
            for scope in SCOPES:
                limits: ScopeLimits = getattr(self, scope)
                checks: list[Check] = []
                for name, field_window, unit in SCOPE_FIELDS:
                    value = getattr(limits, name)
                    if field_window != window or value is None:
                        continue
                    index = UNITS.index(unit)
                    checks.append(Check(index, to_nano(value) if unit == "usd" else value, f"{scope}.{name}"))
                if not checks:
                    continue
                alerts: tuple[tuple[int, int], ...] = ()
                if self.alert_at_fraction is not None and window != "minute":
                    alerts = tuple((c.unit, max(1, round(self.alert_at_fraction * c.limit))) for c in checks)
                rules.append(Rule(window, scope, tuple(checks), alerts))
        return tuple(rules)


@dataclass(frozen=True, slots=True)
class Ask:
    """What one request may spend at most, and on whose budgets; the gateway builds it before the call.

    ``input_tokens`` is the prompt's estimated size, ``max_output_tokens`` the ``max_tokens`` the
    provider will be called with, ``max_cost_usd`` the price of both at the model's rates.
    ``api_key_id`` and ``user_id`` are ``None`` when the request has none (their budgets are then
    not checked); the user id must be in the form the records store (hashed, when the spec hashes
    user ids) so that seeding from records finds it.
    """

    feature: str
    api_key_id: str | None
    user_id: str | None
    input_tokens: int
    max_output_tokens: int
    max_cost_usd: float

    def __post_init__(self) -> None:
        if self.input_tokens < 0 or self.max_output_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got input_tokens={self.input_tokens}, "
                f"max_output_tokens={self.max_output_tokens}"
            )
        if not math.isfinite(self.max_cost_usd) or self.max_cost_usd < 0:
            raise ValueError(f"max_cost_usd must be a finite number >= 0, got {self.max_cost_usd!r}")


@dataclass(frozen=True, slots=True)
class Usage:
    """What a request really used, reported by the provider after the call."""

    cost_usd: float
    input_tokens: int
    output_tokens: int

    def __post_init__(self) -> None:
        if self.input_tokens < 0 or self.output_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got input_tokens={self.input_tokens}, "
                f"output_tokens={self.output_tokens}"
            )
        if not math.isfinite(self.cost_usd) or self.cost_usd < 0:
            raise ValueError(f"cost_usd must be a finite number >= 0, got {self.cost_usd!r}")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _amount(unit: Unit, value: float) -> str:
    if unit == "usd":
        return "$" + f"{value:.9f}".rstrip("0").rstrip(".")
    return f"{value:g} {unit}"


@dataclass(frozen=True, slots=True)
class Breach:
    """The first limit a request would break: everything the gateway needs for a 429.

    ``budget`` is the limit's name in :class:`Limits` (``"key.usd_per_day"``, ``"max_cost_usd"``).
    ``limit``, ``spent``, ``reserved`` and ``requested`` are in ``unit`` (dollars, tokens or
    requests); ``reserved`` is what requests in flight hold. ``resets_at`` (epoch seconds) is when
    the window ends (``None`` for a per-request limit); ``retry_after_s`` is the whole seconds until
    then, or ``None`` when waiting cannot help (a per-request limit, or a request larger than the
    limit itself).
    """

    budget: str
    scope: Scope
    subject: str
    feature: str
    window: Window
    unit: Unit
    limit: float
    spent: float
    reserved: float
    requested: float
    resets_at: float | None
    retry_after_s: int | None

    def describe(self) -> str:
        """One sentence saying what was exceeded, by how much, and when to retry."""
        who = f"feature {self.feature!r}"
        if self.scope != "feature":
            who += f" {'API key' if self.scope == 'key' else 'user'} {self.subject!r}"
        if self.window == "request":
            return (
                f"request exceeds {who}'s per-request limit {self.budget}: it needs "
                f"{_amount(self.unit, self.requested)}, the limit is {_amount(self.unit, self.limit)}; "
                "send a smaller request (shorter prompt, lower max_tokens)"
            )
        text = (
            f"{who} budget {self.budget} exceeded: limit {_amount(self.unit, self.limit)} per "
            f"{self.window}, spent {_amount(self.unit, self.spent)}, reserved by requests in flight "
            f"{_amount(self.unit, self.reserved)}, this request needs up to "
            f"{_amount(self.unit, self.requested)}; the {self.window} resets at "
            f"{_iso(self.resets_at or 0.0)}"
        )
        if self.retry_after_s is None:
            return text + "; this request alone is larger than the limit, so send a smaller one"
        return text + f", retry after {self.retry_after_s} s"


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A day or month budget's settled spend reached ``alert_at_fraction`` of its limit.

    Reported once per budget and window, across every replica sharing the store.
    """

    budget: str
    scope: Scope
    subject: str
    feature: str
    window: Window
    window_id: str
    unit: Unit
    limit: float
    spent: float
    fraction: float
    resets_at: float


class BudgetExceeded(RequestError):
    """A request would break a budget or rate limit; the gateway answers 429 (OpenAI's shape).

    ``breach`` says which limit; :meth:`headers` gives ``Retry-After`` when waiting can help.
    ``type`` follows OpenAI: ``requests`` or ``tokens`` for those units, ``insufficient_quota``
    for dollars; ``code`` is ``rate_limit_exceeded`` (minute windows), ``budget_exceeded`` (days
    and months) or ``request_too_large`` (per-request limits).
    """

    status = 429

    def __init__(self, breach: Breach) -> None:
        code = {"minute": "rate_limit_exceeded", "request": "request_too_large"}.get(
            breach.window, "budget_exceeded"
        )
        super().__init__(breach.describe(), code=code)
        self.type = "insufficient_quota" if breach.unit == "usd" else breach.unit
        self.breach = breach

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Response headers for the 429: ``Retry-After`` when a retry can succeed."""
        if self.breach.retry_after_s is None:
            return []
        return [(b"retry-after", str(self.breach.retry_after_s).encode())]


class BudgetStoreUnavailable(StoreError):
    """The shared budget store (Redis) did not answer in time or refused the command.

    Raised quickly (the client's socket timeouts are short) so the gateway can apply its policy:
    fail open (serve, raise an event) or fail closed (503).
    """

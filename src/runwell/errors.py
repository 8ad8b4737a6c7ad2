"""Every error runwell raises on purpose, in one place.

::

    RunwellError                 base; ``str(err)`` is a message a user can act on
    ├── SpecError                a feature spec is invalid (carries one ``SpecProblem`` per issue)
    ├── ConfigError              a setting, flag or file given to a command is wrong
    │   └── MissingExtra         a feature needs an optional dependency group that is not installed
    ├── StoreError               the database cannot be opened, migrated, read or written (an outage)
    │   ├── StoreConflict        a unique name or id is already taken (409)
    │   └── StoreDataError       the database refuses a value; retrying the same value cannot help
    ├── RequestError             a client request is malformed (gateway answers 4xx)
    │   ├── AuthError            missing or bad API key / admin token (401)
    │   └── NotFoundError        unknown feature, variant, route or record (404)
    └── ProviderError            an upstream model call failed (gateway answers 502/504)
        └── ProviderTimeout      the upstream did not answer in time (504)

Each error says what was wrong, where, and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuthError",
    "CircuitOpen",
    "ConfigError",
    "MissingExtra",
    "NotFoundError",
    "ProviderError",
    "ProviderTimeout",
    "RequestError",
    "RunwellError",
    "SpecError",
    "SpecProblem",
    "StoreConflict",
    "StoreDataError",
    "StoreError",
    "Unavailable",
]


class RunwellError(Exception):
    """Base class of every error runwell raises deliberately."""


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One problem in a spec file, printed as ``FILE:LINE: FIELD: message``."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class SpecError(RunwellError):
    """A feature spec failed to load or validate; ``problems`` lists every issue found."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(RunwellError):
    """A command-line flag, environment variable or setting is wrong."""


class MissingExtra(ConfigError):
    """A feature was asked for whose optional dependencies (a pip "extra") are not installed.

    The message is one line naming the extra and the command that installs it.
    """

    def __init__(self, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs runwell's optional '{extra}' dependencies, which are not installed: "
            f"pip install 'runwell[{extra}]'"
        )
        self.extra = extra


class StoreError(RunwellError):
    """The database could not be opened, migrated, read or written; usually worth a retry later."""


class StoreConflict(StoreError):
    """A row with the same unique name or id already exists."""


class StoreDataError(StoreError):
    """The database refused a value (too deep, too large, a NUL character); do not retry it."""


class RequestError(RunwellError):
    """A client request is malformed; maps to an OpenAI-style 4xx error body.

    ``param`` names the offending field (dotted path) when there is one.
    """

    status = 400
    type = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class AuthError(RequestError):
    """A missing or unknown API key or admin token."""

    status = 401
    type = "authentication_error"


class NotFoundError(RequestError):
    """Unknown feature, variant, route or record."""

    status = 404
    type = "not_found_error"


class Unavailable(RequestError):
    """The request is well formed but cannot be answered now: the feature is switched off and
    declares no degradation, or a guard it fails closed on is down. ``Retry-After`` applies."""

    status = 503
    type = "service_unavailable"


class ProviderError(RunwellError):
    """An upstream model call failed.

    ``provider`` is the provider's name in the spec; ``error_class`` is a short stable
    label recorded on the request record and used as ``error.type`` on spans
    (e.g. ``upstream_http_500``, ``connect_error``, ``malformed_response``, ``stream_cut``).
    """

    status = 502

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        error_class: str = "upstream_error",
        upstream_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"provider {provider!r}: {message}")
        self.provider = provider
        self.message = message
        self.error_class = error_class
        self.upstream_status = upstream_status
        self.retry_after_s = retry_after_s
        """What the upstream's ``Retry-After`` asked for, in seconds (retries honour it)."""


class CircuitOpen(ProviderError):
    """The circuit breaker of a provider and model refuses calls for now (503)."""

    status = 503

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(provider, message, error_class="circuit_open")


class ProviderTimeout(ProviderError):
    """The upstream did not answer within the configured timeout."""

    status = 504

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(provider, message, error_class="timeout")

"""runwell: build an LLM feature right and run it well."""

from runwell.errors import (
    AuthError,
    ConfigError,
    MissingExtra,
    NotFoundError,
    ProviderError,
    ProviderTimeout,
    RequestError,
    RunwellError,
    SpecError,
    SpecProblem,
    StoreConflict,
    StoreDataError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
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
    "__version__",
]

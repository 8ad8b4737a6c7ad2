"""Database URLs: the one place that decides SQLite or PostgreSQL, and where the file is.

Every part of runwell that stores (request records, API keys, the audit log, eval runs, the run-time
state) opens its database through :func:`parse_url`, so ``--db``/``RUNWELL_DB`` means the same thing
to every command: schemes are case-insensitive and surrounding whitespace is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from runwell.errors import ConfigError

__all__ = ["DEFAULT_DB", "DatabaseURL", "Dialect", "mask_url", "parse_url", "resolve_sqlite_path"]

DEFAULT_DB = Path(".runwell") / "runwell.db"
"""Where the embedded database lives, relative to the project directory."""

Dialect = Literal["sqlite", "postgresql"]

_ACCEPTED = (
    "a file path (runwell.db), sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "or postgresql://user:password@host:5432/dbname (postgres:// works too)"
)
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """Where a database is: its dialect, what the driver opens, and a form safe to print."""

    dialect: Dialect
    target: str
    """A SQLite file path (or ``:memory:``), or a libpq connection URL (it may hold a password)."""
    display: str
    """The URL with any password replaced by ``***``."""

    def __repr__(self) -> str:
        return f"DatabaseURL({self.display!r})"


def parse_url(url: str | None, *, base_dir: Path) -> DatabaseURL:
    """Decide what ``url`` names; ``None`` or blank means ``base_dir/.runwell/runwell.db``.

    Relative SQLite paths are relative to ``base_dir``. Raises ConfigError for an unknown scheme.
    """
    cleaned = (url or "").strip()
    if cleaned.lower().startswith(_POSTGRES_SCHEMES):
        scheme, rest = cleaned.split("://", 1)
        normalised = f"{scheme.lower()}://{rest}"
        return DatabaseURL("postgresql", normalised, mask_url(normalised))
    path = resolve_sqlite_path(cleaned or None, base_dir=base_dir)
    return DatabaseURL("sqlite", path, f"sqlite:///{path}")


def resolve_sqlite_path(url: str | None, *, base_dir: Path) -> str:
    """The SQLite file a URL or path names (``:memory:`` is passed through); ConfigError if not SQLite."""
    if url is None or not url.strip():
        return str(base_dir / DEFAULT_DB)
    url = url.strip()
    if url.lower().startswith("sqlite:///"):
        # SQLAlchemy's convention: three slashes then a relative path, four for an absolute one.
        raw = url[len("sqlite:///") :]
        if not raw:
            raise ConfigError(f"store URL {url!r} names no file; accepted forms: {_ACCEPTED}")
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigError(
            f"unknown store URL scheme {scheme!r} in {mask_url(url)!r}; accepted forms: {_ACCEPTED}"
        )
    else:
        raw = url
    if raw == ":memory:":
        return raw
    path = Path(raw).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def mask_url(url: str) -> str:
    """``url`` with any password (in the authority or a ``password=`` parameter) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

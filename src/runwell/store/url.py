"""Turn a store URL (``--db``/``RUNWELL_DB``) into an open record store."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from runwell.errors import ConfigError, StoreError
from runwell.store.base import RecordStore

__all__ = ["DEFAULT_DB", "mask_url", "open_store", "resolve_sqlite_path"]

DEFAULT_DB = Path(".runwell") / "runwell.db"
"""Where the embedded store lives, relative to the project directory."""

_ACCEPTED = (
    "a file path (runwell.db), sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "or postgresql://user:password@host:5432/dbname (postgres:// works too)"
)


def open_store(url: str | None, *, base_dir: Path) -> RecordStore:
    """Open (creating and migrating as needed) the store ``url`` names.

    ``None`` or ``""`` means the embedded SQLite file ``base_dir/.runwell/runwell.db``. Relative
    SQLite paths are relative to ``base_dir``. Raises ConfigError for a URL of an unknown kind
    and StoreError when the store cannot be opened.
    """
    if url is not None and url.strip().lower().startswith(("postgresql://", "postgres://")):
        # Imported here: the CLI's SQLite path should not pay for loading libpq.
        from runwell.store.postgres import PostgresStore

        return PostgresStore(url.strip())

    from runwell.store.sqlite import SQLiteStore

    path = resolve_sqlite_path(url, base_dir=base_dir)
    if path != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the directory for the SQLite store {path}: {exc}. "
                "Check the path (--db/RUNWELL_DB, --dir) and your permissions there."
            ) from exc
    return SQLiteStore(path)


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

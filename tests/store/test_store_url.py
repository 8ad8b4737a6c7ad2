"""open_store: which URL opens which store, and errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from runwell.errors import ConfigError, StoreError
from runwell.store import mask_url, open_store, parse_url, resolve_sqlite_path


def test_no_url_means_the_project_sqlite_file(tmp_path: Path) -> None:
    store = open_store(None, base_dir=tmp_path)
    try:
        path = tmp_path / ".runwell" / "runwell.db"
        assert store.db.dialect == "sqlite" and store.url == f"sqlite:///{path}"
        assert path.exists()
        # It holds prompts and key hashes: readable by its owner only, in a private directory.
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
    finally:
        store.close()


@pytest.mark.parametrize("url", ["POSTGRESQL://u@h/d", "  postgres://u@h/d  ", "Postgres://u@h/d"])
def test_postgres_schemes_are_case_insensitive_and_trimmed(url: str, tmp_path: Path) -> None:
    parsed = parse_url(url, base_dir=tmp_path)
    assert parsed.dialect == "postgresql" and parsed.target.endswith("://u@h/d")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/r.db", "{base}/data/r.db"),
        ("sqlite:////abs/r.db", "/abs/r.db"),
        ("data/r.db", "{base}/data/r.db"),
        ("/abs/r.db", "/abs/r.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_and_paths(url: str, expected: str, tmp_path: Path) -> None:
    assert resolve_sqlite_path(url, base_dir=tmp_path) == expected.format(base=tmp_path)


def test_a_relative_sqlite_url_creates_its_directory(tmp_path: Path) -> None:
    store = open_store("sqlite:///nested/dir/r.db", base_dir=tmp_path)
    store.close()
    assert (tmp_path / "nested" / "dir" / "r.db").exists()


def test_an_unknown_scheme_names_the_accepted_forms(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        open_store("mysql://root:hunter2@db/runwell", base_dir=tmp_path)
    message = str(err.value)
    assert "'mysql'" in message and "postgresql://" in message and "sqlite:///" in message
    assert "hunter2" not in message


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_urls_open_postgres(scheme: str, pg_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url.replace("postgresql://", f"{scheme}://", 1), base_dir=tmp_path)
    try:
        assert store.db.dialect == "postgresql"
        store.ping()
    finally:
        store.close()


@pytest.mark.postgres
def test_an_unreachable_postgres_names_the_url_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://runwell:s3cret@127.0.0.1:1/runwell"  # port 1: nothing listens there
    with pytest.raises(StoreError) as err:
        open_store(url, base_dir=tmp_path)
    message = str(err.value)
    assert "postgresql://runwell:***@127.0.0.1:1/runwell" in message
    assert "s3cret" not in message
    assert "server is running" in message


def test_an_unwritable_sqlite_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the SQLite database"):
        open_store(str(blocker / "r.db"), base_dir=tmp_path)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        open_store(str(path), base_dir=tmp_path)


def test_mask_url_hides_passwords_only() -> None:
    assert mask_url("postgresql://u:p@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_url("postgresql://u@h/d?password=p&sslmode=require") == (
        "postgresql://u@h/d?password=***&sslmode=require"
    )
    assert mask_url("postgresql://h/d") == "postgresql://h/d"

"""Fixtures every test package shares: realistic request records and real PostgreSQL databases.

PostgreSQL is the machine's server at ``RUNWELL_TEST_POSTGRES_URL`` (default: the local one, user
postgres, database ``test``; ``scripts/services`` starts it). Each session creates its own
database and drops it at the end; each test that asks for ``pg_url`` gets a fresh schema in it.
An unreachable server fails those tests: CI must never pass by skipping the real database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from runwell.telemetry.record import RequestRecord

ADMIN_URL = os.environ.get("RUNWELL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _record(**overrides: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "request_id": secrets.token_hex(12),
        "trace_id": secrets.token_hex(16),
        "started_at": 1_763_800_000.0,
        "feature": "support-reply",
        "variant": "champion",
        "provider": "openai",
        "provider_kind": "openai",
        "model": "gpt-4o-mini",
        "spec_version": "abc123",
        "prompt_version": "v3",
        "user_id": "user-7",
        "api_key_id": "key_1",
        "status": "ok",
        "http_status": 200,
        "stream": True,
        "latency_ms": 812.5,
        "ttft_ms": 140.25,
        "input_tokens": 120,
        "output_tokens": 48,
        "cached_tokens": 64,
        "cost_usd": 0.0000468,
        "priced": True,
        "finish_reason": "stop",
        "response_model": "gpt-4o-mini-2024-07-18",
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Où est ma commande ? 📦"},
        ],
        "completion": "Elle arrive demain.",
    }
    values.update(overrides)
    return RequestRecord(**values)


@pytest.fixture
def make_record() -> Callable[..., RequestRecord]:
    """Build a complete, realistic record; keyword arguments override fields."""
    return _record


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a database created for this test session and dropped after it."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {ADMIN_URL} (run scripts/services): {exc}")
    name = f"runwell_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(ADMIN_URL)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """URL of an empty schema of its own (via search_path) in the session database."""
    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return f"{pg_database}?options=-csearch_path%3D{schema}"

"""Fixtures for the telemetry tests: realistic records and a real (SQLite) store."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runwell.store import RecordStore, open_store
from runwell.telemetry.record import RequestRecord


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
        "prompt": [{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "Where is my order?"}],
        "completion": "It arrives tomorrow.",
    }
    values.update(overrides)
    return RequestRecord(**values)


@pytest.fixture
def make_record() -> Callable[..., RequestRecord]:
    """Build a complete, realistic record; keyword arguments override fields."""
    return _record


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    """A real SQLite store in a temporary project directory."""
    opened = open_store(None, base_dir=tmp_path)
    try:
        yield opened
    finally:
        opened.close()

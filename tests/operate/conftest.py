"""Fixtures of the operations tests: a project database (SQLite and the real PostgreSQL) with its
audit log, the ops project's compiled operations, local PagerDuty and Slack receivers."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runwell.audit.log import AuditLog
from runwell.audit.open import open_audit_log
from runwell.operate.channels import build_channels
from runwell.operate.engine import FeatureOps
from runwell.operate.oncall_plan import compile_oncall
from runwell.operate.rules import compile_rules
from runwell.spec.loader import LoadedSpec, load_spec
from runwell.store import Store, open_store
from runwell.telemetry.record import RequestRecord
from runwell.testing.receivers import PagerDutyReceiver, SlackReceiver
from tests.operate.project import receiver_env, write_ops_project

ESCALATE_S = 0.5
"""The ops feature's second escalation level waits this long for an acknowledgement."""


@dataclass
class Project:
    """An open store and audit log for one test."""

    root: Path
    store: Store
    log: AuditLog
    url: str


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    url = str(tmp_path / "runwell.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = open_store(url, base_dir=tmp_path)
    handle = open_audit_log(tmp_path, db=store.db)
    try:
        yield Project(tmp_path, store, handle.log, url)
    finally:
        handle.close()
        store.close()


@pytest.fixture
async def pagerduty() -> AsyncIterator[PagerDutyReceiver]:
    async with PagerDutyReceiver() as receiver:
        yield receiver


@pytest.fixture
async def slack() -> AsyncIterator[SlackReceiver]:
    async with SlackReceiver() as receiver:
        yield receiver


def feature_ops(loaded: LoadedSpec, environ: dict[str, str]) -> FeatureOps:
    """What the gateway builds for one feature."""
    oncall = loaded.spec.oncall
    tickets = tuple(n for n, c in oncall.channels.items() if c.type != "pagerduty")
    channels = build_channels(oncall, environ, feature=loaded.name)
    return FeatureOps(loaded, compile_rules(loaded), compile_oncall(loaded), channels, oncall.review, tickets)


@pytest.fixture
def ops_spec(tmp_path: Path, pagerduty: PagerDutyReceiver) -> LoadedSpec:
    return load_spec(
        write_ops_project(tmp_path / "feature", receivers=pagerduty.root_url, escalate_after_s=ESCALATE_S)
    )


@pytest.fixture
async def ops(ops_spec: LoadedSpec, slack: SlackReceiver) -> AsyncIterator[FeatureOps]:
    built = feature_ops(ops_spec, receiver_env(slack.url))
    try:
        yield built
    finally:
        await built.channels.aclose()


@pytest.fixture
def add_requests(project: Project, make_record: Callable[..., RequestRecord]) -> Callable[..., list[str]]:
    """Write ``n`` request records of the ops feature, failed or served, ``ago`` seconds ago."""

    def add(n: int, *, failed: bool, ago: float = 0.5, **extra: Any) -> list[str]:
        records: list[dict[str, Any]] = []
        for _ in range(n):
            fields: dict[str, Any] = {
                "feature": "ops",
                "variant": "outage" if failed else "main",
                "started_at": time.time() - ago,
                "request_id": secrets.token_hex(12),
                "prompt": [
                    {"role": "system", "content": "You answer briefly."},
                    {"role": "user", "content": "Question: where is my order?"},
                ],
            }
            if failed:
                fields |= {
                    "status": "ok",
                    "http_status": 200,
                    "outcome": "degraded",
                    "attempts": [{"variant": "outage", "outcome": "error"}],
                    "completion": None,
                }
            else:
                fields |= {"status": "ok", "http_status": 200, "outcome": "served", "completion": "fine"}
            records.append(fields | extra)
        project.store.write_records([make_record(**r) for r in records])
        return [r["request_id"] for r in records]

    return add

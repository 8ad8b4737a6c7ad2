"""A real ``runwell serve`` with the console on, real traffic through the openai SDK, the operations
and experiment tables seeded as their layers write them, and headless Chromium driven by Playwright.

Chromium is Debian's (``apt-get install chromium``, ``/usr/bin/chromium``); Playwright is the PyPI
package, never its own browser download. A missing browser fails the tests: it is not a skip.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import orjson
import pytest

from tests.console.project import write_project
from tests.gateway.conftest import (  # noqa: F401  (mock_upstream is a fixture)
    ADMIN_TOKEN,
    Gateway,
    mock_upstream,
    start_gateway,
    stop_gateway,
)

CHROMIUM = "/usr/bin/chromium"
VIEWER_TOKEN = "viewer-token-for-tests-0123456789"
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclass
class ConsoleProject:
    """The running gateway, its database, and the ids of what the tests seeded."""

    gw: Gateway
    db_path: Path
    request_ids: list[str]
    notes_request_id: str
    review_item_id: str
    incident_id: str
    client: openai.OpenAI


def wait_for_records(db_path: Path, ids: list[str], timeout: float = 10.0) -> None:
    """Wait until the recorder has written every one of ``ids``."""
    deadline = time.time() + timeout
    while True:
        with sqlite3.connect(db_path) as conn:
            marks = ", ".join("?" for _ in ids)
            found = conn.execute(
                f"SELECT count(*) FROM requests WHERE request_id IN ({marks})", ids
            ).fetchone()[0]
        if found == len(ids):
            return
        assert time.time() < deadline, f"only {found} of {len(ids)} records written"
        time.sleep(0.05)


def seed_operations(db_path: Path, request_id: str, now: float) -> tuple[str, str]:
    """Rows as the operations and experiment layers write them; returns (review item, incident)."""
    item, incident = "rev-" + secrets.token_hex(4), "inc-" + secrets.token_hex(4)
    evidence = {
        "verdict": "fail",
        "score": 0.2,
        "reason": "error_rate worse than the baseline beyond tolerance",
        "confidence": 0.95,
        "pass_threshold": 0.9,
        "marginal_threshold": 0.6,
        "failed": ["error_rate"],
        "metrics": [
            {"name": "error_rate", "verdict": "fail", "baseline_level": 0.01, "candidate_level": 0.09,
             "estimate": 0.08, "ci_low": 0.05, "ci_high": 0.11, "p_value": 0.001, "threshold": 0.02,
             "explanation": "candidate errors 9% vs 1%"},
            {"name": "latency_p95_ms", "verdict": "pass", "baseline_level": 800.0, "candidate_level": 790.0,
             "estimate": -10.0, "ci_low": -40.0, "ci_high": 20.0, "p_value": 0.5, "threshold": 100.0,
             "explanation": "no slower"},
        ],
    }  # fmt: skip
    rollout = {
        "schema": 1, "rollout_id": "ro-1", "baseline": "main", "candidate": "alt",
        "strategy": {"kind": "canary", "steps": [5, 25, 50, 100], "interval_s": 600.0, "max_extensions": 2,
                     "on_inconclusive": "pause"},
        "state": "running", "step": 1, "window_start": now - 120, "extensions": 0,
        "started_at": now - 900, "updated_at": now - 120, "version": 3,
    }  # fmt: skip
    # As runwell.experiments.state writes them: the feature's state document, and history lines whose
    # evidence holds the transition (with the judge's result) and the window judged.
    serving = {
        "variant": "main",
        "prompt_version": "1",
        "model": "gpt-4o-mini",
        "since": now - 7200,
        "until": None,
    }
    document = {"schema": 1, "rollout": rollout, "serving": serving, "previous": None}
    event = {"rollout_id": "ro-0", "version": 5, "at": now - 7200, "action": "rollback", "from_state": "running",
             "to_state": "rolled_back", "from_step": 1, "to_step": 1, "from_percent": 25.0, "to_percent": 0.0,
             "reason": "error rate regression", "actor": "runwell", "evidence": evidence}  # fmt: skip
    history = {"event": event, "window": {"since": now - 7800, "until": now - 7200}, "requests": 240}
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO rollouts (feature, state, version, updated_at) VALUES (?, ?, ?, ?)",
            ("support", orjson.dumps(document).decode(), 3, now - 120),
        )
        conn.executemany(
            "INSERT INTO rollout_events (id, feature, rollout_id, at, kind, from_state, to_state, actor, reason, "
            "evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("ev-1", "support", "ro-0", now - 7200, "rollback", "running", "rolled_back", "controller",
                 "error rate regression", orjson.dumps(history).decode()),
                ("ev-2", "support", "ro-1", now - 900, "start", "pending", "running", "ada", "try alt", None),
            ],
        )  # fmt: skip
        conn.execute(
            "INSERT INTO alerts (feature, name, state, since, last_value, last_eval_at, incident_id, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("support", "high-error-rate", "firing", now - 600, 0.12, now - 5, incident, "{}"),
        )
        conn.execute(
            "INSERT INTO incidents (id, feature, failure_mode, severity, state, title, runbook, opened_at, "
            "escalation_level, review_due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (incident, "support", "outage", "SEV-2", "triggered", "Error rate above 5%", "runbooks/outage.md",
             now - 600, 0, now + 14 * 86400),
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO incident_events (id, incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("ie-1", incident, now - 600, "opened", "runwell", '{"alert": "high-error-rate"}'),
                ("ie-2", incident, now - 590, "paged", "runwell", '{"who": "Grace Oncall"}'),
            ],
        )
        conn.execute(
            "INSERT INTO pages (id, incident_id, level, target, channel, action, status, attempts, sent_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("pg-1", incident, 0, "Grace Oncall", "email", "trigger", "sent", 1, now - 590, now - 590),
        )
        conn.execute(
            "INSERT INTO review_items (id, request_id, feature, reason, state, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (item, request_id, "support", "guardrail_flag:pii_redaction", "pending", now - 300),
        )
        conn.execute(
            "INSERT INTO drills (id, feature, scenario, started_at, finished_at, passed, result) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("dr-1", "support", "outage", now - 86400 * 3, now - 86400 * 3 + 60, 1, '{"ttd_s": 41}'),
        )
        report = {"checks": [{"name": "kill switch accessible", "status": "passed", "detail": "levers work"},
                             {"name": "runbooks", "status": "failed", "detail": "1 of 2 failure modes"}]}  # fmt: skip
        conn.execute(
            "INSERT INTO readiness_reports (id, feature, at, score, level, report) VALUES (?, ?, ?, ?, ?, ?)",
            ("rr-1", "support", now - 3600, 0.75, 1, orjson.dumps(report).decode()),
        )
    return item, incident


def seed_evals(root: Path, db_path: Path) -> None:
    """Two complete eval runs of ``support`` on one dataset, stored as ``runwell eval run`` does."""
    from runwell.evals.runstore import CaseRepeat, EvalRun, EvalRunStore

    store = EvalRunStore.open(str(db_path), base_dir=root)
    try:
        for variant, good in (("main", 0.9), ("alt", 0.6)):
            run = EvalRun(EvalRun.new_id(), "support", variant, "up", "gpt-4o-mini", "v1", "1", "core", "tickets",
                          "d" * 64, 20, 1, [{"type": "contains"}], time.time() - 3600)  # fmt: skip
            store.create_run(run)
            results = [
                CaseRepeat(
                    f"case-{i:02d}",
                    0,
                    (f"lang:{'en' if i % 2 else 'fr'}",),
                    "out",
                    good if i % 3 else 1.0,
                    (good if i % 3 else 1.0) >= 0.7,
                )
                for i in range(20)
            ]
            store.add_results(run.run_id, results)
            store.set_status(run.run_id, "complete")
    finally:
        store.close()


@pytest.fixture(scope="module")
def console_project(tmp_path_factory: pytest.TempPathFactory, mock_upstream: str) -> Iterator[ConsoleProject]:  # noqa: F811
    root = tmp_path_factory.mktemp("console")
    write_project(root, mock_upstream)
    env = {"RUNWELL_CONSOLE": "on", "RUNWELL_CONSOLE_VIEWER_TOKEN": VIEWER_TOKEN}
    gw = start_gateway(root, extra_env=env)
    try:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.key, max_retries=0)
        ids = []
        for i in range(4):
            done = client.chat.completions.create(
                model="support",
                messages=[
                    {"role": "user", "content": f"Ticket {i}: my order <b>broke</b>, mail x{i}@example.com"}
                ],
                user=f"customer-{i}",
            )
            ids.append(done.id.removeprefix("chatcmpl-"))
        notes = client.chat.completions.create(
            model="notes", messages=[{"role": "user", "content": "SECRET-NOTE-TEXT for me"}], user="writer"
        )
        db_path = root / ".runwell" / "runwell.db"
        notes_id = notes.id.removeprefix("chatcmpl-")
        wait_for_records(db_path, [*ids, notes_id])
        item, incident = seed_operations(db_path, ids[0], time.time())
        seed_evals(root, db_path)
        yield ConsoleProject(gw, db_path, ids, notes_id, item, incident, client)
    finally:
        stop_gateway(gw)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()

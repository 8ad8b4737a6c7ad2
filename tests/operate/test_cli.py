"""``runwell incident|oncall|review|alerts|drill`` on a project database (SQLite)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from runwell.audit.open import open_audit_log
from runwell.cli.main import app
from runwell.operate.engine import Evaluator
from runwell.operate.feed import ChangeFeed, FeatureIndex
from runwell.operate.incidents import incident_pages
from runwell.spec.loader import load_spec
from runwell.store import open_store
from runwell.telemetry.record import RequestRecord
from tests.operate.conftest import feature_ops
from tests.operate.project import OWNER, on_call_now, receiver_env, write_ops_project

RUNNER = CliRunner(env={"COLUMNS": "200", "RUNWELL_DB": None, "RUNWELL_ACTOR": "ana"})


def run(root: Path, *args: str) -> Result:
    return RUNNER.invoke(app, [*args], catch_exceptions=False, env={"RUNWELL_DB": str(root / "ops.db")})


@pytest.fixture
def incident(tmp_path: Path, make_record: Callable[..., RequestRecord]) -> Iterator[tuple[Path, str]]:
    """A project with one open, paged incident of the ops feature."""
    write_ops_project(tmp_path, receivers="http://127.0.0.1:9")
    loaded = load_spec(tmp_path)
    store = open_store(str(tmp_path / "ops.db"), base_dir=tmp_path)
    handle = open_audit_log(tmp_path, db=store.db)
    try:
        failed = dict(status="ok", http_status=200, outcome="degraded", attempts=[{"outcome": "error"}])
        store.write_records(
            [
                make_record(feature="ops", variant="outage", request_id=secrets.token_hex(12),
                            started_at=time.time() - 1, **failed)
                for _ in range(5)
            ]
        )  # fmt: skip
        ops = feature_ops(loaded, receiver_env("http://127.0.0.1:9/services/T/B/X"))
        engine = Evaluator(store.db, {"ops": ops}, ChangeFeed(store.db, FeatureIndex(["ops"], {})))
        [incident_id] = engine.run(time.time()).opened
        with store.db.transaction("pretend the pages were sent") as tx:
            tx.execute("UPDATE pages SET status = 'sent', sent_at = ?", (time.time(),))
    finally:
        handle.close()
        store.close()
    yield tmp_path, incident_id


def test_incidents_are_listed_shown_acknowledged_and_resolved(incident: tuple[Path, str]) -> None:
    root, incident_id = incident
    listed = run(root, "incident", "list", "--dir", str(root))
    assert listed.exit_code == 0 and incident_id in listed.stdout and "SEV-2" in listed.stdout
    shown = run(root, "incident", "show", incident_id, "--dir", str(root))
    assert "runbook: runbooks/outage.md" in shown.stdout and "alert error-rate-high firing" in shown.stdout

    acked = run(root, "incident", "ack", incident_id, "--dir", str(root))
    assert acked.stdout.strip() == f"Acknowledged {incident_id}."
    assert (
        run(root, "incident", "ack", incident_id, "--dir", str(root))
        .stdout.strip()
        .endswith("nothing recorded.")
    )
    resolved = run(root, "incident", "resolve", incident_id, "--reason", "fixed", "--dir", str(root))
    assert f"Resolved {incident_id}; its review is due in 14 days" in resolved.stdout

    detail = json.loads(
        run(root, "incident", "show", incident_id, "--format", "json", "--dir", str(root)).stdout
    )
    assert detail["acked_by"] == "ana" and detail["state"] == "resolved"
    store = open_store(str(root / "ops.db"), base_dir=root)
    try:
        # The CLI queued the follow-ups; a running gateway sends them.
        follow_ups = [
            (p.channel, p.action) for p in incident_pages(store.db, incident_id) if p.action != "trigger"
        ]
    finally:
        store.close()
    assert sorted(follow_ups) == [
        ("pagerduty", "acknowledge"), ("pagerduty", "resolve"), ("slack", "acknowledge"), ("slack", "resolve"),
    ]  # fmt: skip

    template = run(root, "incident", "review", incident_id, "--dir", str(root))
    assert template.stdout.startswith("# Post-incident review:")
    done = root / "review.md"
    done.write_text(template.stdout.replace("_Two or three sentences", "The provider was down"))
    stored = run(root, "incident", "review", incident_id, "--file", str(done), "--dir", str(root))
    assert stored.stdout.strip() == f"Review of {incident_id} stored."
    detail = json.loads(
        run(root, "incident", "show", incident_id, "--format", "json", "--dir", str(root)).stdout
    )
    assert detail["review_done_at"] is not None and "The provider was down" in detail["review"]


def test_usage_mistakes_exit_2_with_one_line(incident: tuple[Path, str]) -> None:
    root, incident_id = incident
    bad_state = run(root, "incident", "list", "--state", "burning", "--dir", str(root))
    assert bad_state.exit_code == 2 and "--state must be open, acknowledged or resolved" in bad_state.stderr
    no_reason = run(root, "incident", "resolve", incident_id, "--reason", " ", "--dir", str(root))
    assert no_reason.exit_code == 2 and "needs a reason" in no_reason.stderr
    missing = run(root, "incident", "show", "inc_nope", "--dir", str(root))
    assert (
        missing.exit_code == 1
        and "no incident 'inc_nope'; list them with `runwell incident list`" in missing.stderr
    )
    drill = RUNNER.invoke(
        app, ["drill", "ops", "outage"], env={"RUNWELL_ADMIN_TOKEN": None, "RUNWELL_API_KEY": None}
    )
    assert drill.exit_code == 2 and "$RUNWELL_ADMIN_TOKEN" in drill.stderr


def test_oncall_shows_who_is_on_call_next_and_the_handoff_days_left(incident: tuple[Path, str]) -> None:
    root, _ = incident
    now_person, next_person = on_call_now()
    out = run(root, "oncall", "--dir", str(root)).stdout
    assert f"on call now: {now_person}" in out and f"next: {next_person} from" in out
    assert f"handoff window: {OWNER} paged too, 80 days left" in out
    assert "level 0: on call in primary over pagerduty, slack" in out
    at = run(
        root, "oncall", "ops", "--at", "2024-01-02T12:00:00+00:00", "--format", "json", "--dir", str(root)
    )
    [entry] = json.loads(at.stdout)
    assert entry["rotation"]["now"] == "Bo" and entry["rotation"]["next"] == "Ana"
    assert run(root, "oncall", "--at", "tomorrow", "--dir", str(root)).exit_code == 2


def test_alerts_and_the_review_queue(incident: tuple[Path, str]) -> None:
    root, _ = incident
    alerts = json.loads(run(root, "alerts", "ops", "--format", "json", "--dir", str(root)).stdout)
    assert [(a["name"], a["state"]) for a in alerts] == [("error-rate-high", "firing")]
    assert "error_rate > 0.5 over 4s" in run(root, "alerts", "--dir", str(root)).stdout
    assert run(root, "review", "list", "--dir", str(root)).stdout.strip() == "The review queue is empty."
    export = run(root, "review", "export", "ops", "--dir", str(root))
    assert export.exit_code == 0 and "Appended 0 case(s)" in export.stdout

"""The renderers, the score and level rules, and the decay modes read from git history and the store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from xml.etree import ElementTree as ET

from runwell.readiness import CheckOptions, Item, render, run_check
from runwell.readiness.decay import decay_events, decay_report
from runwell.readiness.items import Report
from runwell.readiness.scoring import section_scores
from runwell.spec.loader import load_spec
from runwell.store import open_store
from tests.readiness.project import commit, edit, fill, scaffolded


def _report(tmp_path: Path) -> Report:
    root = tmp_path / "f"
    scaffolded(root)
    fill(root)
    return run_check(load_spec(root / "runwell.yaml"), CheckOptions())


def test_junit_has_one_case_per_item_and_a_failure_per_failing_item(tmp_path: Path) -> None:
    report = _report(tmp_path)
    tree = ET.fromstring(render(report, "junit").split("\n", 1)[1])
    cases = tree.findall(".//testcase")
    assert len(cases) == len(report.items)
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {i.id for i in report.items if i.status == "fail"}
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert skipped == {i.id for i in report.items if i.status == "n/a"}
    assert tree.get("failures") == str(len(failed))


def test_markdown_and_json_carry_every_item_score_and_level(tmp_path: Path) -> None:
    report = _report(tmp_path)
    markdown = render(report, "markdown")
    assert f"**Maturity level {report.level}**" in markdown
    assert all(f"`{i.id}`" in markdown for i in report.items)
    data = json.loads(render(report, "json"))
    assert data["level"] == report.level and data["score"] == round(report.score, 4)
    assert [c["id"] for c in data["checks"]] == [i.id for i in report.items]
    failing = [c for c in data["checks"] if c["status"] == "fail"]
    assert failing and all(c["fix"] for c in failing)


def test_score_is_the_weakest_sections_share_with_half_points_for_manual_items() -> None:
    items = [
        Item("a", "pre-ship", "a", "pass", "", automated=True),
        Item("b", "pre-ship", "b", "pass", "", automated=False),
        Item("c", "cost", "c", "pass", "", automated=True),
        Item("d", "cost", "d", "fail", ""),
        Item("e", "production", "e", "n/a", ""),
        Item("f", "monday", "f", "pass", "", automated=True),
    ]
    sections = section_scores(items)
    assert sections["pre-ship"]["points"] == 1.5 and sections["pre-ship"]["share"] == 0.75
    assert sections["cost"]["share"] == 0.5
    assert sections["production"]["possible"] == 0  # n/a counts neither way
    report = Report("x", "x", "v", 0.0, "static", tuple(items), (), sections)
    assert report.score == 0.5 and report.weakest == "cost"


def test_guardrails_relax_reads_loosenings_from_the_spec_history(tmp_path: Path) -> None:
    root = tmp_path / "f"
    scaffolded(root)
    fill(root)
    spec = root / "runwell.yaml"
    edit(spec, "  pii_redaction: true", "  pii_redaction: false")
    edit(spec, "    threshold: 0.05\n", "    threshold: 0.5\n")
    edit(spec, "  daily_usd: 5\n", "  daily_usd: 50\n")
    edit(spec, "    severity: page         # page", "    severity: ticket       # page")
    commit(root, "relax")
    store = open_store(None, base_dir=root)
    try:
        # The window reaches past the first commit, so the first version is the baseline.
        signals = decay_report(store.db, None, load_spec(spec), "helpdesk", time.time() + 1)
    finally:
        store.close()
    by_check = {s.check: s for s in signals if s.mode == "guardrails"}
    assert (
        by_check["budgets raised"].status == "warn"
        and "daily_usd 5 -> 50" in by_check["budgets raised"].detail
    )
    assert by_check["alerts silenced"].status == "bad"
    assert "error-rate-high no longer pages" in by_check["alerts silenced"].detail
    loosened = by_check["thresholds loosened"]
    assert loosened.status == "bad" and "pii_redaction switched off" in loosened.detail
    assert "threshold 0.05 -> 0.5" in loosened.detail
    events = dict(decay_events("helpdesk", signals))
    assert "decay_guardrails" in events
    assert {s["check"] for s in events["decay_guardrails"]["signals"]} == {
        "alerts silenced",
        "thresholds loosened",
    }


def test_operators_drift_sees_stale_runbooks_overdue_reviews_and_people_who_left(tmp_path: Path) -> None:
    root = tmp_path / "f"
    scaffolded(root)
    fill(root)
    spec = root / "runwell.yaml"
    edit(spec, "notify: Alan Turing", "notify: Margaret Hamilton")
    commit(root, "change the spec after the runbooks")
    store = open_store(None, base_dir=root)
    now = time.time()
    try:
        with store.db.transaction("seed an incident") as tx:
            tx.execute(
                "INSERT INTO incidents (id, feature, severity, state, title, opened_at, review_due_at) "
                "VALUES ('inc_1', 'helpdesk', 'SEV-2', 'resolved', 'outage', ?, ?)",
                (now - 30 * 86400, now - 86400),
            )
        signals = decay_report(store.db, None, load_spec(spec), "helpdesk", now)
    finally:
        store.close()
    by_check = {s.check: s for s in signals if s.mode == "operators"}
    assert by_check["runbooks kept up with the spec"].status == "warn"
    assert (
        by_check["post-incident reviews"].status == "bad"
        and "inc_1" in by_check["post-incident reviews"].detail
    )
    left = by_check["on-call members who left"]
    assert left.status == "bad" and "Margaret Hamilton" in left.detail
    assert by_check["drills"].status == "bad"
    assert "decay_operators" in dict(decay_events("helpdesk", signals))

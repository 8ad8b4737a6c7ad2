"""Static mode on a scaffolded feature in a git repository: it fails until its owner fills in the
blanks; filling in (or removing) any one piece flips exactly its item."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runwell.readiness import CheckOptions, Report, run_check
from runwell.spec.loader import load_spec
from tests.readiness.project import FILLS, commit, edit, fill, scaffolded

NOW = 1_780_000_000.0  # 2026-05-28: after the scaffold's handoff window ended

FILL_ITEM = {
    "problem": "pre.problem",
    "success_metric": "pre.success_metric",
    "non_ai_alternative": "pre.non_ai_alternative",
    "traffic": "pre.affordable",
    "ceiling": "pre.cost_ceiling",
    "dashboard": "pre.dashboard",
    "owner": "pre.escalation",
    "escalation": "pre.escalation",
    "primary": "mon.oncall",
    "secondary": "mon.oncall",
    "cutover": "mon.handoff",
}


def _check(root: Path) -> Report:
    return run_check(load_spec(root / "runwell.yaml"), CheckOptions(now=NOW))


def _statuses(report: Report) -> dict[str, str]:
    return {i.id: i.status for i in report.items}


def _flipped(a: Report, b: Report) -> set[str]:
    sa, sb = _statuses(a), _statuses(b)
    return {k for k in sa if sa[k] != sb[k]}


def _runwell(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runwell", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_a_scaffolded_feature_fails_the_check_and_names_each_blank(tmp_path: Path) -> None:
    root = tmp_path / "f"
    scaffolded(root)
    done = _runwell("check", "--format", "json", cwd=root)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    failed = {c["id"]: c for c in report["checks"] if c["status"] == "fail"}
    assert set(FILL_ITEM.values()) | {"prod.runbooks", "mon.eval_ci"} <= set(failed)
    assert "TODO" in failed["mon.oncall"]["evidence"]
    assert (
        "example.com" in failed["pre.escalation"]["evidence"]
        or "TODO" in failed["pre.escalation"]["evidence"]
    )
    assert all(c["fix"] for c in failed.values())
    assert report["level"] == 0
    # `runwell spec validate` still accepts the scaffold: the blanks are for `check` to catch.
    assert _runwell("spec", "validate", cwd=root).returncode == 0


def test_filling_in_everything_passes_every_item_the_spec_and_repo_decide(tmp_path: Path) -> None:
    root = tmp_path / "f"
    scaffolded(root)
    fill(root)
    statuses = _statuses(_check(root))
    spec_items = set(FILL_ITEM.values()) | {
        "pre.failure_modes",
        "pre.detection",
        "pre.fallback",
        "pre.kill_switch",
        "prod.runbooks",
        "cost.budgets",
        "cost.budget_alerts",
        "mon.spec_versioned",
        "mon.eval_ci",
        "mon.pickup",
    }
    assert {k: statuses[k] for k in spec_items} == dict.fromkeys(spec_items, "pass")
    # What only a served feature can show fails honestly instead of being skipped.
    for evidence_needed in ("prod.records", "prod.latency", "cost.priced", "mon.audit", "mon.drill"):
        assert statuses[evidence_needed] == "fail"
    assert statuses["prod.readyz"] == "n/a"


@pytest.mark.parametrize("piece", sorted(FILL_ITEM))
def test_filling_in_one_piece_flips_exactly_its_item(tmp_path: Path, piece: str) -> None:
    without, full = tmp_path / "without", tmp_path / "full"
    for root in (without, full):
        scaffolded(root)
    fill(without, skip=(piece,))
    fill(full)
    assert _flipped(_check(without), _check(full)) == {FILL_ITEM[piece]}


def _drop_lines(path: Path, pattern: str) -> None:
    path.write_text(re.sub(pattern, "", path.read_text(), count=1, flags=re.MULTILINE))


REMOVALS = {
    "problem": (lambda r: _drop_lines(r / "runwell.yaml", r"^  problem:.*\n"), "pre.problem"),
    "success_metric": (
        lambda r: _drop_lines(r / "runwell.yaml", r"^  success_metric:.*\n"),
        "pre.success_metric",
    ),
    "non_ai": (
        lambda r: _drop_lines(r / "runwell.yaml", r"^  non_ai_alternative:.*\n"),
        "pre.non_ai_alternative",
    ),
    "traffic": (
        lambda r: _drop_lines(r / "runwell.yaml", r"^  expected_requests_per_day:.*\n"),
        "pre.affordable",
    ),
    "ceiling": (
        lambda r: _drop_lines(r / "runwell.yaml", r"^  cost_ceiling_usd_per_month:.*\n"),
        "pre.cost_ceiling",
    ),
    "dashboard": (lambda r: _drop_lines(r / "runwell.yaml", r"^  dashboard:.*\n"), "pre.dashboard"),
    "degradation": (
        lambda r: _drop_lines(r / "runwell.yaml", r"^  degradation:\n(?:    .*\n)+"),
        "pre.fallback",
    ),
    "detection": (
        lambda r: edit(
            r / "runwell.yaml", "severity: ticket\n    failure_mode: cost-spike\n", "severity: ticket\n"
        ),
        "pre.detection",
    ),
    "runbook_section": (
        lambda r: _drop_lines(r / "runbooks" / "provider-outage.md", r"^## Escalation\n(?:.*\n?)*"),
        "prod.runbooks",
    ),
    "ci_gate": (lambda r: (r / ".github" / "workflows" / "evals.yml").unlink(), "mon.eval_ci"),
    "second_person": (
        lambda r: _drop_lines(r / "runwell.yaml", r"^      - name: Alan Turing\n        contact: .*\n"),
        "mon.oncall",
    ),
    "handoff": (lambda r: _drop_lines(r / "runwell.yaml", r"^  handoff: .*\n(?:    .*\n)+"), "mon.handoff"),
}


@pytest.mark.parametrize("piece", sorted(REMOVALS))
def test_removing_one_piece_flips_exactly_its_item(tmp_path: Path, piece: str) -> None:
    root = tmp_path / "f"
    scaffolded(root)
    fill(root)
    before = _check(root)
    remove, item = REMOVALS[piece]
    remove(root)
    commit(root, f"remove {piece}")
    assert _flipped(before, _check(root)) == {item}


def test_an_uncommitted_change_flips_only_the_versioned_spec_item(tmp_path: Path) -> None:
    root = tmp_path / "f"
    scaffolded(root)
    fill(root)
    before = _check(root)
    edit(root / "runwell.yaml", "expected_requests_per_day: 2000", "expected_requests_per_day: 2500")
    after = _check(root)
    assert _flipped(before, after) == {"mon.spec_versioned"}
    assert "dirty" in next(i.evidence for i in after.items if i.id == "mon.spec_versioned")


def test_placeholders_the_issue_names_are_caught() -> None:
    from runwell.readiness import placeholder_in

    assert placeholder_in("TODO Primary") == "TODO"
    assert placeholder_in("pager@example.com") == "example.com"
    assert placeholder_in("Grace Hopper") is None
    assert placeholder_in("https://grafana.acme.test/d/x") is None


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    root = tmp_path / "f"
    scaffolded(root)
    assert _runwell("check", "--format", "yaml", cwd=root).returncode == 2
    assert _runwell("check", "--live", "not-a-url", cwd=root).returncode == 2
    missing = _runwell("check", str(tmp_path / "nowhere.yaml"), cwd=root)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    (root / "runwell.yaml").write_text("spec_version: 1\nfeature: {name: x}\n")
    broken = _runwell("check", cwd=root)
    assert broken.returncode == 2 and "runwell.yaml:" in broken.stderr and "Traceback" not in broken.stderr
    assert FILLS  # the fills table is what the other tests rely on

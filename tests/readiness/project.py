"""A scaffolded feature in a git repository, and the same feature with every blank filled in."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from runwell.spec.scaffold import scaffold

FEATURE = "helpdesk"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@tests.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@tests.invalid",
}

CI_WORKFLOW = """\
name: evals
on:
  pull_request:
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install runwell
      - run: runwell eval compare --spec runwell.yaml --baseline champion --candidate challenger --gate
"""

# (what the scaffold says, what a real owner writes); each fills one checklist item.
FILLS: dict[str, tuple[str, str]] = {
    "problem": (
        'problem: "TODO: the problem this solves, for whom, and what it costs them today"',
        'problem: "Agents spend 6 minutes reading each ticket before they can answer it"',
    ),
    "success_metric": (
        'success_metric: "TODO: the number that says it works, e.g. median handling time -20% in 8 weeks"',
        'success_metric: "Median handling time down 20% within 8 weeks of cutover"',
    ),
    "non_ai_alternative": (
        'non_ai_alternative: "TODO: the non-AI way considered (rules, search, a form) and why it is not '
        'enough"',
        'non_ai_alternative: "Canned replies by category: tried in 2025, covered 30% of tickets"',
    ),
    "traffic": (
        "expected_requests_per_day: null     # TODO: requests a day at full rollout, e.g. 2000",
        "expected_requests_per_day: 2000",
    ),
    "ceiling": (
        "cost_ceiling_usd_per_month: null    # TODO: the most it may cost a month; budgets.monthly_usd must "
        "not exceed it",
        "cost_ceiling_usd_per_month: 150",
    ),
    "dashboard": (
        'dashboard: "https://TODO.example.com/dashboards/helpdesk"   # TODO: the feature\'s monitoring dashboard',
        'dashboard: "https://grafana.acme.test/d/helpdesk"',
    ),
    "owner": (
        "name: TODO Owner Name\n      email: owner@example.com",
        "name: Ada Lovelace\n      email: ada@acme.test",
    ),
    "primary": (
        "name: TODO Primary\n        contact: primary@example.com",
        "name: Grace Hopper\n        contact: grace@acme.test",
    ),
    "secondary": (
        "name: TODO Secondary\n        contact: secondary@example.com",
        "name: Alan Turing\n        contact: alan@acme.test",
    ),
    "escalation": ("notify: TODO Secondary", "notify: Alan Turing"),
    "start_comment": ("# the day TODO Primary's first shift starts", "# Grace's first shift"),
    "cutover": (
        "cutover: 2026-01-05    # TODO: the day operations take the feature over",
        "cutover: 2026-01-05",
    ),
}

RUNBOOK_TODOS = {
    "provider-outage.md": "- TODO: name the person who may approve a switch to another vendor, and how to reach them.",
    "cost-spike.md": "TODO: name who approves budget changes.",
    "quality-regression.md": "TODO: name who signs off that quality is back to normal.",
}
RUNBOOK_DONE = "Ada Lovelace (ada@acme.test) approves it."


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, env={**os.environ, **GIT_ENV}
    )
    return done.stdout


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def scaffolded(root: Path) -> Path:
    """A fresh ``runwell init`` in a new git repository, committed; returns the spec path."""
    scaffold(FEATURE, root, provider="sim")
    git(root, "init", "-q", "-b", "main")
    commit(root, "runwell init")
    return root / "runwell.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def fill(root: Path, *, skip: tuple[str, ...] = ()) -> None:
    """Answer every blank of the scaffold (except ``skip``), add the CI gate, commit."""
    spec = root / "runwell.yaml"
    for name, (old, new) in FILLS.items():
        if name not in skip:
            edit(spec, old, new)
    for runbook, line in RUNBOOK_TODOS.items():
        text = (root / "runbooks" / runbook).read_text()
        (root / "runbooks" / runbook).write_text(re.sub(re.escape(line) + r"[^\n]*", RUNBOOK_DONE, text))
    workflow = root / ".github" / "workflows" / "evals.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(CI_WORKFLOW)
    commit(root, "fill in the readiness answers")

"""The GitHub Actions workflow in docs/examples/eval-gate.yml, run step by step on a real git repo.

The ``uses:`` steps (checkout, setup-python, upload) belong to GitHub; every ``run:`` step is
executed with bash as the runner would, with ``${{ ... }}`` filled in, on a sim project whose
base branch and pull request differ only in the champion's provider.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import write_project

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "docs" / "examples" / "eval-gate.yml"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _steps() -> list[tuple[str, str]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    steps = []
    for step in job["steps"]:
        if "run" not in step or "pip install" in step["run"]:
            continue  # GitHub's actions, and installing runwell (the test runs this checkout's)
        script = step["run"].replace("${{ github.base_ref }}", "main")
        steps.append((step.get("name", "run"), script))
    return steps


def _env(workspace: Path, runner_temp: Path) -> dict[str, str]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWELL_", "GITHUB_"))}
    for key, value in job.get("env", {}).items():
        env[key] = re.sub(r"\$\{\{ *github\.workspace *\}\}", str(workspace), str(value))
        env[key] = re.sub(r"\$\{\{ *secrets\.\w+ *\}\}", "", env[key])
    env["RUNNER_TEMP"] = str(runner_temp)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize(("pr_provider", "gate_exit"), [("same", 0), ("slight", 1)])
def test_the_documented_workflow_gates_a_pull_request(
    tmp_path: Path, pr_provider: str, gate_exit: int
) -> None:
    repo = tmp_path / "repo"
    providers = {"good": {}, "same": {}, "slight": {"wrong_rate": 0.12}}
    write_project(
        repo, providers=providers, variants={"champion": "good"}, gate={"alpha": 0.05, "floor": 0.7}
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")  # what actions/checkout fetches
    write_project(
        repo, providers=providers, variants={"champion": pr_provider}, gate={"alpha": 0.05, "floor": 0.7}
    )
    env = _env(repo, tmp_path / "runner-temp")
    (tmp_path / "runner-temp").mkdir()
    outcomes = []
    for name, script in _steps():
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outcomes.append((name, done.returncode, done.stderr[-2000:]))
    assert [(n, code) for n, code, _ in outcomes[:-1]] == [(n, 0) for n, _, _ in outcomes[:-1]], outcomes
    name, code, err = outcomes[-1]
    assert name == "Gate" and code == gate_exit, err
    assert (repo / "eval-gate.xml").is_file() and (repo / "eval-gate.md").is_file()
    verdict = "PASS" if gate_exit == 0 else "FAIL"
    assert f"**Verdict: {verdict}**" in (repo / "eval-gate.md").read_text()


def test_the_doc_shows_the_workflow_file_as_it_is() -> None:
    doc = (ROOT / "docs" / "evals.md").read_text()
    body = "\n".join(line for line in WORKFLOW.read_text().splitlines() if not line.startswith("#")) + "\n"
    assert f"```yaml\n{body}```" in doc

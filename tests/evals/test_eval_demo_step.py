"""``runwell demo``'s eval step: champion vs challenger on the scaffolded eval set, real local model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from runwell.cli._eval_demo import compare_champion_challenger
from runwell.evals.runstore import EvalRunStore
from runwell.spec.scaffold import scaffold


@pytest.mark.slow
def test_the_demo_step_runs_compares_and_gates_both_variants(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    scaffold("ticket-summary", project, provider="local")
    out = io.StringIO()
    compare_champion_challenger(Console(file=out, width=200), project / "runwell.yaml", step=5)
    text = out.getvalue()
    store = EvalRunStore.open(None, base_dir=project)
    runs = store.list_runs()
    stats = store.stats([r.run_id for r in runs])
    store.close()
    assert sorted(r.variant for r in runs) == ["challenger", "champion"]
    assert all(r.status == "complete" and stats[r.run_id].results == 10 for r in runs)
    assert all(r.run_id in text for r in runs)
    assert "exact McNemar" in text and ("gate: PASS" in text or "gate: FAIL (" in text)
    assert "runwell eval compare champion challenger" in text

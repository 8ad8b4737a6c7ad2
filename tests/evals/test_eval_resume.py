"""Interrupted runs keep what finished, and ``--resume`` runs only the missing (case, repeat) pairs."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runwell.evals.execute import execute_run
from runwell.evals.plan import build_plan
from runwell.evals.runner import RunSettings
from runwell.evals.runstore import CaseRepeat, EvalRunStore
from runwell.spec.loader import load_spec

from .conftest import QUESTIONS, MakeProject
from .test_eval_runner import counted

SLOW = {"good": {"latency_ms": {"p50": 40}}}


async def test_a_cancelled_run_is_interrupted_and_resume_runs_only_the_missing_pairs(
    make_project: MakeProject, tmp_path: Path
) -> None:
    spec = load_spec(make_project(providers=SLOW))
    store = EvalRunStore.open(None, base_dir=tmp_path)
    plan, seen = build_plan(spec), []
    first = counted(plan)

    def on_result(result: CaseRepeat) -> None:
        seen.append(result)
        if len(seen) == 25:
            task.cancel()  # what Ctrl-C does to the running command

    task = asyncio.ensure_future(
        execute_run(plan, store, RunSettings(repeat=2, concurrency=4), on_result=on_result)
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    await plan.aclose()
    (run,) = store.list_runs()
    assert run.status == "interrupted"
    stored = store.done_pairs(run.run_id)
    assert len(stored) == len(seen) >= 25  # every finished result was flushed, none invented

    again = build_plan(spec)
    second = counted(again)
    resumed = await execute_run(again, store, RunSettings(concurrency=4), resume=run)
    await again.aclose()
    assert resumed.status == "complete" and resumed.repeats == 2
    results = store.results(run.run_id)
    pairs = [(r.case_id, r.repeat_index) for r in results]
    assert len(pairs) == len(set(pairs)) == 2 * len(QUESTIONS)
    assert second.calls == 2 * len(QUESTIONS) - len(stored)  # nothing already stored was asked again
    assert first.calls - len(stored) <= 4  # only the calls in flight at the interrupt were lost
    store.close()


def _spawn(spec: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("RUNWELL_DB", None)
    return subprocess.Popen(
        [sys.executable, "-m", "runwell", "eval", "run", "--spec", str(spec), "--no-progress", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM eval_results").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # not migrated yet


def _wait_for_results(db: Path, at_least: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while _count(db) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run stored no results in 30 s"
        time.sleep(0.02)


def _run_row(db: Path) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT run_id, status FROM eval_runs").fetchone()
    return str(row[0]), str(row[1])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_marks_the_run_interrupted_and_says_how_to_resume(
    make_project: MakeProject, sig: signal.Signals
) -> None:
    spec = make_project(providers=SLOW)
    db = spec.parent / ".runwell" / "runwell.db"
    proc = _spawn(spec, "--concurrency", "2")
    _wait_for_results(db, 6, proc)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=30)
    run_id, status = _run_row(db)
    assert proc.returncode == 130, err
    assert status == "interrupted"
    assert f"runwell eval run --resume {run_id}" in err
    done = _count(db)
    assert 6 <= done < len(QUESTIONS)

    resumed = _spawn(spec, "--resume", run_id[:6])
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert f"{len(QUESTIONS) - done} of {len(QUESTIONS)} calls to make" in err
    assert f"eval run {run_id} complete" in out
    assert _count(db) == len(QUESTIONS) and _run_row(db)[1] == "complete"


def test_a_killed_run_stays_running_and_resumes_from_what_it_stored(make_project: MakeProject) -> None:
    spec = make_project(providers=SLOW)
    db = spec.parent / ".runwell" / "runwell.db"
    proc = _spawn(spec, "--concurrency", "2", "--repeat", "2")
    _wait_for_results(db, 10, proc)
    proc.kill()
    proc.communicate(timeout=30)
    run_id, status = _run_row(db)
    assert status == "running"  # nobody could mark it: --resume accepts it all the same
    resumed = _spawn(spec, "--resume", run_id)
    _out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    with sqlite3.connect(db) as conn:
        pairs = conn.execute("SELECT case_id, repeat_index FROM eval_results").fetchall()
    assert len(pairs) == len(set(pairs)) == 2 * len(QUESTIONS)


def test_resuming_a_complete_run_or_a_changed_dataset_is_refused(make_project: MakeProject) -> None:
    spec = make_project()
    done = _spawn(spec)
    done.communicate(timeout=60)
    run_id, _ = _run_row(spec.parent / ".runwell" / "runwell.db")
    again = _spawn(spec, "--resume", run_id)
    _out, err = again.communicate(timeout=60)
    assert again.returncode == 2 and "already complete" in err
    with sqlite3.connect(spec.parent / ".runwell" / "runwell.db") as conn:
        conn.execute("UPDATE eval_runs SET status = 'interrupted'")
    (spec.parent / "evals" / "qa.jsonl").write_text(
        '{"id": "new", "input": "question 1?", "reference": "x"}\n'
    )
    changed = _spawn(spec, "--resume", run_id)
    _out, err = changed.communicate(timeout=60)
    assert changed.returncode == 2 and "changed since eval run" in err and "start a new run" in err

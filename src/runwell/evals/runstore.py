"""Stored eval runs: one row per run, one per (case, repeat) result as it completes.

Runs live in the project's record store (the same database as request records; tables
``eval_runs`` and ``eval_results`` from migration 4), so ``--db`` means the same thing for
``runwell serve``, ``runwell requests`` and ``runwell eval``. A run's status is ``running``
while it executes, ``complete`` when every (case, repeat) pair has a result, ``interrupted``
when it was stopped; a killed process leaves ``running`` behind, which ``--resume`` accepts.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from runwell.errors import ConfigError
from runwell.evals.compare import CaseResult, RunResult
from runwell.evals.stats import mean
from runwell.store import Database

__all__ = ["MIN_RUN_PREFIX", "CaseRepeat", "EvalRun", "EvalRunStore", "RunStats", "RunStatus"]

RunStatus = Literal["running", "complete", "interrupted"]
MIN_RUN_PREFIX = 4
"""Shortest run-id prefix :meth:`EvalRunStore.get_run` resolves."""

_RUN_COLUMNS = (
    "run_id, feature, variant, provider, model, spec_version, prompt_version, suite, dataset_name, "
    "dataset_hash, case_count, repeats, scorers, started_at, finished_at, status"
)
_RESULT_COLUMNS = (
    "run_id, case_id, repeat_index, tags, output, score, passed, scores, latency_ms, input_tokens, "
    "output_tokens, cost_usd, error, created_at"
)
_RUN_ID = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True, slots=True)
class EvalRun:
    """What was evaluated, on what, and how far the run got."""

    run_id: str
    feature: str
    variant: str
    provider: str | None
    model: str | None
    spec_version: str | None
    prompt_version: str | None
    suite: str
    dataset_name: str
    dataset_hash: str
    case_count: int
    repeats: int
    scorers: list[dict[str, Any]]
    started_at: float
    finished_at: float | None = None
    status: RunStatus = "running"

    @property
    def expected_results(self) -> int:
        """How many (case, repeat) results a complete run holds."""
        return self.case_count * self.repeats

    @staticmethod
    def new_id() -> str:
        """A fresh run id: 12 hex characters (any unique prefix of 4+ selects it)."""
        return secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class CaseRepeat:
    """One repeat of one case: the output, its combined and per-scorer scores, and the cost.

    ``score``/``passed`` combine the scorers (mean of scores; passed when every scorer that gives
    a verdict passed, ``None`` when none does). A failed call or scorer leaves ``score`` ``None``
    and says why in ``error``; comparisons count that repeat as score 0, failed.
    """

    case_id: str
    repeat_index: int
    tags: tuple[str, ...] = ()
    output: str | None = None
    score: float | None = None
    passed: bool | None = None
    scores: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    error: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class RunStats:
    """Aggregates of one run's stored results."""

    results: int
    errors: int
    mean_score: float | None
    pass_rate: float | None
    cost_usd: float | None


def _run_row(run: EvalRun) -> tuple[Any, ...]:
    return (
        run.run_id,
        run.feature,
        run.variant,
        run.provider,
        run.model,
        run.spec_version,
        run.prompt_version,
        run.suite,
        run.dataset_name,
        run.dataset_hash,
        run.case_count,
        run.repeats,
        orjson.dumps(run.scorers).decode(),
        run.started_at,
        run.finished_at,
        run.status,
    )


def _run_from_row(row: Sequence[Any]) -> EvalRun:
    values = list(row)
    values[12] = orjson.loads(values[12])
    return EvalRun(*values)


def _result_row(run_id: str, r: CaseRepeat) -> tuple[Any, ...]:
    return (
        run_id,
        r.case_id,
        r.repeat_index,
        orjson.dumps(list(r.tags)).decode(),
        r.output,
        r.score,
        r.passed,
        orjson.dumps(r.scores).decode(),
        r.latency_ms,
        r.input_tokens,
        r.output_tokens,
        r.cost_usd,
        r.error,
        r.created_at or time.time(),
    )


def _result_from_row(row: Sequence[Any]) -> CaseRepeat:
    (_run, case_id, index, tags, output, score, passed, scores, latency, tin, tout, cost, error, at) = row
    return CaseRepeat(
        case_id,
        int(index),
        tuple(orjson.loads(tags)),
        output,
        score,
        None if passed is None else bool(passed),
        orjson.loads(scores),
        latency,
        tin,
        tout,
        cost,
        error,
        float(at),
    )


class EvalRunStore:
    """Eval runs and their results in the project's record store (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, *, owns_db: bool = False) -> None:
        self._db = db
        self._owns_db = owns_db
        self.url = db.url

    @classmethod
    def open(cls, url: str | None, *, base_dir: Path) -> EvalRunStore:
        """Open the store ``--db`` names (the project's SQLite file by default), migrating it."""
        db = Database.open(url, base_dir=base_dir)
        if db.dialect == "sqlite" and db.url.endswith(":memory:"):
            db.close()
            raise ConfigError("eval runs need a database that outlives the command: use a file or PostgreSQL")
        return cls(db, owns_db=True)

    @property
    def db(self) -> Database:
        """The database the runs live in (the eval history shares it)."""
        return self._db

    def close(self) -> None:
        """Release the database if this store opened it."""
        if self._owns_db:
            self._db.close()

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.query(sql, params, action="read eval runs")

    # --- writing ---------------------------------------------------------------------------

    def create_run(self, run: EvalRun) -> None:
        """Store a new run (status ``running``)."""
        marks = ", ".join("?" for _ in range(16))
        with self._db.transaction(f"create eval run {run.run_id}") as tx:
            tx.execute(f"INSERT INTO eval_runs ({_RUN_COLUMNS}) VALUES ({marks})", _run_row(run))

    def add_results(self, run_id: str, results: Sequence[CaseRepeat]) -> None:
        """Store results in one transaction; a (case, repeat) stored twice is an error, not a merge."""
        if not results:
            return
        marks = ", ".join("?" for _ in range(14))
        rows = [_result_row(run_id, r) for r in results]
        with self._db.transaction(f"store {len(rows)} results of eval run {run_id}") as tx:
            tx.executemany(f"INSERT INTO eval_results ({_RESULT_COLUMNS}) VALUES ({marks})", rows)

    def set_status(self, run_id: str, status: RunStatus) -> None:
        """Mark the run ``status``; ``complete`` and ``interrupted`` also stamp ``finished_at``."""
        finished = None if status == "running" else time.time()
        with self._db.transaction(f"mark eval run {run_id} {status}") as tx:
            tx.execute(
                "UPDATE eval_runs SET status = ?, finished_at = ? WHERE run_id = ?",
                (status, finished, run_id),
            )

    def delete_errors(self, run_id: str) -> int:
        """Forget the results that ended in an error (so a resume runs them again); returns how many."""
        with self._db.transaction(f"delete errored results of eval run {run_id}") as tx:
            return tx.execute("DELETE FROM eval_results WHERE run_id = ? AND error IS NOT NULL", (run_id,))

    # --- reading ---------------------------------------------------------------------------

    def get_run(self, ref: str) -> EvalRun:
        """The run with this id or unique id prefix (4+ characters); ConfigError otherwise."""
        ref = ref.strip().lower()
        rows = self._q(f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE run_id = ?", (ref,))
        if not rows and len(ref) >= MIN_RUN_PREFIX and _RUN_ID.fullmatch(ref):
            rows = self._q(
                f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE run_id LIKE ? ORDER BY run_id LIMIT 2",
                (ref + "%",),
            )
        if not rows:
            raise ConfigError(f"no eval run {ref!r} in {self.url}; see 'runwell eval list' for run ids")
        if len(rows) > 1:
            raise ConfigError(
                f"run id prefix {ref!r} matches several runs in {self.url}; give more characters"
            )
        return _run_from_row(rows[0])

    def list_runs(
        self, *, feature: str | None = None, variant: str | None = None, limit: int = 20
    ) -> list[EvalRun]:
        """The newest ``limit`` runs, newest first; optionally of one feature / variant."""
        clauses, params = _filters(feature=feature, variant=variant)
        rows = self._q(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs{clauses} ORDER BY started_at DESC, run_id LIMIT ?",
            (*params, limit),
        )
        return [_run_from_row(r) for r in rows]

    def latest_complete(
        self, feature: str, variant: str, *, dataset_hash: str | None = None
    ) -> EvalRun | None:
        """The newest complete run of ``feature``/``variant`` (on ``dataset_hash`` when given)."""
        clauses, params = _filters(
            feature=feature, variant=variant, dataset_hash=dataset_hash, status="complete"
        )
        rows = self._q(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs{clauses} ORDER BY started_at DESC, run_id LIMIT 1", params
        )
        return _run_from_row(rows[0]) if rows else None

    def results(self, run_id: str) -> list[CaseRepeat]:
        """Every stored result of the run, by case id then repeat."""
        rows = self._q(
            f"SELECT {_RESULT_COLUMNS} FROM eval_results WHERE run_id = ? ORDER BY case_id, repeat_index",
            (run_id,),
        )
        return [_result_from_row(r) for r in rows]

    def done_pairs(self, run_id: str) -> set[tuple[str, int]]:
        """The (case id, repeat index) pairs that already have a result."""
        rows = self._q("SELECT case_id, repeat_index FROM eval_results WHERE run_id = ?", (run_id,))
        return {(str(c), int(i)) for c, i in rows}

    def stats(self, run_ids: Sequence[str]) -> dict[str, RunStats]:
        """Aggregates per run (runs without results are absent)."""
        if not run_ids:
            return {}
        marks = ", ".join("?" for _ in run_ids)
        rows = self._q(
            "SELECT run_id, count(*), sum(CASE WHEN error IS NULL THEN 0 ELSE 1 END), avg(score), "
            "avg(CASE WHEN passed THEN 1.0 WHEN passed IS NULL THEN NULL ELSE 0.0 END), sum(cost_usd), "
            f"sum(CASE WHEN error IS NULL AND cost_usd IS NULL THEN 1 ELSE 0 END) "
            f"FROM eval_results WHERE run_id IN ({marks}) GROUP BY run_id",
            tuple(run_ids),
        )
        return {
            str(rid): RunStats(
                int(n), int(errors), _float(score), _float(rate), None if unpriced else _float(cost)
            )
            for rid, n, errors, score, rate, cost, unpriced in rows
        }

    def run_result(self, run: EvalRun) -> RunResult:
        """The run as the comparison core reads it: one :class:`CaseResult` per case."""
        return to_run_result(run, self.results(run.run_id))


def to_run_result(run: EvalRun, results: Sequence[CaseRepeat]) -> RunResult:
    """Group stored repeats by case; a repeat that errored counts as score 0, failed."""
    by_case: dict[str, list[CaseRepeat]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    cases = []
    for case_id, repeats in by_case.items():
        repeats.sort(key=lambda r: r.repeat_index)
        errored = [r for r in repeats if r.score is None]
        latencies = [r.latency_ms for r in repeats if r.latency_ms is not None]
        costs = [r.cost_usd for r in repeats if r.latency_ms is not None]  # repeats that got an answer
        cases.append(
            CaseResult(
                case_id=case_id,
                tags=list(repeats[0].tags),
                outputs=[r.output or "" for r in repeats],
                scores=[0.0 if r.score is None else r.score for r in repeats],
                passed=[False if r.score is None else r.passed for r in repeats],
                latency_ms=mean(latencies) if latencies else None,
                input_tokens=sum(r.input_tokens or 0 for r in repeats),
                output_tokens=sum(r.output_tokens or 0 for r in repeats),
                cost_usd=None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
                error=errored[0].error if errored else None,
            )
        )
    return RunResult(run.run_id, run.variant, run.spec_version, run.dataset_hash, cases)


def _float(value: Any) -> float | None:
    """PostgreSQL aggregates may come back as Decimal."""
    return None if value is None else float(value)


def _filters(**wanted: str | None) -> tuple[str, tuple[Any, ...]]:
    given = [(k, v) for k, v in wanted.items() if v is not None]
    if not given:
        return "", ()
    return " WHERE " + " AND ".join(f"{k} = ?" for k, _ in given), tuple(v for _, v in given)

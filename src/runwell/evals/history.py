"""Eval history: every gated comparison is kept, and promoted runs are the champion's baseline.

Two tables from migration 12, in the same record store as the runs:

- ``eval_gates``: one row per ``runwell eval compare --gate``: which runs, on which dataset, the
  candidate's mean score and pass rate, passed or not, and every check's status and message.
- ``eval_promotions``: the runs promoted to champion baseline (``runwell eval promote RUN``, or
  ``compare --gate --promote`` when the gate passes), with their mean score and pass rate as the
  comparison reads them.

The **last promoted run** on a dataset is the default baseline of a comparison, and its mean
score the default pinned score (instead of a number typed into the spec); the **promoted series**
(oldest first) is what the trend test looks at, so a slow slide that no single gate caught shows.
The clock is injectable so tests can lay out a history in time.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from runwell.errors import ConfigError
from runwell.evals.gate import GateResult
from runwell.evals.runstore import EvalRun
from runwell.store import Database

__all__ = ["EvalHistory", "GateRecord", "Promotion"]

_GATE_COLUMNS = (
    "gate_id, feature, suite, dataset_hash, baseline_run_id, candidate_run_id, passed, candidate_mean, "
    "candidate_pass_rate, failures, checks, created_at"
)
_PROMOTION_COLUMNS = (
    "run_id, feature, variant, dataset_hash, mean_score, pass_rate, gate_id, reason, promoted_at"
)


@dataclass(frozen=True, slots=True)
class GateRecord:
    """One gated comparison as it was decided."""

    gate_id: str
    feature: str
    suite: str
    dataset_hash: str
    baseline_run_id: str
    candidate_run_id: str
    passed: bool
    candidate_mean: float
    candidate_pass_rate: float
    failures: list[str]
    checks: list[dict[str, str]]
    created_at: float


@dataclass(frozen=True, slots=True)
class Promotion:
    """A run promoted to champion baseline."""

    run_id: str
    feature: str
    variant: str
    dataset_hash: str
    mean_score: float
    pass_rate: float
    gate_id: str | None
    reason: str
    promoted_at: float


def _gate_from_row(row: Sequence[Any]) -> GateRecord:
    gid, feature, suite, dhash, base, cand, passed, mean, rate, failures, checks, at = row
    return GateRecord(
        gid,
        feature,
        suite,
        dhash,
        base,
        cand,
        bool(passed),
        float(mean),
        float(rate),
        orjson.loads(failures),
        orjson.loads(checks),
        float(at),
    )


def _promotion_from_row(row: Sequence[Any]) -> Promotion:
    run_id, feature, variant, dhash, mean, rate, gate_id, reason, at = row
    return Promotion(run_id, feature, variant, dhash, float(mean), float(rate), gate_id, reason, float(at))


class EvalHistory:
    """Gate decisions and promotions in the record store (SQLite or PostgreSQL)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db, self._clock = db, clock

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.query(sql, params, action="read eval history")

    def record_gate(
        self,
        run: EvalRun,
        baseline_run_id: str,
        gate: GateResult,
        *,
        candidate_mean: float,
        candidate_pass_rate: float,
    ) -> GateRecord:
        """Keep the decision of a gated comparison of ``run`` (the candidate)."""
        record = GateRecord(
            gate_id=secrets.token_hex(6),
            feature=run.feature,
            suite=run.suite,
            dataset_hash=run.dataset_hash,
            baseline_run_id=baseline_run_id,
            candidate_run_id=run.run_id,
            passed=gate.passed,
            candidate_mean=candidate_mean,
            candidate_pass_rate=candidate_pass_rate,
            failures=[f.kind for f in gate.failures],
            checks=[{"kind": c.kind, "status": c.status, "message": c.message} for c in gate.checks],
            created_at=self._clock(),
        )
        marks = ", ".join("?" for _ in range(12))
        with self._db.transaction(f"record eval gate of run {run.run_id}") as tx:
            tx.execute(
                f"INSERT INTO eval_gates ({_GATE_COLUMNS}) VALUES ({marks})",
                (
                    record.gate_id,
                    record.feature,
                    record.suite,
                    record.dataset_hash,
                    record.baseline_run_id,
                    record.candidate_run_id,
                    record.passed,
                    record.candidate_mean,
                    record.candidate_pass_rate,
                    orjson.dumps(record.failures).decode(),
                    orjson.dumps(record.checks).decode(),
                    record.created_at,
                ),
            )
        return record

    def promote(
        self,
        run: EvalRun,
        *,
        mean_score: float,
        pass_rate: float,
        reason: str,
        gate_id: str | None = None,
    ) -> Promotion:
        """Promote a complete run to champion baseline of its feature and dataset."""
        if run.status != "complete":
            raise ConfigError(
                f"eval run {run.run_id} is {run.status}; only a complete run can be promoted "
                f"(finish it with 'runwell eval run --resume {run.run_id}')"
            )
        if self.promotion(run.run_id) is not None:
            raise ConfigError(f"eval run {run.run_id} is already promoted")
        promotion = Promotion(
            run.run_id,
            run.feature,
            run.variant,
            run.dataset_hash,
            mean_score,
            pass_rate,
            gate_id,
            reason,
            self._clock(),
        )
        marks = ", ".join("?" for _ in range(9))
        with self._db.transaction(f"promote eval run {run.run_id}") as tx:
            tx.execute(
                f"INSERT INTO eval_promotions ({_PROMOTION_COLUMNS}) VALUES ({marks})",
                (
                    promotion.run_id,
                    promotion.feature,
                    promotion.variant,
                    promotion.dataset_hash,
                    promotion.mean_score,
                    promotion.pass_rate,
                    promotion.gate_id,
                    promotion.reason,
                    promotion.promoted_at,
                ),
            )
        return promotion

    def promotion(self, run_id: str) -> Promotion | None:
        """The promotion of this run, if it was promoted."""
        rows = self._q(f"SELECT {_PROMOTION_COLUMNS} FROM eval_promotions WHERE run_id = ?", (run_id,))
        return _promotion_from_row(rows[0]) if rows else None

    def promoted(self, feature: str, dataset_hash: str, *, limit: int = 10) -> list[Promotion]:
        """The last ``limit`` promotions of ``feature`` on ``dataset_hash``, oldest first."""
        rows = self._q(
            f"SELECT {_PROMOTION_COLUMNS} FROM eval_promotions WHERE feature = ? AND dataset_hash = ? "
            "ORDER BY promoted_at DESC, run_id DESC LIMIT ?",
            (feature, dataset_hash, limit),
        )
        return [_promotion_from_row(r) for r in reversed(rows)]

    def last_promoted(self, feature: str, dataset_hash: str | None = None) -> Promotion | None:
        """The most recent promotion of ``feature`` (on ``dataset_hash`` when given)."""
        where, params = "feature = ?", [feature]
        if dataset_hash is not None:
            where, params = where + " AND dataset_hash = ?", [*params, dataset_hash]
        rows = self._q(
            f"SELECT {_PROMOTION_COLUMNS} FROM eval_promotions WHERE {where} "
            "ORDER BY promoted_at DESC, run_id DESC LIMIT 1",
            params,
        )
        return _promotion_from_row(rows[0]) if rows else None

    def gates(self, feature: str, *, dataset_hash: str | None = None, limit: int = 20) -> list[GateRecord]:
        """The newest ``limit`` gate decisions of ``feature``, newest first."""
        where, params = "feature = ?", [feature]
        if dataset_hash is not None:
            where, params = where + " AND dataset_hash = ?", [*params, dataset_hash]
        rows = self._q(
            f"SELECT {_GATE_COLUMNS} FROM eval_gates WHERE {where} ORDER BY created_at DESC, gate_id LIMIT ?",
            (*params, limit),
        )
        return [_gate_from_row(r) for r in rows]

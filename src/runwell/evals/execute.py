"""Run (or resume) a stored eval run: the runner's results go to the store as they complete.

Results are written in batches by one writer task, off the event loop (``asyncio.to_thread``),
so a slow disk never holds up the calls. If the run is cancelled (Ctrl-C, SIGTERM), the writer
flushes every result that completed, the run is marked ``interrupted``, and the cancellation
goes on; ``--resume`` later runs only the (case, repeat) pairs without a result, so no pair is
ever run twice into the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from runwell.errors import ConfigError, StoreError
from runwell.evals.plan import EvalPlan
from runwell.evals.runner import Runner, RunSettings, Target
from runwell.evals.runstore import CaseRepeat, EvalRun, EvalRunStore

__all__ = ["RunProgress", "check_resumable", "execute_run", "new_run"]


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Told once before the first call: how many pairs the run has, and how many are left."""

    run: EvalRun
    total: int
    todo: int


def new_run(plan: EvalPlan, settings: RunSettings) -> EvalRun:
    """The run record for evaluating ``plan`` with ``settings`` (not stored yet)."""
    variant = plan.variant
    return EvalRun(
        run_id=EvalRun.new_id(),
        feature=plan.feature,
        variant=variant.name,
        provider=variant.provider.name,
        model=variant.model,
        spec_version=plan.spec_version,
        prompt_version=variant.prompt_version,
        suite=plan.suite,
        dataset_name=plan.dataset.name,
        dataset_hash=plan.dataset.content_hash,
        case_count=len(plan.dataset),
        repeats=settings.repeat,
        scorers=plan.scorer_configs,
        started_at=time.time(),
    )


def check_resumable(run: EvalRun, plan: EvalPlan) -> list[str]:
    """Refuse a resume that would mix two different evaluations; return warnings worth showing."""
    if run.status == "complete":
        raise ConfigError(f"eval run {run.run_id} is already complete; nothing to resume")
    if run.feature != plan.feature:
        raise ConfigError(
            f"eval run {run.run_id} is of feature {run.feature!r}, not {plan.feature!r}; "
            "pass the --spec it ran with"
        )
    if run.dataset_hash != plan.dataset.content_hash:
        raise ConfigError(
            f"the dataset of suite {run.suite!r} changed since eval run {run.run_id} started "
            f"({run.dataset_hash[:12]} -> {plan.dataset.content_hash[:12]}); start a new run instead"
        )
    if run.scorers != plan.scorer_configs:
        raise ConfigError(
            f"the scorers of suite {run.suite!r} changed since eval run {run.run_id} "
            "started; start a new run instead"
        )
    warnings = []
    if run.prompt_version != plan.variant.prompt_version:
        warnings.append(
            f"prompt version changed since the run started ({run.prompt_version} -> "
            f"{plan.variant.prompt_version}): resumed cases use the new prompt"
        )
    if run.spec_version != plan.spec_version:
        warnings.append(
            f"spec version changed since the run started ({run.spec_version} -> {plan.spec_version})"
        )
    return warnings


class _Writer:
    """Batches results to the store from one task; ``close`` flushes what is left."""

    def __init__(self, store: EvalRunStore, run_id: str) -> None:
        self._store, self._run_id = store, run_id
        self._pending: list[CaseRepeat] = []
        self._wake = asyncio.Event()
        self._inflight: asyncio.Future[None] | None = None
        self._task = asyncio.create_task(self._loop())
        self.written = 0

    def put(self, result: CaseRepeat) -> None:
        if self._task.done():
            self._task.result()  # the writer failed: raise its error in the runner
            raise StoreError(f"the eval result writer stopped; results of run {self._run_id} are not stored")
        self._pending.append(result)
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._drain()

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            # Shielded: a cancelled run still finishes writing the batch it started.
            self._inflight = asyncio.ensure_future(
                asyncio.to_thread(self._store.add_results, self._run_id, batch)
            )
            await asyncio.shield(self._inflight)
            self._inflight = None
            self.written += len(batch)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._inflight is not None:
            await self._inflight
            self._inflight = None
        await self._drain()


async def execute_run(
    plan: EvalPlan,
    store: EvalRunStore,
    settings: RunSettings,
    *,
    resume: EvalRun | None = None,
    retry_errors: bool = False,
    on_start: Callable[[RunProgress], None] | None = None,
    on_result: Callable[[CaseRepeat], None] | None = None,
) -> EvalRun:
    """Run ``plan`` into a new stored run, or the missing pairs of ``resume``; return the run.

    A resumed run keeps its own repeat count (``settings.repeat`` is ignored for it). Concurrency
    is capped at the provider's slots when it has a fixed number (a local model's ``parallel``).
    """
    if resume is not None:
        check_resumable(resume, plan)
        run = resume
        if retry_errors:
            await asyncio.to_thread(store.delete_errors, run.run_id)
        done = await asyncio.to_thread(store.done_pairs, run.run_id)
        await asyncio.to_thread(store.set_status, run.run_id, "running")
    else:
        run, done = new_run(plan, settings), set()
        await asyncio.to_thread(store.create_run, run)
    # Repeat-major: an interrupted K-repeat run has whole passes over the dataset first.
    pairs = [(case, i) for i in range(run.repeats) for case in plan.dataset if (case.id, i) not in done]
    if on_start is not None:
        on_start(RunProgress(run, run.expected_results, len(pairs)))
    writer = _Writer(store, run.run_id)

    def deliver(result: CaseRepeat) -> None:
        writer.put(result)
        if on_result is not None:
            on_result(result)

    if plan.slots is not None and settings.concurrency > plan.slots:
        settings = replace(settings, concurrency=plan.slots)
    target = Target(plan.variant, plan.timeout_s, plan.prices)
    runner = Runner(target, plan.scorers, settings, deliver, case_tags=plan.case_tags)
    try:
        await runner.run(pairs)
        await writer.close()
    except BaseException as exc:
        await _stop(store, writer, run, exc)
        raise
    await asyncio.to_thread(store.set_status, run.run_id, "complete")
    return await asyncio.to_thread(store.get_run, run.run_id)


async def _stop(store: EvalRunStore, writer: _Writer, run: EvalRun, cause: BaseException) -> None:
    """Keep what completed and mark the run interrupted; a failure here is noted on ``cause``."""
    try:
        await writer.close()
    except StoreError as exc:
        cause.add_note(f"also, results of run {run.run_id} could not all be stored: {exc}")
    try:
        await asyncio.to_thread(store.set_status, run.run_id, "interrupted")
    except StoreError as exc:
        cause.add_note(f"also, run {run.run_id} could not be marked interrupted: {exc}")

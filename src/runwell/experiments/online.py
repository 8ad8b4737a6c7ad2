"""Online evaluation: the eval harness's scorers on a sampled share of live answers, in the background.

:meth:`OnlineScorer.offer` is called for every finished request (served answers and shadow copies):
it samples ``rollout.online_eval.sample_rate`` of them by a hash of the request id (the same share on
every replica) and queues the answer, never blocking; a full queue drops the answer and counts the
drop. A background job (:meth:`OnlineScorer.work`) scores what is queued with the spec's scorers,
the same code ``runwell eval run`` uses (:func:`runwell.evals.scorers.build_scorer`), at most
``max_concurrency`` at a time, and stores one row per answer and scorer in the ``scores`` table,
keyed by the request id, so the score is attached to the request record.

Live answers have no reference answer: scorers that need one (``exact``, ``numeric``, ``semantic``,
a ``contains`` without its own texts) cannot score them; such a scorer is switched off for the
feature at its first refusal, with one log line naming it. LLM judges are allowed: ``judge:
VARIANT`` (or ``{variant: NAME}``) grades with that variant's provider, model and parameters; the
judge sees the redacted conversation and the answer, as data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runwell.catalog import FeatureRuntime
from runwell.errors import ConfigError, ProviderError
from runwell.evals.dataset import Case
from runwell.evals.scorers import Judge, Scorer, build_scorer
from runwell.gateway.context import RequestContext
from runwell.providers.base import ChatRequest
from runwell.rollout.assign import bucket
from runwell.spec.experiments import OnlineEval
from runwell.store import Database

__all__ = ["OnlineScorer", "build_online_scorers"]

_log = logging.getLogger("runwell.experiments")
_BATCH = 64


@dataclass(frozen=True, slots=True)
class _Answer:
    feature: str
    request_id: str
    variant: str | None
    messages: list[dict[str, Any]]
    content: str


def _variant_judge(feature: FeatureRuntime, ref: Any) -> Judge:
    name = ref if isinstance(ref, str) else ref.get("variant") if isinstance(ref, dict) else None
    if not isinstance(name, str) or name not in feature.variants:
        raise ConfigError(
            f"an online llm_judge needs `judge: VARIANT` naming one of "
            f"{', '.join(sorted(feature.variants))}, got {ref!r}"
        )
    variant = feature.variants[name]
    timeout = feature.request_timeout_s

    async def judge(messages: list[dict[str, str]]) -> str:
        request = ChatRequest(variant.model, messages=list(messages), params=dict(variant.params))
        result = await variant.provider.complete(request, timeout=timeout)
        return result.content or ""

    return judge


def build_online_scorers(feature: FeatureRuntime, configs: Sequence[Mapping[str, Any]]) -> list[Scorer]:
    """The feature's online scorers, built by the eval harness; ConfigError names a bad one.

    ``semantic`` scorers get the local all-MiniLM-L6-v2 embedder (the ``embeddings`` extra)."""
    scorers: list[Scorer] = []
    for i, config in enumerate(configs, start=1):
        options = dict(config)
        judge = embedder = None
        try:
            if options.get("type") == "llm_judge":
                judge = _variant_judge(feature, options.pop("judge", None))
                options.setdefault("include_reference", False)
            if options.get("type") == "semantic":
                from runwell.evals.embeddings import LocalMiniLM, local_model_files

                options.pop("embedder", None)
                local_model_files()  # fail at start-up, naming the extra to install
                embedder = LocalMiniLM()
            scorers.append(build_scorer(options, embedder=embedder, judge=judge))
        except ConfigError as exc:
            raise ConfigError(
                f"feature {feature.name}: rollout.online_eval.scorers[{i}] ({config.get('type')}): {exc}"
            ) from exc
    return scorers


class OnlineScorer:
    """Samples, queues and scores live answers; see the module docstring."""

    def __init__(
        self,
        db: Database,
        scorers: Mapping[str, Sequence[Scorer]],
        policies: Mapping[str, OnlineEval],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._scorers = {f: list(s) for f, s in scorers.items() if s}
        self._policies = dict(policies)
        self._clock = clock
        self._queue: deque[_Answer] = deque()
        self._limit = max((p.max_queue for p in policies.values()), default=1)
        self._concurrency = max((p.max_concurrency for p in policies.values()), default=1)
        self.scored = 0
        self.dropped = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        """Whether any feature samples its answers."""
        return any(self._policies[f].sample_rate > 0 for f in self._scorers)

    def offer(self, ctx: RequestContext) -> None:
        """Queue ``ctx``'s answer if it is sampled (never blocks)."""
        feature = ctx.feature
        if feature is None or ctx.status != "ok" or not isinstance(ctx.content, str) or not ctx.content:
            return
        policy = self._policies.get(feature.name)
        if policy is None or feature.name not in self._scorers or policy.sample_rate <= 0:
            return
        if bucket(ctx.request_id, f"online/{feature.name}") >= policy.sample_rate * 100.0:
            return
        if len(self._queue) >= self._limit:
            self.dropped += 1
            return
        variant = ctx.variant.name if ctx.variant is not None else None
        messages = list(ctx.redacted or [])
        self._queue.append(_Answer(feature.name, ctx.request_id, variant, messages, ctx.content))

    async def work(self) -> None:
        """Score what is queued (the background job's tick) and store the scores."""
        gate = asyncio.Semaphore(self._concurrency)

        async def score(answer: _Answer) -> list[tuple[Any, ...]]:
            async with gate:
                return await self._score(answer)

        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(_BATCH, len(self._queue)))]
            results = await asyncio.gather(*(score(a) for a in batch))
            rows = [row for rows in results for row in rows]
            if rows:
                await asyncio.to_thread(self._write, rows)

    async def _score(self, answer: _Answer) -> list[tuple[Any, ...]]:
        case = Case(
            id=answer.request_id, messages=answer.messages or None, variables=None if answer.messages else {}
        )
        rows: list[tuple[Any, ...]] = []
        for scorer in list(self._scorers.get(answer.feature, ())):
            try:
                score = await scorer.score(case, answer.content)
            except ConfigError as exc:
                _log.warning(
                    "online scorer %s of %s cannot score live answers (%s); it is off for this feature",
                    scorer.name,
                    answer.feature,
                    exc,
                )
                self._scorers[answer.feature] = [s for s in self._scorers[answer.feature] if s is not scorer]
                continue
            except (ProviderError, OSError, ValueError) as exc:
                self.failed += 1
                _log.warning("online scorer %s failed on request %s: %s", scorer.name, answer.request_id, exc)
                continue
            self.scored += 1
            rows.append(
                (
                    answer.request_id,
                    scorer.name,
                    answer.feature,
                    answer.variant,
                    score.value,
                    score.passed,
                    None if score.detail is None else score.detail[:500],
                    self._clock(),
                )
            )
        return rows

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        with self._db.transaction("store online scores") as tx:
            for row in rows:
                tx.execute(
                    "INSERT INTO scores (request_id, scorer, feature, variant, score, passed, detail, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, scorer) DO NOTHING",
                    row,
                )

    def status(self) -> dict[str, Any]:
        """Queue depth and counters, for ``/readyz``."""
        return {
            "queued": len(self._queue),
            "scored": self.scored,
            "dropped": self.dropped,
            "failed": self.failed,
        }

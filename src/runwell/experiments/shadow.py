"""Shadow traffic: the candidate answers a sample of served requests, and nobody sees its answer.

The copy is scheduled after the served answer has gone out (the gateway's ``answered`` hook), as a
task of its own: the client never waits for it. Which requests are copied is a hash of the request
id (:func:`runwell.rollout.mirrored`), so every replica copies the same share. Each feature's
copies are bounded on each replica by the spec's ``rollout.shadow``: calls in flight
(``max_concurrency``), calls started per minute (``max_per_minute``) and dollars per UTC day
(``daily_usd``); a request over a bound is not copied, and the drop is counted in ``/readyz``.

A copy runs the candidate alone through the feature's chain (its breaker, retries, output
guardrails and semantic retry, but no fallback to another variant), on the same redacted messages
the served request's model saw. It leaves its own request record (outcome ``shadow``, ``shadow_of``
the served request, arm ``candidate``) and its own audit decision (outcome ``shadow``), and is
offered to the online scorer like a served answer. Finished copies are flushed together by a job
every second (:meth:`Shadower.flush`): their decisions share one audit transaction, then
their records go to the recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runwell.gateway.audit import AuditTrail, AuditUnavailable
from runwell.gateway.chain import ChainFailed, build_request
from runwell.gateway.context import Ids, RequestContext
from runwell.gateway.protection import Protection
from runwell.rollout.assign import mirrored
from runwell.rollout.policy import Rollout
from runwell.spec.experiments import ShadowPolicy
from runwell.telemetry.record import RequestRecord

__all__ = ["Shadower"]

_log = logging.getLogger("runwell.experiments")


@dataclass
class _Bounds:
    """One feature's shadow counters on this replica."""

    policy: ShadowPolicy
    inflight: int = 0
    minute: int = -1
    started_this_minute: int = 0
    day: int = -1
    spent_today: float = 0.0
    started: int = 0
    finished: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {"concurrency": 0, "rate": 0, "budget": 0})

    def admit(self, now: float) -> str | None:
        """Reserve a slot, or the name of the bound that refuses it."""
        if self.inflight >= self.policy.max_concurrency:
            return "concurrency"
        minute, day = int(now // 60), int(now // 86_400)
        if minute != self.minute:
            self.minute, self.started_this_minute = minute, 0
        if day != self.day:
            self.day, self.spent_today = day, 0.0
        if self.started_this_minute >= self.policy.max_per_minute:
            return "rate"
        if self.policy.daily_usd is not None and self.spent_today >= self.policy.daily_usd:
            return "budget"
        self.inflight += 1
        self.started_this_minute += 1
        self.started += 1
        return None

    def status(self) -> dict[str, Any]:
        return {
            "inflight": self.inflight,
            "started": self.started,
            "finished": self.finished,
            "dropped": dict(self.dropped),
            "spent_today_usd": round(self.spent_today, 6),
        }


class Shadower:
    """Schedules and runs shadow copies (see the module docstring)."""

    def __init__(
        self,
        protection: Protection,
        policies: Mapping[str, ShadowPolicy],
        submit: Callable[[RequestRecord], None],
        trail: AuditTrail | None,
        *,
        on_answer: Callable[[RequestContext], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._protection = protection
        self._bounds = {feature: _Bounds(policy) for feature, policy in policies.items()}
        self._submit = submit
        self._trail = trail
        self._on_answer = on_answer
        self._clock = clock
        self._ids = Ids()
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[tuple[RequestContext, RequestRecord]] = []

    def offer(self, ctx: RequestContext, rollout: Rollout) -> None:
        """Copy ``ctx`` to the rollout's candidate if it is sampled and within the bounds."""
        feature = ctx.feature
        if feature is None or ctx.status != "ok" or ctx.outcome not in ("served", "fallback"):
            return
        if ctx.body is None or ctx.redacted is None:
            return
        if not mirrored(ctx.request_id, rollout.rollout_id, rollout.mirror_rate):
            return
        candidate = feature.variants.get(rollout.candidate)
        bounds = self._bounds.get(feature.name)
        if candidate is None or bounds is None or ctx.levers.is_killed(feature.name, candidate.name):
            return
        refused = bounds.admit(self._clock())
        if refused is not None:
            bounds.dropped[refused] += 1
            return
        shadow = RequestContext(
            request_id=self._ids.pair()[0],
            trace_id=ctx.trace_id,
            parent_span_id=None,
            started_at=self._clock(),
            t0=time.perf_counter(),
            key_id=ctx.key_id,
            user=ctx.user,
            body=replace(ctx.body, stream=False),
            feature=feature,
            variant=candidate,
            redacted=ctx.redacted,
            guardrails=dict(ctx.guardrails),
            guardrail_details=dict(ctx.guardrail_details),
            levers=ctx.levers,
            arm="candidate",
            shadow_of=ctx.request_id,
        )
        shadow.flags[f"{feature.name}.rollout"] = {"rollout_id": rollout.rollout_id, "arm": "candidate"}
        task = asyncio.get_running_loop().create_task(self._run(shadow, bounds), name="runwell-shadow")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, ctx: RequestContext, bounds: _Bounds) -> None:
        feature, variant, body = ctx.feature, ctx.variant, ctx.body
        assert feature is not None and variant is not None and body is not None and ctx.redacted is not None
        try:
            controls = self._protection.features[feature.name]
            ctx.request = build_request(variant, body, ctx.user, ctx.redacted)
            fallback = (
                build_request(variant, body, ctx.user, ctx.redacted, fallback=True)
                if variant.fallback_render is not None
                else None
            )
            try:
                _chosen, sent, result, verdict = await controls.chain.whole(
                    ctx, [(variant, ctx.request, fallback)]
                )
            except ChainFailed as failed:
                ctx.fail(failed.last.status, failed.last.error_class, str(failed.last))
            else:
                ctx.request = sent
                if verdict is not None:
                    ctx.guardrails.update(verdict.statuses)
                    ctx.guardrail_details.update(verdict.details)
                ctx.usage, ctx.tool_calls = result.usage, result.tool_calls
                ctx.content = verdict.content if verdict is not None else result.content
                ctx.finish_reason, ctx.response_model = result.finish_reason, result.response_model
                ctx.served_by = variant.name
                ctx.status, ctx.http_status = "ok", 200
            ctx.outcome = "shadow"
            # The record now (its latency is the call's); written once its decision is durable.
            self._done.append((ctx, ctx.record()))
        except asyncio.CancelledError:
            raise
        except Exception:  # a shadow's failure must never reach anything served
            _log.exception("shadow call of %s for request %s failed", variant.name, ctx.shadow_of)
        finally:
            bounds.inflight -= 1
            bounds.finished += 1

    async def flush(self) -> None:
        """Make the finished copies' decisions durable, then hand their records on (a job's tick).

        Copies finish one by one; appended one by one, each decision would be its own audit
        transaction, competing with the served requests' own (measured: about half of what a copy
        cost the gateway). Flushed together, they share one.
        """
        done, self._done = self._done, []
        if not done:
            return
        if self._trail is not None:
            outcomes = await asyncio.gather(
                *(self._trail.record(ctx.decision("shadow", ctx.http_status)) for ctx, _ in done),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, AuditUnavailable):
                    _log.error("a shadow decision could not be audited: %s", outcome)
        for ctx, record in done:
            feature = ctx.feature
            bounds = None if feature is None else self._bounds.get(feature.name)
            if bounds is not None:
                bounds.spent_today += record.cost_usd or 0.0
            self._submit(record)
            if self._on_answer is not None and ctx.status == "ok":
                self._on_answer(ctx)

    def status(self) -> dict[str, Any]:
        """Per feature: copies in flight, finished but not yet flushed, started, finished, dropped by
        bound, spend today."""
        unflushed: dict[str, int] = {}
        for ctx, _record in self._done:
            if ctx.feature is not None:
                unflushed[ctx.feature.name] = unflushed.get(ctx.feature.name, 0) + 1
        return {
            feature: {**bounds.status(), "unflushed": unflushed.get(feature, 0)}
            for feature, bounds in self._bounds.items()
        }

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let the copies in flight finish (up to ``timeout_s``), cancel the rest, flush."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.flush()

"""Queued answers (degradation mode ``queued``): keep the request, answer it later, hand it back by ticket.

When no variant can answer and the feature's degradation is ``queued``, the client gets ``202`` and
a ticket; the request (its messages *after* PII redaction, its parameters, the pseudonymised user)
is stored in ``queued_requests``, so it survives a restart. A background job on every replica
claims due requests (a lease keeps two replicas off the same one) and runs each through the same
chain as a live request: levers, budgets, breakers, retries, output guardrails and fallbacks. Each
try leaves a request record and, when it is answered, an audit entry, like any model call. The
client fetches the answer with ``GET /v1/queued/{ticket}`` using the API key it asked with.

What a queued answer cannot do: restore PII placeholders (the original values are never stored),
and stream (the answer is fetched whole).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from runwell.audit.entries import Outcome
from runwell.catalog import Catalog
from runwell.errors import NotFoundError, RequestError
from runwell.gateway.audit import AuditTrail, AuditUnavailable
from runwell.gateway.chain import ChainFailed, candidate_requests
from runwell.gateway.context import Ids, RequestContext
from runwell.gateway.protection import Protection
from runwell.gateway.protocol import ChatBody
from runwell.gateway.queue import Queued, QueueTable
from runwell.gateway.responses import whole_body
from runwell.gateway.spend import Spend
from runwell.telemetry.record import RequestRecord

__all__ = ["Deferred"]

_log = logging.getLogger("runwell.gateway")


class Deferred:
    """The queue of deferred requests, as the request path and the background job use it."""

    def __init__(
        self,
        queue: QueueTable,
        catalog: Catalog,
        protection: Protection,
        spend: Spend,
        submit: Callable[[RequestRecord], None],
        *,
        audit: AuditTrail | None = None,
        batch: int = 10,
    ) -> None:
        self.queue = queue
        self._catalog = catalog
        self._protection = protection
        self._spend = spend
        self._submit = submit
        self._audit = audit
        self._batch = batch
        self._ids = Ids()

    async def enqueue(self, ctx: RequestContext) -> str:
        """Store the request of ``ctx`` for later; returns its ticket."""
        body, feature, variant = ctx.body, ctx.feature, ctx.variant
        assert body is not None and feature is not None and variant is not None
        payload = {
            "variant": variant.name,
            "messages": ctx.redacted if ctx.redacted is not None else body.messages,
            "params": body.params,
            "variables": body.variables,
            "user": ctx.user,
            "guardrails": ctx.guardrails,
            "origin_request_id": ctx.request_id,
        }
        return await asyncio.to_thread(self.queue.add, feature.name, payload, ctx.key_id)

    async def fetch(self, ticket: str, key_id: str | None) -> dict[str, Any]:
        """``GET /v1/queued/{ticket}``: the request's state and, once answered, the answer."""
        item = await asyncio.to_thread(self.queue.get, ticket)
        if item is None or item.api_key_id != key_id:  # another key's ticket does not exist for you
            raise NotFoundError(f"no queued request {ticket!r} for this API key", code="ticket_not_found")
        return item.to_dict()

    async def work(self) -> None:
        """Answer the requests that are due (the background job's tick)."""
        for item in await asyncio.to_thread(self.queue.claim_due, limit=self._batch):
            await self._answer(item)

    async def _answer(self, item: Queued) -> None:
        request = item.request
        ctx = RequestContext(
            *self._ids.pair(), parent_span_id=None, started_at=time.time(), t0=time.perf_counter()
        )
        ctx.key_id, ctx.user = item.api_key_id, request.get("user")
        ctx.note = f"answer to queued request {item.ticket} (asked as {request.get('origin_request_id')})"
        error: str | None = None
        try:
            error = await self._try(ctx, item)
        except Exception as exc:  # a bug of ours: keep the item queued, keep the record, log it
            _log.exception("answering queued request %s failed", item.ticket)
            ctx.fail(500, "internal_error", f"{type(exc).__name__}: {exc}")
            error = f"internal error: {exc}"
        finally:
            if ctx.feature is not None:
                self._submit(ctx.record())
        if error is not None:
            await asyncio.to_thread(self.queue.retry_later, item.ticket, item.attempts, error)

    async def _try(self, ctx: RequestContext, item: Queued) -> str | None:
        """One try; returns why it failed, or ``None`` once the answer is stored."""
        request = item.request
        feature = self._catalog.features.get(item.feature)
        controls = self._protection.features.get(item.feature)
        if feature is None or controls is None:
            return f"feature {item.feature!r} is no longer served by this gateway"
        ctx.feature = feature
        ctx.variant = feature.variants.get(request["variant"]) or feature.variant(None)
        ctx.levers = levers = self._protection.levers.current
        ctx.guardrails.update(request.get("guardrails") or {})
        messages = request["messages"]
        ctx.redacted = messages
        ctx.body = ChatBody(
            model=f"{feature.name}@{ctx.variant.name}",
            messages=messages,
            params=dict(request.get("params") or {}),
            stream=False,
            include_usage=False,
            user=None,
            variables=dict(request.get("variables") or {}),
        )
        if levers.is_killed(feature.name):
            ctx.fail(503, "feature_killed", "the feature is killed; the queued request waits")
            return "the feature is killed"
        candidates = controls.chain.candidates(ctx.variant, levers)
        if not candidates:
            ctx.fail(503, "feature_killed", "every variant is killed; the queued request waits")
            return "every variant is killed"
        requests = candidate_requests(ctx, candidates, messages)
        ctx.request = requests[0][1]
        try:
            reservation = await self._spend.reserve(
                ctx, controls.limits(levers), requests[0][1], [v.model for v in candidates]
            )
        except RequestError as exc:  # a budget (BudgetExceeded) or its store (Unavailable)
            ctx.fail(exc.status, exc.code or exc.type, exc.message)
            return exc.message
        settled = False
        try:
            chosen, sent, result, verdict = await controls.chain.whole(ctx, requests)
            outcome: Outcome = "fallback" if chosen is not ctx.variant else "served"
            ctx.variant, ctx.request, ctx.served_by = chosen, sent, chosen.name
            content = result.content
            if verdict is not None:
                ctx.guardrails.update(verdict.statuses)
                ctx.guardrail_details.update(verdict.details)
                content = verdict.content
            ctx.usage, ctx.content, ctx.tool_calls = result.usage, content, result.tool_calls
            ctx.finish_reason, ctx.response_model = result.finish_reason, result.response_model
            if self._audit is not None:
                await self._audit.record(ctx.decision(outcome, 200))
            answer = orjson.loads(
                whole_body(
                    request_id=ctx.request_id,
                    created=int(ctx.started_at),
                    model=f"{feature.name}@{chosen.name}",
                    content=content,
                    finish_reason=result.finish_reason,
                    usage=result.usage,
                    tool_calls=result.tool_calls,
                    logprobs=result.logprobs,
                )
            )
            answer["runwell"] = {"served_by": chosen.name, "outcome": outcome, "ticket": item.ticket}
            await asyncio.to_thread(self.queue.finish, item.ticket, answer)
            ctx.served(outcome)
            settled = True
            await self._spend.settle(ctx, reservation)
            return None
        except ChainFailed as failed:
            ctx.fail(failed.last.status, failed.last.error_class, str(failed.last))
            return str(failed.last)
        except AuditUnavailable as exc:
            ctx.fail(503, "audit_unavailable", str(exc))
            return str(exc)
        finally:
            if not settled:
                with contextlib.suppress(Exception):
                    await self._spend.release(reservation)

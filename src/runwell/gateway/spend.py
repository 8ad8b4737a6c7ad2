"""Budgets on the request path: reserve a request's maximum spend, settle it with the real usage.

The engine (:mod:`runwell.control.budgets`) keeps the counters; this module turns a request into
an :class:`~runwell.control.budgets.Ask` and the engine's answers into what the request records:

- a refusal is a 429 naming the budget (the engine's :class:`BudgetExceeded`), with the budget on
  the request's guardrail map so the record and the audit entry say which one;
- the budget store being down (Redis) applies the feature's ``budgets.on_store_unavailable``:
  ``fail_open`` serves and raises a ``budget_store_unavailable`` event, ``fail_closed`` answers
  503 (never 500);
- a settle that brings a day or month budget to ``alert_at_fraction`` raises a ``budget_alert``
  event (recorded, audited and counted in ``/metrics``; paging is the alerts' job).

The reservation is sized from the request itself: input tokens estimated as characters / 4 (an
over-estimate for English with the usual tokenizers), output tokens from ``max_tokens`` (the spec's
``max_output_tokens`` is imposed when the client sets none, so that the reservation bounds the spend).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import Any

from runwell.control.budgets import (
    Ask,
    BudgetExceeded,
    Budgets,
    BudgetStoreUnavailable,
    Limits,
    Reservation,
    Usage,
)
from runwell.errors import RequestError, Unavailable
from runwell.gateway.context import RequestContext
from runwell.providers.base import ChatRequest

__all__ = ["DEFAULT_OUTPUT_TOKENS", "BudgetEvent", "Spend", "max_output_tokens"]

DEFAULT_OUTPUT_TOKENS = 1024
"""What a reservation assumes for the answer when neither the client nor the spec bounds it."""
_TOKEN_LIMITS = ("max_tokens", "max_completion_tokens")
_PARAM = {"max_output_tokens": "max_tokens", "max_input_tokens": "messages", "max_cost_usd": "max_tokens"}

BudgetEvent = Callable[[str, dict[str, Any]], None]
"""``(kind, details)``: ``budget_alert`` or ``budget_store_unavailable``."""


def max_output_tokens(request: ChatRequest) -> int | None:
    """The answer's token limit the request carries, under either of OpenAI's names."""
    for name in _TOKEN_LIMITS:
        value = request.params.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _input_tokens(request: ChatRequest) -> int:
    chars = 0
    for message in request.messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return math.ceil(chars / 4)


class Spend:
    """The budget engine as the request path uses it (``budgets`` ``None``: nothing is limited)."""

    def __init__(
        self,
        budgets: Budgets | None,
        *,
        fail_open: dict[str, bool] | None = None,
        on_event: BudgetEvent | None = None,
    ) -> None:
        self.budgets = budgets
        self._fail_open = fail_open or {}
        self._event = on_event or (lambda kind, details: None)

    def describe(self) -> dict[str, Any]:
        """Where the budgets are kept, for ``/readyz``."""
        if self.budgets is None:
            return {"backend": "none"}
        url = getattr(self.budgets, "url", None)
        return {"backend": "redis", "url": url} if url else {"backend": "in-process"}

    async def reserve(
        self, ctx: RequestContext, limits: Limits | None, request: ChatRequest, models: Sequence[str] = ()
    ) -> Reservation | None:
        """Hold the request's maximum spend; raises BudgetExceeded (429) or Unavailable (503).

        ``models`` are the fallback candidates' models: the reservation holds the dearest.
        """
        if self.budgets is None or limits is None:
            return None
        feature, variant = ctx.feature, ctx.variant
        assert feature is not None and variant is not None
        out_tokens = max_output_tokens(request)
        if out_tokens is None and limits.max_output_tokens is not None:
            request.params["max_tokens"] = out_tokens = limits.max_output_tokens
        out_tokens = out_tokens or DEFAULT_OUTPUT_TOKENS
        in_tokens = _input_tokens(request)
        cost = max(feature.prices.cost(m, in_tokens, out_tokens) or 0.0 for m in {variant.model, *models})
        ask = Ask(feature.name, ctx.key_id, ctx.user, in_tokens, out_tokens, cost)
        try:
            reservation = await self.budgets.reserve(limits, ask)
        except BudgetExceeded as exc:
            breach = exc.breach
            ctx.guardrails["budgets"] = "blocked"
            ctx.guardrail_details["budgets"] = {
                "budget": breach.budget,
                "limit": breach.limit,
                "spent": breach.spent,
                "unit": breach.unit,
            }
            if breach.window == "request":  # the request itself is too big: the client's to fix
                raise RequestError(
                    exc.message, param=_PARAM.get(breach.budget), code="request_too_large"
                ) from None
            raise
        except BudgetStoreUnavailable as exc:
            self._event("budget_store_unavailable", {"feature": feature.name, "error": str(exc)})
            if self._fail_open.get(feature.name, True):
                ctx.guardrails["budgets"] = "unavailable_fail_open"
                return None
            ctx.guardrails["budgets"] = "unavailable_fail_closed"
            raise Unavailable(
                "the budget store is unavailable and this feature fails closed "
                "(budgets.on_store_unavailable: fail_closed); retry shortly",
                code="budget_store_unavailable",
            ) from exc
        ctx.guardrails["budgets"] = "passed"
        return reservation

    async def settle(self, ctx: RequestContext, reservation: Reservation | None) -> None:
        """Count what the request really used; raise the alerts that crossing a fraction earns."""
        if self.budgets is None or reservation is None or ctx.feature is None or ctx.variant is None:
            return
        usage = ctx.usage
        prices = ctx.feature.prices
        cost = (
            prices.cost(ctx.variant.model, usage.input_tokens, usage.output_tokens, usage.cached_tokens)
            or 0.0
        )
        tokens_in, tokens_out = usage.input_tokens or 0, usage.output_tokens or 0
        for attempt in ctx.attempts:  # answers that failed validation were paid for too
            spent_in, spent_out = attempt.get("input_tokens"), attempt.get("output_tokens")
            if spent_in is None and spent_out is None:
                continue
            cost += prices.cost(attempt["model"], spent_in, spent_out) or 0.0
            tokens_in, tokens_out = tokens_in + (spent_in or 0), tokens_out + (spent_out or 0)
        try:
            alerts = await self.budgets.settle(reservation, Usage(cost, tokens_in, tokens_out))
        except BudgetStoreUnavailable as exc:
            self._event("budget_store_unavailable", {"feature": ctx.feature.name, "error": str(exc)})
            return
        for alert in alerts:
            self._event(
                "budget_alert",
                {
                    "feature": alert.feature,
                    "budget": alert.budget,
                    "subject": alert.subject,
                    "window": alert.window,
                    "unit": alert.unit,
                    "spent": alert.spent,
                    "limit": alert.limit,
                    "fraction": alert.fraction,
                    "resets_at": alert.resets_at,
                },
            )

    async def release(self, reservation: Reservation | None) -> None:
        """Give a reservation back (the request spent nothing)."""
        if self.budgets is not None and reservation is not None:
            with contextlib.suppress(BudgetStoreUnavailable):
                await self.budgets.release(reservation)

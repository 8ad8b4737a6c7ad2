"""What a model call costs: a built-in price table, overridable per deployment.

A model without a price costs ``None``, never ``$0``: an unknown price must show up as
"unpriced" in reports and budgets, not as free traffic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["BUILTIN_PRICES", "PRICES_TAKEN_ON", "Price", "PriceTable"]


@dataclass(frozen=True, slots=True)
class Price:
    """USD per one million tokens.

    ``cached_input`` is the rate for input tokens served from the provider's prompt cache; when
    ``None`` cached tokens are billed at the ``input`` rate.
    """

    input: float
    output: float
    cached_input: float | None = None

    def __post_init__(self) -> None:
        rates = (self.input, self.output, self.cached_input)
        if any(rate is not None and rate < 0 for rate in rates):
            raise ValueError(f"prices cannot be negative: {self}")


PRICES_TAKEN_ON = "2026-11-22"
"""When :data:`BUILTIN_PRICES` were checked against the providers' published standard rates."""

# Standard (not batch, flex or priority) rates, USD per 1M tokens, checked on PRICES_TAKEN_ON
# against the providers' pricing pages (openai.com/api/pricing; Anthropic's "Model pricing" table
# at docs.anthropic.com/en/docs/about-claude/pricing) as quoted by several independent sources.
# For Anthropic, cached_input is the "cache hits & refreshes" rate; 5-minute/1-hour cache *writes*
# (1.25x/2x input) are not modelled: the adapter reports them as plain input tokens.
_BUILTIN: dict[str, Price] = {
    # OpenAI
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "o3": Price(2.00, 8.00, 0.50),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    # Anthropic (ids as the Messages API takes them; "-0" ids are Anthropic's own aliases)
    "claude-opus-4": Price(15.00, 75.00, 1.50),
    "claude-opus-4-0": Price(15.00, 75.00, 1.50),
    "claude-opus-4-1": Price(15.00, 75.00, 1.50),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30),
    "claude-sonnet-4-0": Price(3.00, 15.00, 0.30),
    "claude-sonnet-4-5": Price(3.00, 15.00, 0.30),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08),
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10),
    # Local: SmolLM2 runs in process on our own hardware, so there is no per-token charge.
    # Its real cost is the machine, which is not attributed per request. Priced at 0 on purpose.
    "smollm2-135m-instruct": Price(0.0, 0.0, 0.0),
}

BUILTIN_PRICES: Mapping[str, Price] = MappingProxyType(_BUILTIN)
"""The built-in table, read-only; see :class:`PriceTable` to add or override entries."""

# What may follow a table entry in a model id and still be the same model: a snapshot date
# (gpt-4o-2024-08-06, claude-sonnet-4-20250514, Vertex's claude-sonnet-4@20250514) or "-latest".
# Anything else is another model: o3-mini is not o3, claude-opus-4-5 is not claude-opus-4.
_SNAPSHOT_SUFFIX = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8}|latest)")


_MEMO_LIMIT = 4096


class PriceTable:
    """Prices by model id: the built-in table plus ``overrides`` (which win on the same key).

    A model id matches its own entry, or the longest entry it extends with a snapshot suffix
    only, so dated ids (``gpt-4o-2024-08-06``) find their base model's price.
    """

    def __init__(self, overrides: Mapping[str, Price] | None = None, *, builtin: bool = True) -> None:
        merged: dict[str, Price] = dict(BUILTIN_PRICES) if builtin else {}
        merged.update({model.lower(): price for model, price in (overrides or {}).items()})
        self._prices: Mapping[str, Price] = MappingProxyType(merged)
        # Answers by model id: the request path asks for the same few models again and again, and a
        # miss scans every entry. Bounded: a table is asked about the models of its specs.
        self._memo: dict[str, Price | None] = {}

    def price(self, model: str) -> Price | None:
        """The price that applies to ``model``, or ``None`` when it has none."""
        try:
            return self._memo[model]
        except KeyError:
            pass
        found = self._lookup(model)
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[model] = found
        return found

    def _lookup(self, model: str) -> Price | None:
        wanted = model.strip().lower()
        exact = self._prices.get(wanted)
        if exact is not None:
            return exact
        best: str | None = None
        for known in self._prices:
            if (
                wanted.startswith(known)
                and _SNAPSHOT_SUFFIX.fullmatch(wanted, len(known))
                and (best is None or len(known) > len(best))
            ):
                best = known
        return None if best is None else self._prices[best]

    def cost(
        self,
        model: str,
        input_tokens: int | None,
        output_tokens: int | None,
        cached_tokens: int | None = None,
    ) -> float | None:
        """USD for one call, or ``None`` when the model has no price or a token count is missing.

        ``cached_tokens`` are the part of ``input_tokens`` served from the prompt cache (OpenAI's
        ``prompt_tokens_details.cached_tokens``), billed at the cached rate; the rest of the input
        is billed at the input rate. Reported cached tokens beyond the input are capped at it.
        """
        price = self.price(model)
        if price is None or input_tokens is None or output_tokens is None:
            return None
        if input_tokens < 0 or output_tokens < 0 or (cached_tokens or 0) < 0:
            return None
        cached = min(cached_tokens or 0, input_tokens)
        cached_rate = price.input if price.cached_input is None else price.cached_input
        return (
            (input_tokens - cached) * price.input + cached * cached_rate + output_tokens * price.output
        ) / 1_000_000

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.price(model) is not None

    def __repr__(self) -> str:
        return f"PriceTable({len(self._prices)} models)"

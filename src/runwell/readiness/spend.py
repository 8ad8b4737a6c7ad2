"""Cost per request: measured from recent priced records, or estimated from the price table."""

from __future__ import annotations

from runwell.readiness.context import CheckContext

__all__ = ["ESTIMATE_INPUT_TOKENS", "cost_per_request"]

ESTIMATE_INPUT_TOKENS = 500
"""Input tokens assumed by the estimate when no request was recorded yet."""
_DEFAULT_OUTPUT_TOKENS = 512


def cost_per_request(ctx: CheckContext) -> tuple[float | None, str, bool]:
    """``(usd, where it comes from, measured)``; ``usd`` is ``None`` when nothing prices the model."""
    since = ctx.now - ctx.thresholds.priced_window_days * 86400
    rows = ctx.query(
        "SELECT count(*), avg(cost_usd) FROM requests WHERE feature = ? AND started_at >= ? "
        "AND priced = ? AND cost_usd IS NOT NULL AND outcome IN ('served', 'fallback')",
        (ctx.loaded.name, since, True),
        "average the cost of recent requests",
    )
    if rows and rows[0][0] and rows[0][1] is not None:
        days = ctx.thresholds.priced_window_days
        return float(rows[0][1]), f"mean of {rows[0][0]} priced requests over {days:g} days", True
    from runwell.telemetry.prices import Price, PriceTable

    spec = ctx.loaded.spec
    variant = spec.variants[spec.default_variant_name]
    table = PriceTable(
        {
            m: Price(p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok)
            for m, p in spec.prices.items()
        }
    )
    out_tokens = (
        spec.budgets.per_request.max_output_tokens or variant.params.max_tokens or _DEFAULT_OUTPUT_TOKENS
    )
    cost = table.cost(variant.model, ESTIMATE_INPUT_TOKENS, out_tokens)
    if cost is None:
        return None, f"no price for model {variant.model!r} and no priced records", False
    return cost, f"estimate: {ESTIMATE_INPUT_TOKENS} in + {out_tokens} out tokens of {variant.model}", False

"""Cost control: budgets set and enforced, recent records priced, budget alerts wired to a notifier."""

from __future__ import annotations

from collections.abc import Callable

from runwell.readiness.context import CheckContext
from runwell.readiness.items import Item

__all__ = ["COST"]

_S = "cost"
_LIMITS = ("daily_usd", "monthly_usd", "daily_tokens", "monthly_tokens")


def budgets(ctx: CheckContext) -> Item:
    """Budgets are set (and, live, enforced by the gateway)."""
    spec = ctx.loaded.spec.budgets
    title = "Budgets set and enforced"
    limits = {name: getattr(spec, name) for name in _LIMITS if getattr(spec, name) is not None}
    if not limits:
        return Item(
            "cost.budgets",
            _S,
            title,
            "fail",
            "budgets: sets no daily or monthly limit.",
            "set budgets.daily_usd and budgets.monthly_usd",
        )
    evidence = ", ".join(f"{k} {v:g}" for k, v in limits.items())
    if ctx.live is None:
        return Item(
            "cost.budgets", _S, title, "pass", f"{evidence} (declared; run --live to see them enforced)."
        )
    if ctx.live.error:
        return Item("cost.budgets", _S, title, "fail", ctx.live.error, "start the gateway, or fix --live URL")
    backend = ctx.live.readyz.get("budgets", {}).get("backend")
    ignored = [str(x) for x in ctx.live.readyz.get("declared_not_enforced", []) if "budget" in str(x)]
    if backend in (None, "none") or ignored:
        why = f"budget backend {backend}" + (f"; not enforced: {', '.join(ignored)}" if ignored else "")
        return Item(
            "cost.budgets",
            _S,
            title,
            "fail",
            f"{evidence}; {why}.",
            "run the gateway with a budget store (in-process or Redis) so budgets are enforced",
        )
    return Item(
        "cost.budgets", _S, title, "pass", f"{evidence}; enforced by the gateway ({backend}).", automated=True
    )


def priced(ctx: CheckContext) -> Item:
    """Every recent record carries a price."""
    title = "Recent records priced (none unpriced)"
    days = ctx.thresholds.priced_window_days
    rows = ctx.query(
        "SELECT count(*), sum(CASE WHEN priced = ? OR input_tokens IS NULL THEN 0 ELSE 1 END) "
        "FROM requests WHERE feature = ? AND started_at >= ?",
        (True, ctx.loaded.name, ctx.now - days * 86400),
        "count unpriced records",
    )
    total = int(rows[0][0]) if rows else 0
    unpriced = int(rows[0][1] or 0) if rows else 0
    if total == 0:
        return Item(
            "cost.priced",
            _S,
            title,
            "fail",
            f"no records in the last {days:g} days {ctx.store_note}".strip() + ".",
            "serve the feature through the gateway (or point --db at its store)",
        )
    if unpriced:
        return Item(
            "cost.priced",
            _S,
            title,
            "fail",
            f"{unpriced} of {total} recent records have no price.",
            "add the model under prices: (USD per million tokens)",
        )
    return Item(
        "cost.priced",
        _S,
        title,
        "pass",
        f"all {total} records of the last {days:g} days priced.",
        automated=True,
    )


def alerts(ctx: CheckContext) -> Item:
    """A budget or cost alert reaches a notifier."""
    spec = ctx.loaded.spec
    title = "Budget alerts wired to a notifier"
    rules = [a.name for a in spec.alerts if a.metric in ("budget_alert", "cost_usd")]
    if not rules:
        return Item(
            "cost.budget_alerts",
            _S,
            title,
            "fail",
            "no alert on budget_alert or cost_usd.",
            "add an alert on metric budget_alert (fires at budgets.alert_at_fraction) or cost_usd",
        )
    if not spec.oncall.channels:
        return Item(
            "cost.budget_alerts",
            _S,
            title,
            "fail",
            f"alerts {', '.join(rules)} but no oncall.channels.",
            "add a notifier channel under oncall.channels",
        )
    evidence = (
        f"alerts {', '.join(rules)}; budget alert at {spec.budgets.alert_at_fraction:.0%}; "
        f"channels {', '.join(spec.oncall.channels)}"
    )
    if ctx.live is None or ctx.live.error:
        return Item("cost.budget_alerts", _S, title, "pass", evidence + " (declared).")
    problems = ctx.live.readyz.get("operations", {}).get("channel_problems", {})
    mine = {k: v for k, v in problems.items() if k.startswith(ctx.loaded.name + "/")}
    if mine:
        return Item(
            "cost.budget_alerts",
            _S,
            title,
            "fail",
            f"{evidence}; the gateway cannot use: " + "; ".join(f"{k}: {v}" for k, v in mine.items()),
            "set the channels' environment variables where the gateway runs",
        )
    return Item(
        "cost.budget_alerts",
        _S,
        title,
        "pass",
        evidence + "; the gateway's notifiers are set up.",
        automated=True,
    )


COST: tuple[Callable[[CheckContext], Item], ...] = (budgets, priced, alerts)
"""The cost control checks, in report order."""

"""Pre-ship: should we build this, how will it fail, can we afford it, can we stop it, who is
called, and where do we look."""

from __future__ import annotations

from collections.abc import Callable

from runwell.readiness.context import CheckContext
from runwell.readiness.items import Item
from runwell.readiness.placeholders import placeholder_in
from runwell.readiness.spend import cost_per_request

__all__ = ["PRESHIP"]

_S = "pre-ship"


def _answer(ctx: CheckContext, field: str, id_: str, title: str, fix: str) -> Item:
    value = getattr(ctx.loaded.spec.feature, field)
    where = f"feature.{field} in {ctx.path.name}"
    if value is None:
        return Item(id_, _S, title, "fail", f"{where} is not set.", fix)
    marker = placeholder_in(value)
    if marker:
        return Item(id_, _S, title, "fail", f"{where} is a placeholder ({marker!r}): {value!r}.", fix)
    return Item(id_, _S, title, "pass", f"{where}: {value!r}.")


def problem(ctx: CheckContext) -> Item:
    """Should we build this: the problem."""
    return _answer(
        ctx,
        "problem",
        "pre.problem",
        "Should we build this: the problem is written down",
        "write feature.problem: the problem this solves, for whom, and what it costs them today",
    )


def success_metric(ctx: CheckContext) -> Item:
    """Should we build this: how success is measured."""
    return _answer(
        ctx,
        "success_metric",
        "pre.success_metric",
        "Should we build this: a success metric",
        "write feature.success_metric: the number that says the feature works, and by when",
    )


def non_ai(ctx: CheckContext) -> Item:
    """Should we build this: the alternative without AI."""
    return _answer(
        ctx,
        "non_ai_alternative",
        "pre.non_ai_alternative",
        "Should we build this: the non-AI alternative was considered",
        "write feature.non_ai_alternative: the non-AI way considered and why it is not enough",
    )


def failure_modes(ctx: CheckContext) -> Item:
    """How will it fail: failure modes documented, each with a runbook."""
    modes = ctx.loaded.spec.failure_modes
    title = "How will it fail: failure modes documented"
    if not modes:
        return Item(
            "pre.failure_modes",
            _S,
            title,
            "fail",
            "failure_modes: is empty.",
            "list the ways the feature fails under failure_modes: (detection, mitigation, runbook)",
        )
    missing = [m.name for m in modes if not (ctx.base / m.runbook).is_file()]
    if missing:
        return Item(
            "pre.failure_modes",
            _S,
            title,
            "fail",
            f"no runbook file for {', '.join(missing)}.",
            "write the runbook file each failure mode names",
        )
    names = ", ".join(f"{m.name} (SEV-{m.severity})" for m in modes)
    return Item("pre.failure_modes", _S, title, "pass", f"{len(modes)} failure modes: {names}.")


def detection(ctx: CheckContext) -> Item:
    """How will it fail: each failure mode is detected by a real alert rule."""
    spec = ctx.loaded.spec
    title = "How will it fail: a detection signal (an alert rule) for each failure mode"
    if not spec.failure_modes:
        return Item(
            "pre.detection",
            _S,
            title,
            "fail",
            "no failure modes to detect.",
            "declare failure_modes:, then an alert naming each one (failure_mode: NAME)",
        )
    by_mode = {m.name: [a.name for a in spec.alerts if a.failure_mode == m.name] for m in spec.failure_modes}
    bare = [name for name, alerts in by_mode.items() if not alerts]
    if bare:
        return Item(
            "pre.detection",
            _S,
            title,
            "fail",
            f"no alert rule names failure mode {', '.join(bare)} (a detection text alone pages nobody).",
            f"add an alert with failure_mode: {bare[0]} under alerts:",
        )
    found = "; ".join(f"{m}: {', '.join(a)}" for m, a in by_mode.items())
    return Item(
        "pre.detection", _S, title, "pass", f"alert rules the gateway evaluates: {found}.", automated=True
    )


def fallback(ctx: CheckContext) -> Item:
    """How will it fail: a fallback behaviour."""
    fb = ctx.loaded.spec.fallbacks
    title = "How will it fail: fallback behaviour defined"
    parts = []
    if fb.chain:
        parts.append(f"fallback chain {', '.join(fb.chain)}")
    if fb.degradation is not None:
        parts.append(f"degradation {fb.degradation.mode}: {fb.degradation.message!r}")
    if fb.degradation is None:
        return Item(
            "pre.fallback",
            _S,
            title,
            "fail",
            f"{', '.join(parts) or 'no fallback chain'}; no fallbacks.degradation, so users get errors "
            "when every variant fails or the feature is killed.",
            "add fallbacks.degradation (static, queued or maintenance) with the message users get",
        )
    if placeholder_in(fb.degradation.message):
        return Item(
            "pre.fallback",
            _S,
            title,
            "fail",
            "the degradation message is a placeholder.",
            "write the message users get when the AI is off",
        )
    return Item(
        "pre.fallback", _S, title, "pass", "; ".join(parts) + " (enforced by the gateway).", automated=True
    )


def affordable(ctx: CheckContext) -> Item:
    """Can we afford it: expected traffic times cost per request, within the ceiling."""
    info = ctx.loaded.spec.feature
    title = "Can we afford it: expected traffic, cost per request, within the ceiling"
    if info.expected_requests_per_day is None:
        return Item(
            "pre.affordable",
            _S,
            title,
            "fail",
            "feature.expected_requests_per_day is not set.",
            "set feature.expected_requests_per_day: requests a day at full rollout",
        )
    per_request, source, measured = cost_per_request(ctx)
    if per_request is None:
        return Item(
            "pre.affordable",
            _S,
            title,
            "fail",
            f"no cost per request: {source}.",
            "add prices: for the model (USD per million tokens), or serve it so records are priced",
        )
    monthly = per_request * info.expected_requests_per_day * 30
    evidence = (
        f"{info.expected_requests_per_day} requests/day x ${per_request:.6f} ({source}) "
        f"= ${monthly:,.2f}/month"
    )
    ceiling = info.cost_ceiling_usd_per_month
    if ceiling is not None and monthly > ceiling:
        return Item(
            "pre.affordable",
            _S,
            title,
            "fail",
            f"{evidence}, over the ${ceiling:,.2f} ceiling.",
            "cut cost per request (a cheaper variant, max_tokens) or revisit the ceiling",
        )
    tail = (
        f", within the ${ceiling:,.2f} ceiling." if ceiling is not None else " (no ceiling set to compare)."
    )
    return Item("pre.affordable", _S, title, "pass", evidence + tail, automated=measured)


def ceiling(ctx: CheckContext) -> Item:
    """Can we afford it: a cost ceiling the budgets enforce."""
    info, budgets = ctx.loaded.spec.feature, ctx.loaded.spec.budgets
    title = "Cost ceiling set and enforced by the budgets"
    if info.cost_ceiling_usd_per_month is None:
        return Item(
            "pre.cost_ceiling",
            _S,
            title,
            "fail",
            "feature.cost_ceiling_usd_per_month is not set.",
            "set feature.cost_ceiling_usd_per_month and a budgets.monthly_usd at or below it",
        )
    cap = info.cost_ceiling_usd_per_month
    enforced = [
        v
        for v in (budgets.monthly_usd, budgets.daily_usd * 31 if budgets.daily_usd else None)
        if v is not None
    ]
    if not enforced:
        return Item(
            "pre.cost_ceiling",
            _S,
            title,
            "fail",
            f"ceiling ${cap:,.2f}/month but no USD budget.",
            f"set budgets.monthly_usd <= {cap:g}",
        )
    tightest = min(enforced)
    if tightest > cap:
        return Item(
            "pre.cost_ceiling",
            _S,
            title,
            "fail",
            f"the budgets allow ${tightest:,.2f}/month, above the ${cap:,.2f} ceiling.",
            f"lower budgets.monthly_usd (or daily_usd) to at most {cap:g} a month",
        )
    return Item(
        "pre.cost_ceiling",
        _S,
        title,
        "pass",
        f"ceiling ${cap:,.2f}/month; budgets stop spend at ${tightest:,.2f}/month.",
        automated=True,
    )


def kill_switch(ctx: CheckContext) -> Item:
    """The kill switch is reachable (live: probed)."""
    title = "Kill switch accessible (probed live: stops model traffic, switched back)"
    live = ctx.live
    if live is None:
        return Item(
            "pre.kill_switch",
            _S,
            title,
            "pass",
            "runwell kill / POST /admin/kill exist for every feature; not probed (static mode).",
        )
    if live.error:
        return Item("pre.kill_switch", _S, title, "fail", live.error, "start the gateway, or fix --live URL")
    probe = live.kill
    evidence = "; ".join(probe.steps) or "no probe ran"
    if not probe.ok:
        return Item(
            "pre.kill_switch",
            _S,
            title,
            "fail",
            f"{evidence}. {probe.error or ''}".strip(),
            "make the kill switch stop the model: set RUNWELL_ADMIN_TOKEN and fallbacks.degradation",
        )
    return Item("pre.kill_switch", _S, title, "pass", evidence + ".", automated=True)


def escalation(ctx: CheckContext) -> Item:
    """A human escalation path: steps, real targets, channels that reach them."""
    oncall, owners = ctx.loaded.spec.oncall, ctx.loaded.spec.feature.owners
    title = "Human escalation path exists"
    if not oncall.escalation:
        return Item(
            "pre.escalation",
            _S,
            title,
            "fail",
            "oncall.escalation is empty.",
            "add escalation steps (after_minutes, notify) under oncall:",
        )
    if not oncall.channels:
        return Item(
            "pre.escalation",
            _S,
            title,
            "fail",
            "oncall.channels is empty: pages reach nobody.",
            "add a paging channel (pagerduty, slack, webhook or email) under oncall.channels",
        )
    fake = [s.notify for s in oncall.escalation if placeholder_in(s.notify)]
    fake += [
        f"owner {o.name} <{o.email}>" for o in owners if placeholder_in(o.name) or placeholder_in(o.email)
    ]
    if fake:
        return Item(
            "pre.escalation",
            _S,
            title,
            "fail",
            f"placeholder targets: {', '.join(fake)}.",
            "name real people in oncall.escalation and feature.owners",
        )
    steps = "; ".join(f"{s.delay_s / 60:g} min: {s.notify}" for s in oncall.escalation)
    return Item(
        "pre.escalation",
        _S,
        title,
        "pass",
        f"{steps}; channels {', '.join(oncall.channels)}.",
        automated=True,
    )


def dashboard(ctx: CheckContext) -> Item:
    """A monitoring dashboard."""
    return _answer(
        ctx,
        "dashboard",
        "pre.dashboard",
        "Monitoring dashboard ready",
        "set feature.dashboard to the URL of the feature's dashboard (latency, tokens, errors, cost)",
    )


PRESHIP: tuple[Callable[[CheckContext], Item], ...] = (
    problem,
    success_metric,
    non_ai,
    failure_modes,
    detection,
    fallback,
    affordable,
    ceiling,
    kill_switch,
    escalation,
    dashboard,
)
"""The pre-ship checks, in report order."""

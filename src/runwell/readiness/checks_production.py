"""Production readiness: the gateway is ready and answering, its dependencies reachable, latency
within the SLO, records flowing, the deployed spec the repository's, and runbooks an operator can
follow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runwell.readiness.context import CheckContext
from runwell.readiness.items import Item
from runwell.readiness.runbooks import REQUIRED_SECTIONS, review_runbook, top_failure_modes

__all__ = ["PRODUCTION", "latency_objective"]

_S = "production"
_STATIC = "not checked in static mode: run runwell check --live URL"
_LIVE_FIX = "start the gateway with this spec and run runwell check --live URL"


def _live_only(id_: str, title: str, ctx: CheckContext) -> Item | None:
    if ctx.live is None:
        return Item(id_, _S, title, "n/a", _STATIC, _LIVE_FIX)
    if ctx.live.error:
        return Item(id_, _S, title, "fail", ctx.live.error, _LIVE_FIX)
    return None


def readyz(ctx: CheckContext) -> Item:
    """Live ``/readyz`` is green for the feature."""
    title = "Live /readyz green"
    early = _live_only("prod.readyz", title, ctx)
    if early is not None:
        return early
    assert ctx.live is not None
    body, status = ctx.live.readyz, ctx.live.readyz_status
    feature = body.get("features", {}).get(ctx.loaded.name, {})
    state = feature.get("status", "absent")
    evidence = (
        f"GET /readyz?feature={ctx.loaded.name}: {status}, gateway {body.get('status')}, feature {state}"
    )
    if feature.get("killed"):
        evidence += ", killed"
    if status == 200 and state == "ready" and not feature.get("killed"):
        return Item("prod.readyz", _S, title, "pass", evidence + ".", automated=True)
    return Item(
        "prod.readyz",
        _S,
        title,
        "fail",
        evidence + ".",
        "read /readyz with the admin token: fix the failing check it names",
    )


def answering(ctx: CheckContext) -> Item:
    """A model is loaded and answers a probe request."""
    title = "Model loaded and answering"
    early = _live_only("prod.model_answering", title, ctx)
    if early is not None:
        return early
    assert ctx.live is not None
    answer = ctx.live.answer
    if answer is None:
        return Item(
            "prod.model_answering",
            _S,
            title,
            "fail",
            ctx.live.answer_error or "no probe sent",
            "set RUNWELL_ADMIN_TOKEN (and RUNWELL_API_KEY) for the live probes",
        )
    served = answer.headers.get("x-runwell-served-by", "")
    evidence = f"probe request {answer.headers.get('x-request-id', '?')}: {answer.status}, served by {served}"
    if answer.status == 200 and served and not served.startswith("degraded"):
        return Item("prod.model_answering", _S, title, "pass", evidence + ".", automated=True)
    return Item(
        "prod.model_answering",
        _S,
        title,
        "fail",
        evidence + ".",
        "find why no variant answered: runwell requests show ID, then the provider's runbook",
    )


def dependencies(ctx: CheckContext) -> Item:
    """The store, audit log, recorder and providers are reachable."""
    title = "Dependencies reachable (store, audit log, recorder, providers)"
    early = _live_only("prod.dependencies", title, ctx)
    if early is not None:
        return early
    assert ctx.live is not None
    body = ctx.live.readyz
    checks: dict[str, Any] = dict(body.get("checks", {}))
    providers = body.get("features", {}).get(ctx.loaded.name, {}).get("providers", {})
    checks.update({f"provider {k}": v for k, v in providers.items()})
    bad = [
        f"{k} ({v.get('error') or v.get('error_class')})"
        for k, v in checks.items()
        if v.get("status") != "ok"
    ]
    if not checks:
        return Item("prod.dependencies", _S, title, "fail", "/readyz listed no checks.", _LIVE_FIX)
    if bad:
        return Item(
            "prod.dependencies",
            _S,
            title,
            "fail",
            f"failing: {', '.join(bad)}.",
            "restore the failing dependency; its runbook says how",
        )
    return Item("prod.dependencies", _S, title, "pass", f"ok: {', '.join(checks)}.", automated=True)


def latency_objective(ctx: CheckContext) -> tuple[float, str] | None:
    """The p95 latency bound in ms the spec promises, and where it says so."""
    for alert in ctx.loaded.spec.alerts:
        if alert.kind == "burn_rate" and alert.slo is not None and alert.slo.latency_ms is not None:
            return alert.slo.latency_ms, f"SLO of alert {alert.name}"
    for alert in ctx.loaded.spec.alerts:
        if alert.metric in ("latency_p95_ms", "latency_p99_ms") and alert.op in (">", ">="):
            assert alert.threshold is not None
            return alert.threshold, f"alert {alert.name} ({alert.metric} {alert.op} {alert.threshold:g})"
    return None


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def latency(ctx: CheckContext) -> Item:
    """Recent latency within the SLO."""
    title = "Latency within the SLO over recent records"
    bound = latency_objective(ctx)
    if bound is None:
        return Item(
            "prod.latency",
            _S,
            title,
            "fail",
            "no latency SLO: no latency alert or latency SLI.",
            "add an alert on latency_p95_ms (or a burn_rate alert with sli: latency)",
        )
    window = ctx.thresholds.records_window_s
    rows = ctx.query(
        "SELECT latency_ms FROM requests WHERE feature = ? AND started_at >= ? AND latency_ms IS NOT NULL "
        "AND outcome IN ('served', 'fallback')",
        (ctx.loaded.name, ctx.now - window),
        "read recent latencies",
    )
    if not rows:
        return Item(
            "prod.latency",
            _S,
            title,
            "fail",
            f"no answered requests in the last {window / 3600:g} h {ctx.store_note}".strip() + ".",
            "serve the feature (or point --db at the gateway's store) so latency can be measured",
        )
    p95 = _p95([float(r[0]) for r in rows])
    evidence = f"p95 {p95:.0f} ms over {len(rows)} requests, bound {bound[0]:g} ms ({bound[1]})"
    if p95 > bound[0]:
        return Item(
            "prod.latency",
            _S,
            title,
            "fail",
            evidence + ".",
            "find the slow provider or variant (runwell requests list) before cutover",
        )
    return Item("prod.latency", _S, title, "pass", evidence + ".", automated=True)


def records(ctx: CheckContext) -> Item:
    """Request records are flowing into the store."""
    title = "Records flowing"
    window = ctx.thresholds.records_window_s
    rows = ctx.query(
        "SELECT count(*), max(started_at) FROM requests WHERE feature = ? AND started_at >= ?",
        (ctx.loaded.name, ctx.now - window),
        "count recent records",
    )
    count = int(rows[0][0]) if rows else 0
    recorder = None
    if ctx.live is not None and not ctx.live.error:
        recorder = ctx.live.readyz.get("checks", {}).get("recorder", {}).get("status")
    if count == 0:
        return Item(
            "prod.records",
            _S,
            title,
            "fail",
            f"no records of {ctx.loaded.name} in the last {window / 3600:g} h {ctx.store_note}".strip() + ".",
            "serve traffic through the gateway, and point --db at the store it writes",
        )
    if recorder not in (None, "ok"):
        return Item(
            "prod.records",
            _S,
            title,
            "fail",
            f"{count} records, but /readyz recorder is {recorder}.",
            "restore the record store the gateway writes to",
        )
    age = (ctx.now - float(rows[0][1])) / 60
    return Item(
        "prod.records",
        _S,
        title,
        "pass",
        f"{count} records in the last {window / 3600:g} h, the latest {age:.0f} min ago.",
        automated=True,
    )


def _hash(version: str) -> str:
    return version.rsplit("+", 1)[-1]


def spec_version(ctx: CheckContext) -> Item:
    """The deployed spec is the repository's."""
    title = "Deployed spec version equals the repository's"
    here = ctx.loaded.version
    if ctx.live is not None and not ctx.live.error:
        entry = ctx.live.answer_entry
        if entry is None:
            return Item(
                "prod.spec_version",
                _S,
                title,
                "fail",
                "no signed audit entry found for the probe request, so the served version is unknown.",
                "set RUNWELL_ADMIN_TOKEN so the probe and its audit entry can be read",
            )
        served, where = str(entry.get("spec_version")), "the probe's signed audit entry"
    else:
        rows = ctx.query(
            "SELECT spec_version FROM requests WHERE feature = ? AND spec_version IS NOT NULL "
            "ORDER BY started_at DESC LIMIT 1",
            (ctx.loaded.name,),
            "read the served spec version",
        )
        if not rows:
            return Item(
                "prod.spec_version",
                _S,
                title,
                "fail",
                f"no served request to compare with {ctx.store_note}".strip() + ".",
                "serve the feature, or run with --live URL",
            )
        served, where = str(rows[0][0]), "the latest request record"
    evidence = f"served {served} ({where}); repository {here}"
    if _hash(served) != _hash(here):
        return Item(
            "prod.spec_version",
            _S,
            title,
            "fail",
            evidence + ": different content.",
            "deploy the repository's spec (restart runwell serve on it) or commit what is deployed",
        )
    return Item("prod.spec_version", _S, title, "pass", evidence + ".", automated=True)


def runbooks(ctx: CheckContext) -> Item:
    """Runbooks for the top three failure modes, complete and without placeholders."""
    title = "Runbooks for the top three failure modes: all sections, no placeholders"
    top = top_failure_modes(ctx.loaded.spec.failure_modes)
    if not top:
        return Item(
            "prod.runbooks",
            _S,
            title,
            "fail",
            "no failure modes, so no runbooks.",
            "declare failure_modes: with a runbook each",
        )
    findings = [review_runbook(m, ctx.base) for m in top]
    bad = [f"{f.path}: {'; '.join(f.problems)}" for f in findings if f.problems]
    if bad:
        return Item(
            "prod.runbooks",
            _S,
            title,
            "fail",
            " | ".join(bad) + ".",
            f"complete each runbook: sections {', '.join(REQUIRED_SECTIONS)}, no TODO text",
        )
    names = ", ".join(f.path for f in findings)
    return Item("prod.runbooks", _S, title, "pass", f"{names}: every section, no placeholders.")


PRODUCTION: tuple[Callable[[CheckContext], Item], ...] = (
    readyz,
    answering,
    dependencies,
    latency,
    records,
    spec_version,
    runbooks,
)
"""The production readiness checks, in report order."""

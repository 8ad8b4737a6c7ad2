"""Start-up wiring of the operations layer: alerts, paging, on-call, incidents, reviews, drills.

Builds the :class:`~runwell.gateway.extension.Extension` the gateway mounts:

=====================  =======  ==================================================================
job                    every    what
=====================  =======  ==================================================================
``operate-evaluate``   5 s      take or renew each feature's ``operate/<feature>`` lease; for the
                                features it holds, evaluate the alerts, open incidents, escalate,
                                fill timelines (``runwell.operate``)
``operate-dispatch``   0.5 s    send the pending pages of the features it holds
``operate-review``     1 s      write the answers the request hook queued for human review
``readiness-decay``    1 h      for the features it holds, the decay report; a decay mode past its
                                threshold emits a ``decay_<mode>`` event (``runwell.readiness.decay``)
=====================  =======  ==================================================================

Every replica runs the jobs; only a feature's lease holder evaluates and pages it, so two gateways
on one database send one page per alert (and the page outbox's ids would stop a second one
anyway), and replicas serving different features each evaluate their own.
``$RUNWELL_OPERATE_EVERY_S`` sets the evaluation period, ``$RUNWELL_DECAY_EVERY_S`` the decay period;
``$RUNWELL_PUBLIC_URL`` is where people reach this gateway, for the signed links in pages.

Routes (admin token, actor ``admin-api[:x-runwell-actor]``), plus the signed page links:

=============================================  ====================================================
``GET /admin/incidents?feature=&state=``       incidents, newest first
``GET /admin/incidents/{id}``                  one incident: timeline, pages, review
``POST /admin/incidents/{id}/ack``             acknowledge (escalation stops)
``POST /admin/incidents/{id}/resolve``         ``{"reason"}``: resolve (review due)
``GET /admin/alerts?feature=``                 alert states
``GET /admin/oncall?feature=``                 on call now and next, handoff days left
``GET /admin/review?feature=&state=``          the review queue
``GET /admin/review/{id}``                     one item with its prompt and answer
``POST /admin/review/{id}/label``              ``{"label", "correction"?}``
``POST /admin/drills``                         ``{"feature", "scenario"}``: arm a drill
``POST /admin/drills/{id}/finish``             ``{"passed", "result"}``: disarm, store the result
``GET|POST /operate/incidents/{id}/ack?t=``    the signed link in a page (GET shows, POST acts)
``GET|POST /operate/incidents/{id}/resolve?t=``
=============================================  ====================================================
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from runwell.errors import AuthError, ConfigError, NotFoundError, RequestError
from runwell.gateway.asgi import Receive, Scope, Send, header, read_body, send_bytes, send_json
from runwell.gateway.background import Job
from runwell.gateway.context import RequestContext
from runwell.gateway.extension import Extension, ExtensionContext, Handler, RouteAuth, Routes
from runwell.operate import api, lifecycle
from runwell.operate.channels import build_channels
from runwell.operate.dispatch import Dispatcher, FeatureChannels
from runwell.operate.drills import finish_drill, start_drill
from runwell.operate.engine import EVENT_METRICS, Evaluator, FeatureOps
from runwell.operate.feed import ChangeFeed, FeatureIndex
from runwell.operate.incidents import get_incident
from runwell.operate.lease import Lease, holder_id
from runwell.operate.linkpage import incident_page
from runwell.operate.links import LinkSigner
from runwell.operate.oncall_plan import compile_oncall
from runwell.operate.review import ReviewSampler, label_item, queue_items
from runwell.operate.rules import compile_rules
from runwell.readiness.decay import collect_decay_events
from runwell.spec.operate import PagerDutyChannel

__all__ = ["build_operations"]

_log = logging.getLogger("runwell.gateway")
_HTML = (b"content-type", b"text/html; charset=utf-8")
_PAGE_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
    (b"referrer-policy", b"no-referrer"),  # the token is in the URL
    (b"cache-control", b"no-store"),
]


@dataclass
class _Status:
    held: list[str] = field(default_factory=list)
    firing: list[dict[str, Any]] = field(default_factory=list)
    open_incidents: list[dict[str, Any]] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    last_error: str | None = None


class _Hooks:
    """The request hook: review sampling only (in memory); routing is left to others."""

    def __init__(self, sampler: ReviewSampler) -> None:
        self._sampler = sampler

    def wants(self, feature: str) -> bool:
        return self._sampler.wants(feature)

    def route(self, ctx: RequestContext) -> None:
        return None

    def answered(self, ctx: RequestContext) -> None:
        if ctx.feature is None or ctx.shadow_of is not None:
            return
        answered = ctx.http_status == 200 and ctx.outcome in ("served", "fallback")
        self._sampler.consider(ctx.request_id, ctx.feature.name, ctx.guardrails, answered)


def build_operations(context: ExtensionContext) -> Extension:
    """The operations layer of a gateway (see the module docstring)."""
    environ = context.settings.environ
    every_s = _positive(environ.get("RUNWELL_OPERATE_EVERY_S", "5"), "RUNWELL_OPERATE_EVERY_S")
    public_url = environ.get("RUNWELL_PUBLIC_URL") or None
    features: dict[str, FeatureOps] = {}
    models: dict[str, set[str]] = {}
    status = _Status()
    for loaded in context.specs:
        plan = compile_oncall(loaded)
        channels = build_channels(loaded.spec.oncall, environ, feature=loaded.name, console_url=public_url)
        for name, problem in channels.problems.items():
            status.problems[f"{loaded.name}/{name}"] = problem
            # A warning, not an error: a new feature's TODO channels should not read as a crash;
            # /readyz keeps listing the problem where an operator looks.
            _log.warning("feature %s: paging channel %s is not set up: %s", loaded.name, name, problem)
        tickets = tuple(
            n for n, c in loaded.spec.oncall.channels.items() if not isinstance(c, PagerDutyChannel)
        )
        features[loaded.name] = FeatureOps(
            loaded, compile_rules(loaded), plan, channels, loaded.spec.oncall.review, tickets
        )
        for variant in loaded.spec.variants.values():
            models.setdefault(f"{variant.provider}/{variant.model}", set()).add(loaded.name)
    if any(f.channels.names() for f in features.values()) and public_url is None:
        _log.warning("RUNWELL_PUBLIC_URL is not set: pages will carry no acknowledge/resolve links")
    db = context.store.db
    event_windows = [r.window_s for f in features.values() for r in f.rules if r.metric in EVENT_METRICS]
    feed = ChangeFeed(db, FeatureIndex(features, models), keep_s=max([3600.0, *event_windows]))
    holder = holder_id()
    leases = {
        name: Lease(db, f"operate/{name}", holder, ttl_s=max(3 * every_s, 10.0), clock=time.time)
        for name in features
    }
    evaluator = Evaluator(db, features, feed)
    links = LinkSigner(context.trail.user_hash_key, public_url)
    dispatcher = Dispatcher(
        db,
        {n: FeatureChannels(f.channels, f.plan, {r.name: r for r in f.rules}) for n, f in features.items()},
        links,
    )
    sampler = ReviewSampler({n: f.review for n, f in features.items()})

    async def evaluate() -> None:
        try:
            status.held = await asyncio.to_thread(
                lambda: [n for n, lease in leases.items() if lease.acquire()]
            )
            if status.held:
                done = await asyncio.to_thread(evaluator.run, time.time(), status.held)
                for overdue in done.overdue_reviews:
                    context.events.emit("incident_review_overdue", overdue, subject=overdue["incident"])
                for opened in done.opened:
                    _log.warning("incident %s opened", opened)
            status.firing, status.open_incidents = await asyncio.to_thread(_snapshot, context)
            status.last_error = None
        except Exception as exc:
            status.last_error = f"{type(exc).__name__}: {exc}"
            raise

    async def dispatch() -> None:
        if status.held:
            await dispatcher.tick(status.held)

    async def flush_reviews() -> None:
        drained = sampler.drain()
        if drained:
            await asyncio.to_thread(queue_items, db, drained)

    decay_every_s = _positive(environ.get("RUNWELL_DECAY_EVERY_S", "3600"), "RUNWELL_DECAY_EVERY_S")

    async def decay() -> None:
        held = list(status.held)
        if held:
            found = await asyncio.to_thread(
                collect_decay_events, context.specs, db, context.log, time.time(), features=held
            )
            for kind, details in found:
                context.events.emit(kind, details)

    async def close() -> None:
        await flush_reviews()
        held, status.held = status.held, []
        for name in held:
            await asyncio.to_thread(leases[name].release)
        for feature in features.values():
            await feature.channels.aclose()

    routes = _Routes(context, features, links, status)
    return Extension(
        "operations",
        jobs=[
            Job("operate-evaluate", every_s, evaluate),
            Job("operate-dispatch", 0.5, dispatch),
            Job("operate-review", 1.0, flush_reviews),
            Job("readiness-decay", decay_every_s, decay),
        ],
        on_close=[close],
        hooks=_Hooks(sampler),
        mount=routes.mount,
        status=lambda: {
            "operations": {
                "evaluates": sorted(status.held),
                "firing": status.firing,
                "open_incidents": status.open_incidents,
                **({"channel_problems": status.problems} if status.problems else {}),
                **({"last_error": status.last_error} if status.last_error else {}),
            }
        },
    )


def _positive(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {text!r}")
    return value


def _snapshot(context: ExtensionContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    db = context.store.db
    firing = [
        {"feature": r[0], "alert": r[1], "since": r[2], "incident": r[3]}
        for r in db.query(
            "SELECT feature, name, since, incident_id FROM alerts WHERE state = 'firing' ORDER BY since",
            action="list firing alerts",
        )
    ]
    incidents = [
        {"id": r[0], "feature": r[1], "severity": r[2], "state": r[3], "title": r[4]}
        for r in db.query(
            "SELECT id, feature, severity, state, title FROM incidents WHERE state <> 'resolved' "
            "ORDER BY opened_at",
            action="list open incidents",
        )
    ]
    return firing, incidents


def _query(scope: Scope) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"))
    return {k: v[-1] for k, v in parsed.items()}


class _Routes:
    """The admin and link routes (see the module docstring)."""

    def __init__(
        self, context: ExtensionContext, features: dict[str, FeatureOps], links: LinkSigner, status: _Status
    ) -> None:
        self._ctx = context
        self._features = features
        self._links = links
        self._status = status
        self._auth: RouteAuth | None = None

    def mount(self, auth: RouteAuth) -> Routes:
        self._auth = auth
        fixed: dict[tuple[str, str], Handler] = {
            ("GET", "/admin/incidents"): self._incidents,
            ("GET", "/admin/alerts"): self._alerts,
            ("GET", "/admin/oncall"): self._oncall,
            ("GET", "/admin/review"): self._reviews,
            ("POST", "/admin/drills"): self._drill_start,
        }
        return Routes(fixed=fixed, prefixed=self._prefixed)

    # -- plumbing ---------------------------------------------------------------------------------

    def _actor(self, scope: Scope) -> str:
        assert self._auth is not None
        self._auth.admin.check(header(scope, b"authorization"))
        name = header(scope, b"x-runwell-actor")
        return "admin-api" if not name else "admin-api:" + name.decode("utf-8", "replace")[:80]

    async def _body(self, receive: Receive) -> dict[str, Any]:
        raw = await read_body(receive, 64 * 1024, timeout_s=self._ctx.settings.limits.body_timeout_s)
        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError("request body must be a JSON object")
        return body

    def _feature(self, name: str | None) -> str | None:
        if name is not None and name not in self._features:
            raise NotFoundError(
                f"no feature {name!r} on this gateway; it serves {', '.join(sorted(self._features))}"
            )
        return name

    async def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(fn)
        except ConfigError as exc:
            raise RequestError(str(exc)) from None

    def _prefixed(self, method: str, path: str) -> Handler | None:
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["admin", "incidents"]:
            incident = parts[2]
            if method == "GET" and len(parts) == 3:
                return lambda s, r, send, rid: self._incident(s, send, incident)
            if method == "POST" and len(parts) == 4 and parts[3] in ("ack", "resolve"):
                return lambda s, r, send, rid: self._incident_act(s, r, send, incident, parts[3])
        if len(parts) >= 3 and parts[:2] == ["admin", "review"]:
            item = parts[2]
            if method == "GET" and len(parts) == 3:
                return lambda s, r, send, rid: self._review(s, send, item)
            if method == "POST" and len(parts) == 4 and parts[3] == "label":
                return lambda s, r, send, rid: self._label(s, r, send, item)
        if method == "POST" and len(parts) == 4 and parts[:2] == ["admin", "drills"] and parts[3] == "finish":
            return lambda s, r, send, rid: self._drill_finish(s, r, send, parts[2])
        link = len(parts) == 4 and parts[:2] == ["operate", "incidents"] and parts[3] in ("ack", "resolve")
        if link and method in ("GET", "POST"):
            return lambda s, r, send, rid: self._link(s, r, send, parts[2], parts[3], method)
        return None

    # -- incidents, alerts, on-call -----------------------------------------------------------------

    async def _incidents(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self._actor(scope)
        q = _query(scope)
        feature, state = self._feature(q.get("feature")), q.get("state")
        try:
            since = float(q["since"]) if "since" in q else None
        except ValueError:
            raise RequestError("'since' must be Unix seconds", param="since") from None
        store = self._ctx.store
        await send_json(
            send,
            200,
            await self._call(lambda: api.incidents_list(store, feature=feature, state=state, since=since)),
        )

    async def _incident(self, scope: Scope, send: Send, incident_id: str) -> None:
        self._actor(scope)
        store = self._ctx.store
        await send_json(send, 200, await self._call(lambda: api.incident_detail(store, incident_id)))

    async def _incident_act(
        self, scope: Scope, receive: Receive, send: Send, incident_id: str, action: str
    ) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        changed = await self._act(incident_id, action, actor, "admin-api", str(body.get("reason") or ""))
        await send_json(send, 200, {"id": incident_id, "action": action, "changed": changed})

    async def _act(self, incident_id: str, action: str, actor: str, via: str, reason: str) -> bool:
        log, store = self._ctx.log, self._ctx.store
        if action == "ack":
            return bool(
                await self._call(lambda: lifecycle.acknowledge(log, incident_id, actor=actor, via=via))
            )
        incident = await self._call(lambda: get_incident(store.db, incident_id))
        feature = self._features.get(incident.feature)
        days = feature.loaded.spec.oncall.review_due_days if feature is not None else 14
        return bool(
            await self._call(
                lambda: lifecycle.resolve(
                    log, store.db, incident_id, actor=actor, via=via, reason=reason, review_due_days=days
                )
            )
        )

    async def _alerts(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self._actor(scope)
        feature, store = self._feature(_query(scope).get("feature")), self._ctx.store
        await send_json(send, 200, await self._call(lambda: api.alert_states(store, feature=feature)))

    async def _oncall(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self._actor(scope)
        feature = self._feature(_query(scope).get("feature"))
        plans = {n: f.plan for n, f in self._features.items()}
        await send_json(send, 200, api.oncall_summary(plans, feature))

    # -- review queue ---------------------------------------------------------------------------------

    async def _reviews(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        self._actor(scope)
        q = _query(scope)
        feature, state, store = self._feature(q.get("feature")), q.get("state"), self._ctx.store
        await send_json(
            send, 200, await self._call(lambda: api.review_list(store, feature=feature, state=state))
        )

    async def _review(self, scope: Scope, send: Send, item_id: str) -> None:
        self._actor(scope)
        store = self._ctx.store
        await send_json(send, 200, await self._call(lambda: api.review_detail(store, item_id)))

    async def _label(self, scope: Scope, receive: Receive, send: Send, item_id: str) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        label, correction = body.get("label"), body.get("correction")
        if not isinstance(label, str) or not label.strip():
            raise RequestError("'label' must be a non-empty string, e.g. good, bad or unsafe", param="label")
        if correction is not None and not isinstance(correction, str):
            raise RequestError(
                "'correction' must be a string: the answer it should have been", param="correction"
            )
        db = self._ctx.store.db
        item = await self._call(
            lambda: label_item(db, item_id, label=label, correction=correction, reviewer=actor)
        )
        await send_json(send, 200, item.to_dict())

    # -- drills -----------------------------------------------------------------------------------

    async def _drill_start(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        feature, scenario = body.get("feature"), body.get("scenario")
        if not isinstance(feature, str) or not isinstance(scenario, str) or not scenario:
            raise RequestError("'feature' and 'scenario' must be non-empty strings")
        self._feature(feature)
        loaded = self._features[feature].loaded
        ctx = self._ctx
        plan = await self._call(
            lambda: start_drill(
                ctx.store, ctx.log, loaded, scenario, actor=actor, user_hash_key=ctx.trail.user_hash_key
            )
        )
        await asyncio.to_thread(ctx.protection.levers.refresh)
        await send_json(send, 201, plan.to_dict())

    async def _drill_finish(self, scope: Scope, receive: Receive, send: Send, drill_id: str) -> None:
        actor = self._actor(scope)
        body = await self._body(receive)
        passed, result = bool(body.get("passed")), body.get("result") or {}
        if not isinstance(result, dict):
            raise RequestError("'result' must be an object", param="result")
        ctx = self._ctx
        await self._call(
            lambda: finish_drill(ctx.store, ctx.log, drill_id, passed=passed, result=result, actor=actor)
        )
        await asyncio.to_thread(ctx.protection.levers.refresh)
        await send_json(send, 200, {"id": drill_id, "finished": True, "passed": passed})

    # -- the signed link in a page --------------------------------------------------------------------

    async def _link(
        self, scope: Scope, receive: Receive, send: Send, incident_id: str, action: str, method: str
    ) -> None:
        token = _query(scope).get("t", "")
        if not self._links.check(incident_id, "ack" if action == "ack" else "resolve", token):
            raise AuthError("this link is not valid for that incident and action; use the link from the page")
        store = self._ctx.store
        done = None
        if method == "POST":
            raw = await read_body(receive, 16 * 1024, timeout_s=self._ctx.settings.limits.body_timeout_s)
            form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            actor = (form.get("actor") or "").strip()[:80]
            reason = (form.get("reason") or "").strip()[:500]
            if not actor:
                raise RequestError("say who you are (the 'actor' field): it goes into the audit log")
            if action == "resolve" and not reason:
                raise RequestError("say what fixed it (the 'reason' field): it goes into the audit log")
            changed = await self._act(incident_id, action, f"link:{actor}", "link", reason or "acknowledged")
            verb = "acknowledged" if action == "ack" else "resolved"
            done = (
                f"{verb.capitalize()}, thank you."
                if changed
                else f"Nothing to do: the incident was already {verb}."
            )
        incident = await self._call(lambda: get_incident(store.db, incident_id))
        text = await asyncio.to_thread(self._runbook_text, incident.feature, incident.runbook)
        page = incident_page(incident, action=action, token=token, runbook_text=text, done=done)
        await send_bytes(send, 200, page.encode(), _PAGE_HEADERS, content_type=_HTML)

    def _runbook_text(self, feature: str, runbook: str | None) -> str | None:
        ops = self._features.get(feature)
        if ops is None or runbook is None or runbook.startswith(("http://", "https://")):
            return None
        base = ops.loaded.base_dir.resolve()
        path = (base / runbook).resolve()
        if not path.is_relative_to(base) or not path.is_file():
            return None
        return path.read_text(encoding="utf-8", errors="replace")[:50_000]

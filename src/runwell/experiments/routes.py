"""HTTP routes of the experiment layer: user feedback, and rollouts behind the admin token.

==============================================  ===============================================
``POST /v1/feedback``                           ``{"request_id", "score"?, "label"?, "comment"?}``
                                                with a client key (see :mod:`.feedback`)
``GET /admin/rollouts``                         every feature's rollout state
``GET /admin/rollouts/{feature}``               its state, history and (A/B) report
``GET /admin/rollouts/{feature}/explain``       the history as ``runwell rollout explain`` prints it
``POST /admin/rollouts/{feature}/start``        ``{"reason", "candidate"?}``: the spec's strategy
``POST /admin/rollouts/{feature}/promote``      ``{"reason"}``; likewise ``pause``, ``resume``,
                                                ``abort``
==============================================  ===============================================

Changes are made by the same audited functions as the CLI (:mod:`.actions`), with the actor
``admin-api`` (or ``admin-api:<x-runwell-actor>``), and reach this replica at once and the others
within their poll (half a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, cast

import orjson

from runwell.audit.log import AuditLog
from runwell.catalog import Catalog
from runwell.errors import ConfigError, NotFoundError, RequestError
from runwell.experiments import actions
from runwell.experiments.cache import RolloutCache
from runwell.experiments.config import Experiment, strategy_of
from runwell.experiments.controller import Controller
from runwell.experiments.explain import ab_report, explain_text, history
from runwell.experiments.feedback import parse_feedback, store_feedback
from runwell.experiments.state import Change, load_state
from runwell.gateway.asgi import Receive, Scope, Send, header, read_body, send_json
from runwell.gateway.extension import Handler, RouteAuth, Routes
from runwell.store import Database

__all__ = ["ExperimentRoutes"]

_PREFIX = "/admin/rollouts/"
_ACTIONS = ("start", "promote", "pause", "resume", "abort")


class _Conflict(RequestError):
    """The rollout's state does not allow the change asked for (409)."""

    status = 409


class ExperimentRoutes:
    """The handlers; every database call runs in a worker thread."""

    def __init__(
        self,
        db: Database,
        log: AuditLog,
        catalog: Catalog,
        experiments: Mapping[str, Experiment],
        cache: RolloutCache,
        controller: Controller,
        auth: RouteAuth,
        *,
        body_timeout_s: float = 30.0,
    ) -> None:
        self._db = db
        self._log = log
        self._catalog = catalog
        self._experiments = dict(experiments)
        self._cache = cache
        self._controller = controller
        self._auth = auth
        self._body_timeout_s = body_timeout_s

    def routes(self) -> Routes:
        """What the gateway mounts."""
        return Routes(
            fixed={
                ("POST", "/v1/feedback"): self.feedback,
                ("GET", "/admin/rollouts"): self.list_rollouts,
            },
            prefixed=self._prefixed,
        )

    def _prefixed(self, method: str, path: str) -> Handler | None:
        if not path.startswith(_PREFIX):
            return None
        parts = path[len(_PREFIX) :].split("/")
        if method == "GET" and len(parts) == 1 and parts[0]:
            return lambda scope, receive, send, rid: self.show(scope, send, parts[0])
        if method == "GET" and len(parts) == 2 and parts[1] == "explain":
            return lambda scope, receive, send, rid: self.explain(scope, send, parts[0])
        if method == "POST" and len(parts) == 2 and parts[1] in _ACTIONS:
            return lambda scope, receive, send, rid: self.change(scope, receive, send, parts[0], parts[1])
        return None

    # -- helpers ---------------------------------------------------------------------------------

    async def _body(self, receive: Receive) -> dict[str, Any]:
        raw = await read_body(receive, 64 * 1024, timeout_s=self._body_timeout_s)
        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as exc:
            raise RequestError(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError("request body must be a JSON object")
        return body

    def _actor(self, scope: Scope) -> str:
        self._auth.admin.check(header(scope, b"authorization"))
        name = header(scope, b"x-runwell-actor")
        return "admin-api" if not name else "admin-api:" + name.decode("utf-8", "replace")[:80]

    def _experiment(self, feature: str) -> Experiment:
        found = self._experiments.get(feature)
        if found is None:
            raise NotFoundError(
                f"no feature {feature!r} on this gateway; it serves {', '.join(sorted(self._experiments))}",
                param="feature",
                code="model_not_found",
            )
        return found

    # -- feedback ----------------------------------------------------------------------------------

    async def feedback(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """``POST /v1/feedback``."""
        key_id = self._auth.keys.authenticate(header(scope, b"authorization"))
        parsed = parse_feedback(await self._body(receive))
        # The answer's record is written a moment after the answer: give a fresh one a chance.
        for attempt in range(4):
            try:
                stored = await asyncio.to_thread(store_feedback, self._db, parsed, api_key_id=key_id)
                break
            except NotFoundError:
                if attempt == 3:
                    raise
                await asyncio.sleep(0.25)
        await send_json(send, 201, stored)

    # -- rollouts ----------------------------------------------------------------------------------

    async def list_rollouts(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        """``GET /admin/rollouts``."""
        self._auth.admin.check(header(scope, b"authorization"))
        data = {}
        for feature in sorted(self._experiments):
            state = await asyncio.to_thread(load_state, self._db, feature)
            data[feature] = state.describe()
        await send_json(send, 200, {"object": "list", "data": data})

    async def show(self, scope: Scope, send: Send, feature: str) -> None:
        """``GET /admin/rollouts/{feature}``."""
        self._auth.admin.check(header(scope, b"authorization"))
        experiment = self._experiment(feature)
        state = await asyncio.to_thread(load_state, self._db, feature)
        rollout_id, looks = await asyncio.to_thread(history, self._db, feature)
        current = (
            state.rollout if state.rollout is not None and state.rollout.rollout_id == rollout_id else None
        )
        await send_json(
            send,
            200,
            {
                "feature": feature,
                **state.describe(),
                "history": [look.to_dict() for look in looks],
                "report": ab_report(current, looks, experiment.spec.winner_metric),
            },
        )

    async def explain(self, scope: Scope, send: Send, feature: str) -> None:
        """``GET /admin/rollouts/{feature}/explain``."""
        self._auth.admin.check(header(scope, b"authorization"))
        experiment = self._experiment(feature)
        state = await asyncio.to_thread(load_state, self._db, feature)
        rollout_id, looks = await asyncio.to_thread(history, self._db, feature)
        text = explain_text(feature, state, rollout_id, looks, experiment.spec.winner_metric)
        await send_json(send, 200, {"feature": feature, "rollout_id": rollout_id, "text": text})

    async def change(self, scope: Scope, receive: Receive, send: Send, feature: str, action: str) -> None:
        """``POST /admin/rollouts/{feature}/{action}``."""
        actor = self._actor(scope)
        experiment = self._experiment(feature)
        body = await self._body(receive)
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise RequestError(
                "'reason' must be a non-empty string: it goes into the signed audit log", param="reason"
            )
        run: Callable[[], Change]
        if action == "start":
            candidate = body.get("candidate", experiment.spec.candidate)
            if not isinstance(candidate, str) or not candidate:
                raise RequestError(
                    "'candidate' must name a variant (the spec's rollout.candidate is used when absent)",
                    param="candidate",
                )
            variants = frozenset(self._catalog.features[feature].variants)

            def run() -> Change:
                return actions.start(
                    self._log,
                    feature,
                    spec_default=experiment.default_variant,
                    candidate=candidate,
                    strategy=strategy_of(experiment.spec),
                    variants=variants,
                    actor=actor,
                    reason=reason,
                )

        else:

            def run() -> Change:
                return actions.act(
                    self._log, feature, cast(actions.OperatorAction, action), actor=actor, reason=reason
                )

        try:
            change = await asyncio.to_thread(run)
        except ConfigError as exc:
            raise _Conflict(str(exc), code="rollout_conflict") from None
        self._controller.announce(feature, change)
        await self._controller.moved(feature)
        await send_json(
            send,
            200,
            {
                "feature": feature,
                "action": action,
                "event": change.transition.event.to_dict(),
                **change.after.describe(),
            },
        )

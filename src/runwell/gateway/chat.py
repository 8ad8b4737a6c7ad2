"""``POST /v1/chat/completions``: authenticate, parse, protect, call the models, audit, answer, record.

The pipeline of one request, each stage reading and writing the request's
:class:`~runwell.gateway.context.RequestContext`:

1. authentication (before the body is read), the bounded body read, validation, the feature and
   variant (a flag may pin a user to a variant), the user id (pseudonymised once, when asked);
2. input guardrails: size cap, PII redaction, injection check (a block is a 400 naming it);
3. levers: the kill switch and the traffic flag (the answer is then the feature's degradation);
4. budgets: the request's maximum cost and tokens are reserved (a refusal is a 429 naming the
   budget), settled with the real usage afterwards;
5. the variant chain: breakers, retries, output guardrails, semantic and chain fallbacks
   (:mod:`runwell.gateway.chain`); when every candidate failed, the degradation answers
   (:mod:`runwell.gateway.degrade`), or the failure does;
6. the audit entry is made durable before the last byte of the answer.

Every request leaves exactly one :class:`RequestRecord` (built in a ``finally``, written off the
request path). Errors become OpenAI-shaped error bodies; once a stream has started, an error can
only end it with an error event (never a second status line).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from runwell.audit.entries import Outcome, pseudonymize_user
from runwell.catalog import Catalog, VariantRuntime
from runwell.control.budgets import BudgetExceeded
from runwell.control.flags import (
    PIN_SUFFIX,
    TRAFFIC_SUFFIX,
    EvaluationContext,
    FlagClient,
    Flags,
    pinned_variant,
    served,
)
from runwell.errors import ProviderError, RequestError, Unavailable
from runwell.gateway.answer import relay, send_checked_stream, stream_writer, whole_answer
from runwell.gateway.asgi import (
    BodyDeadlines,
    ClientGone,
    InflightBytes,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_bytes,
    send_error,
)
from runwell.gateway.audit import AuditTrail, AuditUnavailable
from runwell.gateway.auth import KeyCache
from runwell.gateway.chain import ChainFailed, OpenStream, build_request, candidate_requests
from runwell.gateway.context import Ids, RequestContext
from runwell.gateway.deferred import Deferred
from runwell.gateway.degrade import send_degraded, served_by
from runwell.gateway.extension import RequestHooks, hooks_for
from runwell.gateway.guard import GuardrailBlocked, InputGuarded, OutputGuarded
from runwell.gateway.protection import FeatureControls, Protection
from runwell.gateway.protocol import parse_chat_body, parse_model_name
from runwell.gateway.responses import SSE_HEADERS, SseWriter
from runwell.gateway.spend import Spend
from runwell.providers.base import ChatRequest, ChatResult
from runwell.telemetry.record import RequestRecord

__all__ = ["ChatHandler"]

_log = logging.getLogger("runwell.gateway")
_CLIENT_MISTAKES = frozenset({"unsupported_request", "invalid_request"})
_UNAVAILABLE_RETRY = [(b"retry-after", b"5")]


class ChatHandler:
    """The chat-completions endpoint. Holds only references passed in at start-up."""

    def __init__(
        self,
        catalog: Catalog,
        keys: KeyCache,
        submit: Callable[[RequestRecord], None],
        protection: Protection | None = None,
        spend: Spend | None = None,
        deferred: Deferred | None = None,
        *,
        audit: AuditTrail | None = None,
        user_hash_key: bytes = b"",
        max_body_bytes: int = 1 << 20,
        body_timeout_s: float = 30.0,
        deadlines: BodyDeadlines | None = None,
        inflight: InflightBytes | None = None,
        hooks: Sequence[RequestHooks] = (),
    ) -> None:
        self._catalog = catalog
        self._keys = keys
        self._submit = submit
        self._protection = protection or Protection.plain(catalog)
        self._spend = spend or Spend(None)
        self._deferred = deferred
        self._audit = audit
        self._user_hash_key = user_hash_key
        self._max_body = max_body_bytes
        self._body_timeout_s = body_timeout_s
        self._deadlines = deadlines
        self._inflight = inflight
        self._ids = Ids()
        self._flags = Flags()
        self._flags_version = -1
        self._hooks = tuple(hooks)
        # Decided once per feature, not per request: which hooks act on it (see hooks_for).
        self._feature_hooks: dict[str, tuple[RequestHooks, ...]] = {}

    # -- the HTTP layer --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = RequestContext.begin(scope, self._ids, self._protection.levers.current)
        try:
            # The key is checked before the body is read: a client without one is turned away
            # before it can make the gateway buffer anything.
            ctx.key_id = self._keys.authenticate(header(scope, b"authorization"))
            raw = await read_body(
                receive,
                self._max_body,
                deadlines=self._deadlines,
                timeout_s=self._body_timeout_s,
                inflight=self._inflight,
            )
            body = ctx.body = parse_chat_body(raw)
            feature_name, variant_name = parse_model_name(body.model)
            feature = ctx.feature = self._catalog.feature(feature_name)
            ctx.user = self._user_id(
                body.user or _header_text(scope, b"x-runwell-user"), feature.hash_user_ids
            )
            controls = self._protection.features[feature.name]
            ctx.variant = self._choose_variant(ctx, variant_name)
            await self._serve(ctx, controls, send)
        except ClientGone:
            ctx.fail(499, "client_disconnected", "client closed the connection before sending the body")
        except RequestError as exc:
            ctx.fail(exc.status, exc.code or exc.type, exc.message)
            extra = exc.headers() if isinstance(exc, BudgetExceeded) else []
            if isinstance(exc, Unavailable):
                extra = _UNAVAILABLE_RETRY
            await self._error(
                ctx,
                send,
                exc.status,
                exc.message,
                type=exc.type,
                code=exc.code,
                param=exc.param,
                headers=extra,
            )
        except AuditUnavailable as exc:
            ctx.fail(503, "audit_unavailable", str(exc))
            await self._error(ctx, send, 503, str(exc), type="server_error", code="audit_unavailable")
        except ProviderError as exc:
            if exc.error_class in _CLIENT_MISTAKES:
                # The provider refused the request as sent (tools to a model that has none,
                # malformed tool-call arguments): the client's to fix, not an upstream failure.
                ctx.fail(400, exc.error_class, exc.message)
                await self._error(
                    ctx, send, 400, exc.message, type="invalid_request_error", code=exc.error_class
                )
            else:
                ctx.fail(exc.status, exc.error_class, str(exc))
                await self._error(
                    ctx, send, exc.status, str(exc), type="upstream_error", code=exc.error_class
                )
        except Exception as exc:  # a bug of ours: answer honestly, keep the record, log the trace
            _log.exception("internal error on request %s", ctx.request_id)
            # The record keeps the status the client actually received.
            ctx.fail(200 if ctx.response_started else 500, "internal_error", f"{type(exc).__name__}: {exc}")
            message = f"internal error in runwell; quote request id {ctx.request_id}"
            with contextlib.suppress(Exception):  # the connection may be gone as well
                await self._error(ctx, send, 500, message, type="server_error", code="internal_error")
        finally:
            hooks = self._hooks if ctx.feature is None else self._hooks_of(ctx.feature.name)
            for hook in hooks:
                try:
                    hook.answered(ctx)
                except Exception:  # a hook's bug must not cost the request its record
                    _log.exception("request hook %r failed on request %s", hook, ctx.request_id)
            self._submit(ctx.record())

    def _hooks_of(self, feature: str) -> tuple[RequestHooks, ...]:
        hooks = self._feature_hooks.get(feature)
        if hooks is None:
            hooks = self._feature_hooks[feature] = hooks_for(self._hooks, feature)
        return hooks

    def _user_id(self, user: str | None, hashed: bool) -> str | None:
        """The user id every sink stores: decided here, once (a keyed pseudonym when asked)."""
        if user is None or not hashed:
            return user
        return pseudonymize_user(user, self._user_hash_key)

    def _flag_client(self, ctx: RequestContext) -> FlagClient:
        levers = ctx.levers
        if levers.version != self._flags_version:
            self._flags.replace(levers.flags)
            self._flags_version = levers.version
        return self._flags.client(EvaluationContext(ctx.user or ctx.request_id))

    def _choose_variant(self, ctx: RequestContext, asked: str | None) -> VariantRuntime:
        """The variant the client named; else the one a flag pins the user to; else the one a rollout
        routes the user to; else the default."""
        feature = ctx.feature
        assert feature is not None
        if asked is not None:
            return feature.variant(asked)
        key = feature.name + PIN_SUFFIX
        if key in ctx.levers.flags:
            pinned = pinned_variant(self._flag_client(ctx), feature.name, ctx.user or ctx.request_id)
            ctx.flags[key] = {"value": pinned, "reason": "pinned" if pinned else "not pinned"}
            chosen = feature.variants.get(pinned) if pinned else None
            if chosen is not None:
                return chosen
        for hook in self._hooks_of(feature.name):  # a rollout's split, when one runs
            routed = hook.route(ctx)
            if routed is not None:
                return routed
        return feature.variant(None)

    async def _error(
        self,
        ctx: RequestContext,
        send: Send,
        status: int,
        message: str,
        *,
        type: str,
        code: str | None,
        param: str | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Tell the client: an error body, or, once a stream is under way, an error event ending it."""
        if not ctx.response_started:
            ctx.response_started = True
            await send_error(
                send,
                status,
                message,
                type=type,
                request_id=ctx.request_id,
                param=param,
                code=code,
                headers=headers or (),
            )
            return
        if ctx.stream:
            writer = SseWriter(send, request_id=ctx.request_id, created=0, model="", include_usage=False)
            await writer.error(message, type=type, code=code, request_id=ctx.request_id)
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _headers(self, ctx: RequestContext) -> list[tuple[bytes, bytes]]:
        assert ctx.feature is not None and ctx.variant is not None
        return [
            (b"x-request-id", ctx.request_id.encode()),
            (b"x-runwell-feature", ctx.feature.name.encode()),
            (b"x-runwell-variant", ctx.variant.name.encode()),
            (b"x-runwell-served-by", (ctx.served_by or ctx.variant.name).encode()),
        ]

    async def _audit_decision(self, ctx: RequestContext, outcome: Outcome, http_status: int) -> None:
        """Make the decision durable before the client gets the last byte of the answer."""
        waiting = self._audit_submit(ctx, outcome, http_status)
        if waiting is not None:
            await waiting

    def _audit_submit(
        self, ctx: RequestContext, outcome: Outcome, http_status: int
    ) -> Coroutine[Any, Any, int] | None:
        """Queue the decision now; await the result before the answer's last byte goes out."""
        if self._audit is None or ctx.request is None:
            return None
        return self._audit.durable(self._audit.submit(ctx.decision(outcome, http_status)))

    async def _audit_quietly(self, ctx: RequestContext, outcome: Outcome, http_status: int) -> None:
        """Audit a refusal or failure; the client is told about it either way."""
        with contextlib.suppress(AuditUnavailable):
            await self._audit_decision(ctx, outcome, http_status)

    # -- the pipeline -------------------------------------------------------------------------------

    async def _serve(self, ctx: RequestContext, controls: FeatureControls, send: Send) -> None:
        body, feature, variant = ctx.body, ctx.feature, ctx.variant
        assert body is not None and feature is not None and variant is not None
        try:
            guarded = controls.guard.check_input(body.messages, ctx.levers, ctx.started_at)
        except GuardrailBlocked as exc:
            ctx.guardrails.update(exc.guarded.statuses)
            ctx.guardrail_details.update(exc.guarded.details)
            ctx.request = build_request(variant, body, ctx.user, exc.guarded.messages)
            ctx.outcome = "blocked"
            await self._audit_quietly(ctx, "blocked", 400)
            raise
        ctx.guardrails.update(guarded.statuses)
        ctx.guardrail_details.update(guarded.details)
        ctx.request = build_request(variant, body, ctx.user, guarded.messages)
        ctx.redacted = guarded.messages

        levers = ctx.levers
        if levers.is_killed(feature.name):
            await self._degrade(ctx, controls, send, "killed", None)
            return
        if not self._traffic_allowed(ctx):
            await self._degrade(ctx, controls, send, "traffic_cut", None)
            return
        candidates = [
            v for v in controls.chain.candidates(variant) if not levers.is_killed(feature.name, v.name)
        ]
        if not candidates:
            await self._degrade(ctx, controls, send, "killed", None)
            return
        requests = candidate_requests(ctx, candidates, guarded.messages)
        try:
            reservation = await self._spend.reserve(
                ctx, controls.limits(levers), requests[0][1], [v.model for v in candidates]
            )
        except RequestError as exc:
            if ctx.guardrails.get("budgets") == "blocked":  # a budget refused it (429, or 400 too big)
                ctx.outcome = "blocked"
                await self._audit_quietly(ctx, "blocked", exc.status)
            raise
        settled = False
        try:
            if body.stream and not controls.guard.validates_output:
                opened = await controls.chain.stream(ctx, requests)
                await self._stream(ctx, controls, send, opened, guarded)
            else:
                chosen, sent, result, verdict = await controls.chain.whole(ctx, requests)
                await self._whole(ctx, controls, send, chosen, sent, result, verdict, guarded)
            settled = True
            await self._spend.settle(ctx, reservation)
        except ChainFailed as failed:
            await self._degrade(ctx, controls, send, "all_variants_failed", failed)
        finally:
            if not settled:
                await self._spend.release(reservation)

    def _traffic_allowed(self, ctx: RequestContext) -> bool:
        """The ``<feature>.traffic`` flag: whether this user is in the share the feature serves."""
        feature = ctx.feature
        assert feature is not None
        key = feature.name + TRAFFIC_SUFFIX
        if key not in ctx.levers.flags:
            return True
        resolution = served(self._flag_client(ctx), feature.name, ctx.user or ctx.request_id)
        ctx.flags[key] = {
            "value": resolution.value,
            "variant": resolution.variant,
            "reason": str(resolution.reason),
        }
        return bool(resolution.value)

    # -- answers -------------------------------------------------------------------------------------

    def _mark_served(self, ctx: RequestContext, chosen: VariantRuntime, sent: ChatRequest) -> Outcome:
        """The variant that answers is the record's variant; ``fallback`` when it is not the first."""
        fallback = chosen is not ctx.variant or any(a.get("prompt") == "fallback" for a in ctx.attempts[-1:])
        ctx.variant, ctx.request = chosen, sent
        ctx.served_by = chosen.name
        return "fallback" if fallback else "served"

    async def _whole(
        self,
        ctx: RequestContext,
        controls: FeatureControls,
        send: Send,
        chosen: VariantRuntime,
        sent: ChatRequest,
        result: ChatResult,
        verdict: OutputGuarded | None,
        guarded: InputGuarded,
    ) -> None:
        feature = ctx.feature
        assert feature is not None
        outcome = self._mark_served(ctx, chosen, sent)
        content = result.content
        if verdict is not None:
            ctx.guardrails.update(verdict.statuses)
            ctx.guardrail_details.update(verdict.details)
            content = verdict.content
        ctx.usage, ctx.content, ctx.tool_calls = result.usage, content, result.tool_calls
        ctx.finish_reason, ctx.response_model = result.finish_reason, result.response_model
        shown = content
        if controls.guard.restores_pii and guarded.session is not None and shown:
            shown = guarded.session.restore(shown)  # for the client only: records keep placeholders
        model = f"{feature.name}@{chosen.name}"
        if ctx.stream:  # a stream whose answer had to pass the output guardrails first
            await self._audit_decision(ctx, outcome, 200)
            ctx.response_started = True
            await send_checked_stream(send, ctx, model, self._headers(ctx), shown, result)
        else:
            # The answer is built while the writer thread commits the decision, then sent once
            # the decision is durable.
            waiting = self._audit_submit(ctx, outcome, 200)
            try:
                body, headers = whole_answer(ctx, model, shown, result), self._headers(ctx)
            finally:
                if waiting is not None:
                    await waiting
            ctx.response_started = True
            await send_bytes(send, 200, body, headers)
        ctx.served(outcome)

    async def _stream(
        self,
        ctx: RequestContext,
        controls: FeatureControls,
        send: Send,
        opened: OpenStream,
        guarded: InputGuarded,
    ) -> None:
        feature, body = ctx.feature, ctx.body
        assert feature is not None and body is not None and ctx.request is not None
        sent = ctx.request
        if opened.variant is not ctx.variant:
            sent = build_request(opened.variant, body, ctx.user, guarded.messages)
        outcome = self._mark_served(ctx, opened.variant, sent)
        writer = stream_writer(send, ctx, f"{feature.name}@{opened.variant.name}")
        chunks = opened.rest
        try:
            ctx.response_started = True
            await send(
                {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *self._headers(ctx)]}
            )
            ctx.http_status = 200
            await writer.opening()
            restore = guarded.session if controls.guard.restores_pii else None
            try:
                await relay(ctx, writer, opened.first, chunks, restore)
            except ProviderError as exc:
                # Text has reached the client and cannot be taken back: the stream ends with an
                # error event saying the answer is incomplete (never a [DONE]).
                await self._audit_quietly(ctx, "error", 200)
                ctx.fail(200, exc.error_class, str(exc))
                await writer.error(
                    f"{exc} (the answer above is incomplete)",
                    type="upstream_error",
                    code=exc.error_class,
                    request_id=ctx.request_id,
                )
                return
            try:
                await self._audit_decision(ctx, outcome, 200)
            except AuditUnavailable as exc:
                ctx.fail(200, "audit_unavailable", str(exc))
                await writer.error(
                    str(exc), type="server_error", code="audit_unavailable", request_id=ctx.request_id
                )
                return
            assert ctx.finish_reason is not None
            await writer.finish(ctx.finish_reason, ctx.usage)
            ctx.served(outcome)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def _degrade(
        self,
        ctx: RequestContext,
        controls: FeatureControls,
        send: Send,
        reason: str,
        failed: ChainFailed | None,
    ) -> None:
        """Answer without a model: the feature's degradation, or (without one) the failure itself."""
        feature, body = ctx.feature, ctx.body
        assert feature is not None and body is not None
        degradation = controls.degradation
        if degradation is None:
            if failed is not None:
                await self._audit_quietly(ctx, "error", failed.last.status)
                raise failed.last
            ctx.outcome = "degraded"
            await self._audit_quietly(ctx, "degraded", 503)
            raise Unavailable(
                f"feature {feature.name!r} is switched off ({reason}) and its spec declares no "
                "degradation; add fallbacks.degradation to answer its users meanwhile",
                code=f"feature_{reason}",
            )
        ctx.outcome = "degraded"
        ctx.served_by = served_by(degradation)
        detail = f" (last failure: {failed.last})" if failed is not None else ""
        ctx.note = f"degraded ({degradation.mode}): {reason}{detail}"
        ctx.content = None
        ticket = None
        if degradation.mode == "queued":
            assert self._deferred is not None, "a queued degradation needs the gateway's queue"
            ticket = await self._deferred.enqueue(ctx)
            ctx.note += f"; queued as {ticket}"
        status = {"static": 200, "queued": 202, "maintenance": 503}[degradation.mode]
        await self._audit_decision(ctx, "degraded", status)
        ctx.response_started = True
        sent = await send_degraded(
            send,
            degradation,
            feature=feature.name,
            request_id=ctx.request_id,
            created=int(ctx.started_at),
            reason=reason,
            stream=body.stream,
            ticket=ticket,
        )
        ctx.status = "ok" if sent < 400 else "error"
        ctx.http_status = sent
        ctx.error_class = None if sent < 400 else f"degraded_{reason}"


def _header_text(scope: Scope, name: bytes) -> str | None:
    raw = header(scope, name)
    return raw.decode("utf-8", "replace") if raw else None

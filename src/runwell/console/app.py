"""The console's one HTTP entry point: sign-in, CSRF, roles, routing, security headers, errors.

:class:`ConsoleApp` answers every path under ``/console``. The gateway mounts its :meth:`handle`
(``runwell serve``); ``runwell console`` serves it as an ASGI application of its own
(:meth:`__call__`). Off unless configured: then every ``/console`` path is a 404 with one line
saying how to turn it on.

Rules every response follows: pages are ``no-store`` (they hold operational data), framed by no one,
and carry a Content-Security-Policy that allows only the page's own inline style and script (by
nonce) — nothing is fetched from anywhere. Every ``POST`` needs a session cookie, a CSRF token bound
to it, and no foreign ``Origin``; levers and labels need the admin role.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

from runwell.audit.errors import AuditError
from runwell.console import (
    page_evals,
    page_levers,
    page_operations,
    page_overview,
    page_request,
    page_requests,
    page_rollouts,
)
from runwell.console.actions import label_review
from runwell.console.html import PageFrame, csrf_field, el, join, layout
from runwell.console.page_operations import REVIEW_LABELS
from runwell.console.sessions import COOKIE, Session, SessionSigner
from runwell.console.settings import ConsoleSettings, disabled_message
from runwell.console.view import ConsoleSources, Response, View, html_response, redirect
from runwell.errors import ConfigError, RunwellError, StoreError
from runwell.gateway.asgi import ClientGone, Receive, Scope, Send, header, read_body, send_bytes

__all__ = ["ConsoleApp"]

_log = logging.getLogger("runwell.console")
_FORM_LIMIT = 64 * 1024
_FAILED_SIGN_IN_DELAY_S = 0.5


def _csp(nonce: str) -> bytes:
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ).encode()


def _first(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in values.items() if v}


def _cookie(scope: Scope) -> str | None:
    raw = header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _safe_next(target: str | None) -> str:
    # Only paths of the console itself: never an open redirect to another site.
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


class ConsoleApp:
    """The console over one :class:`ConsoleSources` (``None`` when the console is off)."""

    def __init__(self, settings: ConsoleSettings, sources: ConsoleSources | None) -> None:
        if settings.enabled and sources is None:
            raise ConfigError("the console is enabled but was given nothing to read from")
        self.settings = settings
        self.sources = sources
        self.signer = SessionSigner(settings, clock=sources.clock if sources is not None else time.time)

    # -- ASGI (standalone) -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/" or path == "/healthz":
            target = b"/console" if path == "/" else b""
            if target:
                await send_bytes(send, 303, b"", [(b"location", target)], (b"content-type", b"text/plain"))
            else:
                await send_bytes(send, 200, b'{"status":"ok"}')
            return
        await self.handle(scope, receive, send, secrets.token_hex(12))

    # -- the handler the gateway mounts ----------------------------------------------------------

    def owns(self, path: str) -> bool:
        """Whether ``path`` is the console's."""
        return path == "/console" or path.startswith("/console/")

    async def handle(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        """Answer one request to a ``/console`` path."""
        if not self.settings.enabled or self.sources is None:
            body = (disabled_message() + "\n").encode()
            await send_bytes(send, 404, body, content_type=(b"content-type", b"text/plain; charset=utf-8"))
            return
        nonce = secrets.token_urlsafe(16)
        cookies: list[bytes] = []
        try:
            response = await self._route(scope, receive, nonce, cookies)
        except ClientGone:
            return
        except Exception as exc:
            response = self._error(exc, nonce, request_id)
        headers = [
            (b"content-security-policy", _csp(nonce)),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cache-control", b"no-store"),
            (b"x-request-id", request_id.encode()),
            *((b"set-cookie", c) for c in cookies),
            *response.headers,
        ]
        await send_bytes(
            send, response.status, response.body, headers, (b"content-type", response.content_type.encode())
        )

    def _error(self, exc: Exception, nonce: str, request_id: str) -> Response:
        frame_role = "anon"
        if isinstance(exc, StoreError | AuditError):
            status, title, text = 503, "The store cannot be read", f"{exc} (request {request_id})"
        elif isinstance(exc, RunwellError):
            status, title, text = 400, "Cannot show that", str(exc)
        else:
            _log.exception("console request %s failed", request_id)
            status, title, text = (
                500,
                "A bug in runwell",
                f"This page failed; the log has the details (request {request_id}).",
            )
        return html_response(
            layout(title, el("p", text, class_="notice bad", role="alert"), PageFrame(frame_role, "", nonce)),
            status,
        )

    async def _route(self, scope: Scope, receive: Receive, nonce: str, cookies: list[bytes]) -> Response:
        assert self.sources is not None
        method, path = scope["method"], scope["path"].rstrip("/") or "/"
        query = _first(parse_qs(scope.get("query_string", b"").decode("latin-1")))
        secure = scope.get("scheme") == "https"
        session, bearer = self._session(scope)
        if path == "/console/login":
            return await self._login(scope, receive, method, query, session, nonce, cookies, secure)
        if session is None or not session.signed_in:
            if method in ("GET", "HEAD"):
                target = scope["path"] + (
                    "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
                )
                return redirect("/console/login?next=" + quote(target, safe=""))
            return self._plain(403, "Sign in first: POST /console/login with the admin or viewer token.")
        form: dict[str, str] = {}
        if method == "POST":
            if not self._same_origin(scope):
                return self._plain(403, "Refused: this form was posted from another site.")
            form = _first(
                parse_qs((await read_body(receive, _FORM_LIMIT, timeout_s=30.0)).decode("utf-8", "replace"))
            )
            if not bearer and not self.signer.csrf_ok(session, form.get("csrf")):
                return self._plain(
                    403, "Refused: the form's CSRF token is missing or stale. Reload the page and try again."
                )
        view = View(
            self.sources, session, method, path, query, form, nonce, self.sources.clock(),
            viewer_sees_content=self.settings.viewer_sees_content,
        )  # fmt: skip
        if query.get("done") in page_levers.DONE:
            view.notices.append(("ok", page_levers.DONE[query["done"]]))
        if path == "/console/logout" and method == "POST":
            cookies.append(SessionSigner.cookie_header("", secure=secure, max_age=0))
            return redirect("/console/login")
        handler = self._page(method, path)
        if handler is None:
            body = el("p", f"No console page {path}.")
            return html_response(layout("Not found", body, view.frame("")), 404)
        admin_only = path.startswith("/console/levers") or path == "/console/review/label"
        if admin_only and not session.is_admin:
            body = el(
                "p", "Levers and labels need the admin token; you are signed in read-only.", role="alert"
            )
            return html_response(layout("Admin only", body, view.frame("")), 403)
        return await handler(view)

    def _page(self, method: str, path: str) -> Callable[[View], Awaitable[Response]] | None:
        gets: dict[str, Callable[[View], Awaitable[Response]]] = {
            "/console": page_overview.render,
            "/console/requests": page_requests.render_list,
            "/console/evals": page_evals.render,
            "/console/rollouts": page_rollouts.render,
            "/console/operations": page_operations.render,
            "/console/levers": page_levers.render,
        }
        if method in ("GET", "HEAD"):
            if path in gets:
                return gets[path]
            for prefix, render in (
                ("/console/requests/", page_request.render),
                ("/console/incidents/", page_operations.render_incident),
            ):
                if path.startswith(prefix) and len(path) > len(prefix):
                    ident = path[len(prefix) :]
                    return lambda view, ident=ident, render=render: render(view, ident)  # type: ignore[misc]
            return None
        if method == "POST":
            if path.startswith("/console/levers/"):
                action = path[len("/console/levers/") :]
                return lambda view: page_levers.confirm_or_apply(view, action)
            if path == "/console/review/label":
                return self._label
        return None

    async def _label(self, view: View) -> Response:
        label = view.form.get("label", "")
        item = view.form.get("item", "")
        if label not in REVIEW_LABELS:
            raise ConfigError(f"label must be one of {', '.join(REVIEW_LABELS)}")
        operator = (view.form.get("operator") or "").strip()[:80]
        actor = "console-admin" + (f":{operator}" if operator else "")
        assert self.sources is not None
        sources = self.sources
        await view.run(
            lambda: label_review(sources, item, label, view.form.get("correction", ""), actor=actor)
        )
        return redirect(
            view.link("/console/operations", feature=view.form.get("feature"), done="label") + "#review"
        )

    # -- sign-in -----------------------------------------------------------------------------------

    def _session(self, scope: Scope) -> tuple[Session | None, bool]:
        """The visitor's session: a valid cookie, or the admin token as a bearer header (for
        scripts: CSRF does not apply, a browser never sends that header on its own)."""
        auth = header(scope, b"authorization")
        if auth:
            scheme, _, token = auth.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and self.signer.token_role(token) == "admin":
                session, _ = self.signer.issue("admin")
                return session, True
        return self.signer.read(_cookie(scope)), False

    def _same_origin(self, scope: Scope) -> bool:
        """Whether a POST comes from a console page: the browser's ``Sec-Fetch-Site`` when it sends
        one, else ``Origin`` against ``Host`` (a client that sends neither is not a browser form)."""
        site = header(scope, b"sec-fetch-site")
        if site is not None:
            return site == b"same-origin"
        origin = header(scope, b"origin")
        if origin is None:
            return True
        host = header(scope, b"host")
        return host is not None and origin.split(b"://", 1)[-1] == host

    async def _login(
        self, scope: Scope, receive: Receive, method: str, query: dict[str, str],
        session: Session | None, nonce: str, cookies: list[bytes], secure: bool,
    ) -> Response:  # fmt: skip
        if method == "POST":
            if not self._same_origin(scope):
                return self._plain(403, "Refused: this sign-in was posted from another site.")
            form = _first(
                parse_qs((await read_body(receive, _FORM_LIMIT, timeout_s=30.0)).decode("utf-8", "replace"))
            )
            if session is None or not self.signer.csrf_ok(session, form.get("csrf")):
                return self._plain(
                    403, "Refused: the sign-in form is stale. Reload /console/login and try again."
                )
            role = self.signer.token_role(form.get("token", ""))
            if role is None:
                await asyncio.sleep(_FAILED_SIGN_IN_DELAY_S)  # slows guessing; the token is never echoed
                return self._login_page(
                    session,
                    nonce,
                    _safe_next(form.get("next")),
                    error="That token is not the admin or viewer token.",
                    status=401,
                )
            _fresh, value = self.signer.issue(role)
            cookies.append(
                SessionSigner.cookie_header(value, secure=secure, max_age=int(self.settings.session_ttl_s))
            )
            return redirect(_safe_next(form.get("next")))
        if session is None:
            session, value = self.signer.issue("anon")
            cookies.append(SessionSigner.cookie_header(value, secure=secure))
        return self._login_page(session, nonce, _safe_next(query.get("next")))

    def _login_page(
        self, session: Session, nonce: str, target: str, *, error: str | None = None, status: int = 200
    ) -> Response:
        ways = []
        if self.settings.admin_token:
            ways.append("the admin token (RUNWELL_ADMIN_TOKEN): every page and the levers")
        if self.settings.viewer_token:
            ways.append("the viewer token (RUNWELL_CONSOLE_VIEWER_TOKEN): every page, read-only")
        if not ways:
            ways.append(
                "no token is configured: set RUNWELL_ADMIN_TOKEN or RUNWELL_CONSOLE_VIEWER_TOKEN and restart"
            )
        body = join(
            el("p", error, class_="notice bad", role="alert") if error else None,
            el("p", "Sign in with " + "; or ".join(ways) + "."),
            el(
                "form",
                csrf_field(session.csrf),
                el("input", type="hidden", name="next", value=target),
                el("input", type="hidden", name="username", value="runwell-console", autocomplete="username"),
                el(
                    "label",
                    "Access token",
                    el(
                        "input",
                        type="password",
                        name="token",
                        required=True,
                        autocomplete="current-password",
                        size=40,
                    ),
                ),
                el("button", "Sign in", type="submit"),
                method="post",
                action="/console/login",
                class_="filters",
            ),
        )
        return html_response(layout("Sign in", body, PageFrame("anon", session.csrf, nonce)), status)

    @staticmethod
    def _plain(status: int, text: str) -> Response:
        return Response(status, (text + "\n").encode(), "text/plain; charset=utf-8")

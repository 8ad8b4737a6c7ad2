"""Console sessions and CSRF tokens: signed cookies, no server-side state.

A session cookie is ``role.expires.nonce.signature``; the signature is an HMAC over the first three
parts *and a fingerprint of the token the role signed in with*, so rotating the admin or viewer
token ends every session opened with the old one, on every replica, with nothing to store.

Before sign-in a visitor holds an anonymous session (role ``anon``) so that the sign-in form, like
every other form, carries a CSRF token bound to the visitor's cookie. Signing in issues a new
nonce (no session fixation). The cookie is ``HttpOnly`` and ``SameSite=Strict`` (another site's
page can neither read it nor make the browser send it), ``Secure`` over https, and its path is
``/console``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from runwell.console.settings import ConsoleSettings

__all__ = ["COOKIE", "Role", "Session", "SessionSigner"]

COOKIE = "rw_console"
Role = Literal["anon", "viewer", "admin"]
_ROLES: tuple[Role, ...] = ("anon", "viewer", "admin")
_ANON_TTL_S = 3600.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Session:
    """Who the visitor is, until when, and the CSRF token their forms must carry."""

    role: Role
    expires: float
    nonce: str
    csrf: str

    @property
    def signed_in(self) -> bool:
        """Whether the visitor signed in (as a viewer or the admin)."""
        return self.role != "anon"

    @property
    def is_admin(self) -> bool:
        """Whether the visitor may pull levers."""
        return self.role == "admin"


class SessionSigner:
    """Issues and checks session cookies and CSRF tokens for one :class:`ConsoleSettings`."""

    def __init__(self, settings: ConsoleSettings, *, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._key = settings.session_key
        self._clock = clock

    def _fingerprint(self, role: Role) -> bytes | None:
        if role == "anon":
            return b"anon"
        token = self._settings.admin_token if role == "admin" else self._settings.viewer_token
        return None if token is None else hashlib.sha256(token.encode()).digest()

    def _sign(self, body: str, fingerprint: bytes) -> str:
        return _b64(hmac.new(self._key, body.encode() + b"\x00" + fingerprint, hashlib.sha256).digest())

    def _csrf(self, nonce: str) -> str:
        return _b64(hmac.new(self._key, b"csrf\x00" + nonce.encode(), hashlib.sha256).digest())[:32]

    def issue(self, role: Role) -> tuple[Session, str]:
        """A new session for ``role`` and its cookie value."""
        fingerprint = self._fingerprint(role)
        if fingerprint is None:
            raise ValueError(f"no token is configured for the {role} role")
        ttl = _ANON_TTL_S if role == "anon" else self._settings.session_ttl_s
        expires = int(self._clock() + ttl)
        nonce = secrets.token_urlsafe(12)
        body = f"{role}.{expires}.{nonce}"
        return Session(
            role, float(expires), nonce, self._csrf(nonce)
        ), f"{body}.{self._sign(body, fingerprint)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie value carries, or ``None`` if it is absent, forged, expired or
        was signed for a token that has since changed."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 4:
            return None
        role, expires, nonce, signature = parts
        if role not in _ROLES or not expires.isdigit():
            return None
        typed: Role = _ROLES[_ROLES.index(role)]  # type: ignore[arg-type, unused-ignore]
        fingerprint = self._fingerprint(typed)
        if fingerprint is None:
            return None
        expected = self._sign(f"{role}.{expires}.{nonce}", fingerprint)
        if not hmac.compare_digest(expected, signature) or float(expires) <= self._clock():
            return None
        return Session(typed, float(expires), nonce, self._csrf(nonce))

    def token_role(self, token: str) -> Role | None:
        """The role a sign-in token grants (compared in constant time), or ``None``."""
        given = token.strip().encode()
        role: Role | None = None
        for candidate, expected in (
            ("admin", self._settings.admin_token),
            ("viewer", self._settings.viewer_token),
        ):
            if expected is not None and hmac.compare_digest(given, expected.encode()):
                role = candidate  # type: ignore[assignment]
        return role

    def csrf_ok(self, session: Session, submitted: str | None) -> bool:
        """Whether a form's CSRF token belongs to this session."""
        return submitted is not None and hmac.compare_digest(session.csrf, submitted)

    @staticmethod
    def cookie_header(value: str, *, secure: bool, max_age: int | None = None) -> bytes:
        """The ``Set-Cookie`` value: HttpOnly, SameSite=Strict, path ``/console``."""
        parts = [f"{COOKIE}={value}", "Path=/console", "HttpOnly", "SameSite=Strict"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if secure:
            parts.append("Secure")
        return "; ".join(parts).encode()

"""The console's settings, read once from the environment into a typed object.

The console is **off unless configured**: it answers only when ``RUNWELL_CONSOLE`` is ``on`` or a
viewer token is set. Who may sign in:

- the admin token (``RUNWELL_ADMIN_TOKEN``, the same one that guards ``/admin/*``): every page,
  captured content, and the levers;
- the viewer token (``RUNWELL_CONSOLE_VIEWER_TOKEN``): every page read-only; captured content
  only when ``RUNWELL_CONSOLE_VIEWER_CONTENT`` is ``on``.

Sessions are signed with a key derived from ``RUNWELL_CONSOLE_SECRET`` when set, else from the
audit signing key (so every replica sharing that key accepts the same sessions, and no second
secret needs managing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from runwell.errors import ConfigError

__all__ = [
    "ADMIN_TOKEN_ENV",
    "CONSOLE_ENV",
    "SECRET_ENV",
    "VIEWER_CONTENT_ENV",
    "VIEWER_TOKEN_ENV",
    "ConsoleSettings",
    "disabled_message",
]

CONSOLE_ENV = "RUNWELL_CONSOLE"
VIEWER_TOKEN_ENV = "RUNWELL_CONSOLE_VIEWER_TOKEN"
VIEWER_CONTENT_ENV = "RUNWELL_CONSOLE_VIEWER_CONTENT"
SECRET_ENV = "RUNWELL_CONSOLE_SECRET"
ADMIN_TOKEN_ENV = "RUNWELL_ADMIN_TOKEN"
_ON = {"1", "on", "true", "yes"}
_OFF = {"", "0", "off", "false", "no"}
_MIN_TOKEN_CHARS = 16


def disabled_message() -> str:
    """The one line ``/console`` answers with while the console is off."""
    return (
        f"The runwell console is off. Enable it with {CONSOLE_ENV}=on (sign in with "
        f"{ADMIN_TOKEN_ENV}) and/or {VIEWER_TOKEN_ENV}=<token> for read-only viewers, then restart."
    )


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ConfigError(f"{name}={value!r}: use on or off")


def _token(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    if len(value) < _MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{name} is {len(value)} characters long; use at least {_MIN_TOKEN_CHARS} random characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    return value


@dataclass(frozen=True)
class ConsoleSettings:
    """Whether the console answers, who may sign in, and the key sessions are signed with."""

    enabled: bool
    admin_token: str | None
    viewer_token: str | None
    viewer_sees_content: bool
    session_key: bytes
    session_ttl_s: float = 12 * 3600.0

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        derive_from: bytes,
        admin_token: str | None = None,
        force_enabled: bool = False,
    ) -> ConsoleSettings:
        """Read the settings once. ``derive_from`` is secret material the session key is derived
        from when ``RUNWELL_CONSOLE_SECRET`` is unset (the audit log's key material).

        ``admin_token`` defaults to ``RUNWELL_ADMIN_TOKEN``; ``force_enabled`` is ``runwell
        console``'s: running the command is configuring it. Raises ConfigError for bad values.
        """
        viewer = _token(environ, VIEWER_TOKEN_ENV)
        admin = admin_token if admin_token is not None else (environ.get(ADMIN_TOKEN_ENV) or "").strip()
        enabled = force_enabled or _flag(environ, CONSOLE_ENV) or viewer is not None
        secret = environ.get(SECRET_ENV, "").strip()
        material = secret.encode() if secret else derive_from
        key = hmac.new(material, b"runwell console session key v1", hashlib.sha256).digest()
        return cls(
            enabled=enabled,
            admin_token=admin or None,
            viewer_token=viewer,
            viewer_sees_content=_flag(environ, VIEWER_CONTENT_ENV),
            session_key=key,
        )

    def __repr__(self) -> str:
        # Never print a token or the key, even in a traceback.
        admin = "set" if self.admin_token else "unset"
        viewer = "set" if self.viewer_token else "unset"
        return (
            f"ConsoleSettings(enabled={self.enabled}, admin={admin}, viewer={viewer}, "
            f"viewer_sees_content={self.viewer_sees_content})"
        )

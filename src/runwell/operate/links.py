"""Signed links in a page: acknowledge or resolve an incident without the admin token.

A page reaches someone on a phone, far from any admin token. The link carries a token that is an
HMAC of the incident id and the *action*, under a key derived from the audit signing key (which
every replica of a project shares), so:

* an acknowledge link cannot resolve, and a link for one incident works for no other;
* nothing is stored to check it, and every replica accepts it;
* acting twice is harmless: the second acknowledgement changes nothing.

Following a link (``GET``) only shows the incident, its runbook and a button: chat apps and mail
scanners fetch links to preview them, and a preview must not acknowledge anything. The button
``POST``\\s the same URL with the token, which does it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final, Literal

__all__ = ["ACTIONS", "Action", "LinkSigner"]

Action = Literal["ack", "resolve"]
ACTIONS: Final = ("ack", "resolve")
_CONTEXT: Final = b"runwell incident link v1"


class LinkSigner:
    """Makes and checks incident links; ``base_url`` is where people reach the gateway
    (``$RUNWELL_PUBLIC_URL``); without one, pages carry no links."""

    def __init__(self, secret: bytes, base_url: str | None) -> None:
        self._key = hmac.new(secret, _CONTEXT, hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/") if base_url else None

    def token(self, incident_id: str, action: Action) -> str:
        """The token for ``action`` on ``incident_id`` (URL-safe, 128 bits)."""
        mac = hmac.new(self._key, f"{incident_id}\x00{action}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")

    def check(self, incident_id: str, action: Action, token: str) -> bool:
        """Whether ``token`` allows ``action`` on ``incident_id`` (constant-time)."""
        return hmac.compare_digest(self.token(incident_id, action), token)

    def url(self, incident_id: str, action: Action) -> str | None:
        """The link for ``action``, or ``None`` without a base URL."""
        if self.base_url is None:
            return None
        return f"{self.base_url}/operate/incidents/{incident_id}/{action}?t={self.token(incident_id, action)}"

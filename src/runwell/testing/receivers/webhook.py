"""A Standard Webhooks consumer: verifies signatures and timestamps, notes repeated message ids."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import orjson
from aiohttp import web

from runwell.ops.notify.base import Secret
from runwell.ops.notify.webhook import verify_standard_webhook
from runwell.testing.receivers._base import JSON, Answer, HttpReceiver

__all__ = ["WebhookReceiver"]


class WebhookReceiver(HttpReceiver):
    """A Standard Webhooks consumer: verifies each signature with ``secret`` (or any of several,
    for rotation), within ``tolerance_s``, and notes repeated ``webhook-id``\\s."""

    channel = "webhook"

    def __init__(
        self,
        secret: str | Secret | Sequence[str | Secret],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tolerance_s: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.gone = False
        self._seen: set[str] = set()

    @property
    def url(self) -> str:
        """The endpoint to configure the notifier with."""
        return f"{self.root_url}/webhook"

    def routes(self) -> list[web.RouteDef]:
        """``POST /webhook``."""
        return [web.post("/webhook", self._handle)]

    def answer(self, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """410 once gone; 401 unless the signature verifies; else 204."""
        if self.gone:
            return Answer(410, b"gone", "text/plain")
        check = verify_standard_webhook(
            self.secret, headers, raw, tolerance_s=self.tolerance_s, now=self.clock()
        )
        if not check.ok:
            return Answer(401, orjson.dumps({"error": check.reason}), JSON, problems=(check.reason,))
        duplicate = check.msg_id in self._seen
        self._seen.add(check.msg_id or "")
        return Answer(204, b"", "text/plain", notes=("duplicate webhook-id",) if duplicate else ())

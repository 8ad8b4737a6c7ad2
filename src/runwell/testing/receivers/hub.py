"""All receivers behind one HTTP port (plus SMTP), with control routes, and the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

import orjson
from aiohttp import web

from runwell.ops.notify.base import Secret
from runwell.ops.notify.webhook import new_secret
from runwell.testing.receivers._base import JSON, HttpReceiver, parse_body, serve
from runwell.testing.receivers.pagerduty import PagerDutyReceiver
from runwell.testing.receivers.slack import SlackReceiver
from runwell.testing.receivers.smtp import SmtpReceiver
from runwell.testing.receivers.webhook import WebhookReceiver

__all__ = ["ReceiverHub", "main"]


class ReceiverHub:
    """All four receivers: the HTTP ones on one port, SMTP on another, plus the control routes."""

    def __init__(
        self, *, webhook_secret: str | Secret, host: str = "127.0.0.1", port: int = 0, smtp_port: int = 0
    ) -> None:
        self.host, self.port = host, port
        self.pagerduty = PagerDutyReceiver(host=host)
        self.slack = SlackReceiver(host=host)
        self.webhook = WebhookReceiver(webhook_secret, host=host)
        self.smtp = SmtpReceiver(host=host, port=smtp_port)
        self._http: tuple[HttpReceiver, ...] = (self.pagerduty, self.slack, self.webhook)
        self._all: tuple[HttpReceiver | SmtpReceiver, ...] = (*self._http, self.smtp)
        self._runner: web.AppRunner | None = None

    def snapshot(self) -> dict[str, Any]:
        """Everything every receiver received, keyed by channel."""
        out: dict[str, Any] = {}
        for r in self._all:
            out |= r.snapshot()
        return out

    async def _received(self, _request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.snapshot()), content_type=JSON)

    async def _forget(self, _request: web.Request) -> web.Response:
        for r in self._all:
            r.reset()
        return web.Response(status=204)

    async def _arm(self, request: web.Request) -> web.Response:
        spec = parse_body(await request.read())
        if not isinstance(spec, dict):
            return web.Response(status=400, text="body must be a JSON object")
        count = int(spec.get("count", 1))
        if spec.get("channel") == "email":
            self.smtp.fail_next(count, code=int(spec.get("code", 451)))
            return web.Response(status=204)
        target = next((r for r in self._http if r.channel == spec.get("channel")), None)
        if target is None:
            return web.Response(status=400, text="channel must be pagerduty, slack, webhook or email")
        if spec.get("delay_s"):
            target.stall_next(count, seconds=float(spec["delay_s"]))
        else:
            retry_after = spec.get("retry_after")
            target.fail_next(
                count,
                status=int(spec.get("status", 429)),
                retry_after=None if retry_after is None else float(retry_after),
            )
        return web.Response(status=204)

    async def start(self) -> ReceiverHub:
        """Serve; ``port`` and ``smtp.port`` then hold the real ports."""
        app = web.Application()
        for r in self._http:
            app.router.add_routes(r.routes())
        app.router.add_routes(
            [
                web.get("/_received", self._received),
                web.delete("/_received", self._forget),
                web.post("/_faults", self._arm),
            ]
        )
        self._runner = await serve(app, self.host, self.port)
        self.port = self._runner.addresses[0][1]
        for r in self._http:
            r.port = self.port
        await self.smtp.start()
        return self

    async def close(self) -> None:
        """Stop serving."""
        await self.smtp.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def ready_line(self, *, secret_shown: str | None) -> str:
        """The one JSON line printed when serving (the URLs to point notifiers at)."""
        info: dict[str, Any] = {
            "url": f"http://{self.host}:{self.port}",
            "pagerduty": self.pagerduty.url,
            "slack": self.slack.url,
            "webhook": self.webhook.url,
            "smtp": {"host": self.host, "port": self.smtp.port},
        }
        if secret_shown is not None:
            info["webhook_secret"] = secret_shown
        return orjson.dumps(info).decode()


async def _run(host: str, port: int, smtp_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    given = os.environ.get("RUNWELL_WEBHOOK_SECRET")
    secret = given or new_secret().reveal()
    hub = await ReceiverHub(host=host, port=port, smtp_port=smtp_port, webhook_secret=secret).start()
    try:
        print(hub.ready_line(secret_shown=None if given else secret), flush=True)
        await stop.wait()
    finally:
        await hub.close()


def main(argv: list[str] | None = None) -> None:
    """Serve every receiver until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m runwell.testing.receivers",
        description="Local PagerDuty, Slack, Standard Webhooks and SMTP receivers for tests and drills.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025, help="HTTP port (0 picks a free port)")
    parser.add_argument("--smtp-port", type=int, default=0, help="SMTP port (0 picks a free port)")
    args = parser.parse_args(argv)
    asyncio.run(_run(args.host, args.port, args.smtp_port))

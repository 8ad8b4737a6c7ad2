"""A checking stand-in for PagerDuty's Events API v2 (``POST /v2/enqueue``), dedup rules included.

Checks follow PagerDuty's developer docs (``events-API-v2/02-Trigger-Events.md``); a rejection
answers 400 with PagerDuty's error shape, ``{"status": "invalid event", "message": "Event object
is invalid", "errors": [...]}``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from runwell.testing.receivers._base import JSON, Answer, HttpReceiver, is_str, parse_body

__all__ = ["PagerDutyAlert", "PagerDutyReceiver", "check_pagerduty_event"]


def check_pagerduty_event(event: Any) -> list[str]:
    """Every way ``event`` breaks the Events API v2 format (empty when it is valid)."""
    if not isinstance(event, dict):
        return ["the event is not a JSON object"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str):
        errors.append("'routing_key' is required and must be a string")
    elif len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    dedup = event.get("dedup_key")
    if dedup is not None and not is_str(dedup, max_len=255):
        errors.append("'dedup_key' must be a non-empty string of at most 255 characters")
    if action in ("acknowledge", "resolve") and dedup is None:
        errors.append(f"'dedup_key' is required for {action} events")
    if action == "trigger":
        errors += _check_payload(event.get("payload"))
    for name in ("client", "client_url"):
        if name in event and not isinstance(event[name], str):
            errors.append(f"'{name}' must be a string")
    links = event.get("links", [])
    if not isinstance(links, list) or not all(isinstance(x, dict) and is_str(x.get("href")) for x in links):
        errors.append("'links' must be a list of objects each with an 'href' string")
    images = event.get("images", [])
    if not isinstance(images, list) or not all(
        isinstance(x, dict) and is_str(x.get("src")) and x["src"].startswith("https://") for x in images
    ):
        errors.append("'images' must be a list of objects each with an HTTPS 'src'")
    return errors


def _check_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required for trigger events and must be an object"]
    errors = []
    if not is_str(payload.get("summary"), max_len=1024):
        errors.append("'payload.summary' is required: a non-empty string of at most 1024 characters")
    if not is_str(payload.get("source")):
        errors.append("'payload.source' is required: a non-empty string")
    if payload.get("severity") not in ("critical", "error", "warning", "info"):
        errors.append("'payload.severity' must be one of critical, error, warning, info")
    stamp = payload.get("timestamp")
    if stamp is not None:
        try:
            datetime.fromisoformat(stamp)
        except (TypeError, ValueError):
            errors.append("'payload.timestamp' must be an ISO 8601 timestamp")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


@dataclass
class PagerDutyAlert:
    """One alert as PagerDuty would hold it; ``notifications`` counts the triggers that would have
    notified someone (an acknowledged alert stops notifying)."""

    number: int
    routing_key: str
    dedup_key: str
    status: str
    summary: str
    severity: str
    actions: list[str] = field(default_factory=list)
    notifications: int = 1


class PagerDutyReceiver(HttpReceiver):
    """A checking stand-in for ``https://events.pagerduty.com/v2/enqueue``."""

    channel = "pagerduty"

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.alerts: list[PagerDutyAlert] = []
        self._open: dict[tuple[str, str], PagerDutyAlert] = {}

    @property
    def url(self) -> str:
        """The events endpoint to configure the notifier with."""
        return f"{self.root_url}/v2/enqueue"

    def routes(self) -> list[web.RouteDef]:
        """``POST /v2/enqueue``."""
        return [web.post("/v2/enqueue", self._handle)]

    def open_alert(self, dedup_key: str) -> PagerDutyAlert | None:
        """The open (triggered or acknowledged) alert with ``dedup_key``, if any."""
        return next((a for (_, k), a in self._open.items() if k == dedup_key), None)

    def fault_body(self, status: int) -> tuple[bytes, str]:
        """PagerDuty-shaped error JSON."""
        message = "Too many requests" if status == 429 else "Internal error"
        return orjson.dumps({"status": "unavailable", "message": message}), JSON

    def snapshot(self) -> dict[str, Any]:
        """Requests, plus the alerts with their states."""
        return super().snapshot() | {"pagerduty_alerts": [asdict(a) for a in self.alerts]}

    def reset(self) -> None:
        """Forget requests, alerts and faults."""
        super().reset()
        self.alerts.clear()
        self._open.clear()

    def answer(self, path: str, headers: Mapping[str, str], raw: bytes) -> Answer:
        """Check the event, apply the dedup rules, answer 202 or 400."""
        event = parse_body(raw)
        errors = check_pagerduty_event(event)
        if not errors and not headers.get("content-type", "").startswith(JSON):
            errors = ["Content-Type must be application/json"]
        if len(raw) > 512 * 1024:
            errors.append("the event is larger than 512 KB")
        if errors:
            body = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
            return Answer(400, orjson.dumps(body), JSON, problems=tuple(errors))
        action, key = event["event_action"], event.get("dedup_key") or uuid.uuid4().hex
        extra = sorted(set(event) - {"routing_key", "dedup_key", "event_action"})
        notes = (
            [f"{action} should carry only routing_key, dedup_key and event_action; also got {extra}"]
            if action != "trigger" and extra
            else []
        )
        notes += self._apply(event, action, key)
        body = {"status": "success", "message": "Event processed", "dedup_key": key}
        return Answer(202, orjson.dumps(body), JSON, notes=tuple(notes))

    def _apply(self, event: dict[str, Any], action: str, key: str) -> list[str]:
        slot = (event["routing_key"], key)
        alert = self._open.get(slot)
        if action == "trigger":
            if alert is None:
                payload = event["payload"]
                alert = PagerDutyAlert(
                    len(self.alerts) + 1, slot[0], key, "triggered", payload["summary"], payload["severity"]
                )
                self.alerts.append(alert)
                self._open[slot] = alert
            elif alert.status == "triggered":
                alert.notifications += 1
            alert.actions.append(action)
            return []
        if alert is None:
            return [f"{action} dropped: no open alert with this routing_key and dedup_key"]
        alert.actions.append(action)
        if action == "acknowledge":
            alert.status = "acknowledged"
        else:
            alert.status = "resolved"
            del self._open[slot]
        return []

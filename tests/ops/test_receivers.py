"""The local receivers check the wire formats the way the real services do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from runwell.ops.notify import Notification, PagerDutyNotifier, Retrier, WebhookNotifier, new_secret
from runwell.testing.receivers import PagerDutyReceiver, check_pagerduty_event

from .conftest import ROUTING_KEY

TRIGGER: dict[str, Any] = {
    "routing_key": ROUTING_KEY,
    "event_action": "trigger",
    "dedup_key": "k1",
    "payload": {"summary": "down", "source": "gw", "severity": "error"},
}


async def post(url: str, event: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(url, json=event) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"routing_key": "short"}, "Length of 'routing_key' is incorrect (should be 32 characters)"),
        ({"event_action": "escalate"}, "'event_action' must be one of trigger, acknowledge, resolve"),
        ({"dedup_key": "k" * 256}, "'dedup_key' must be a non-empty string of at most 255 characters"),
        ({"payload": None}, "'payload' is required for trigger events and must be an object"),
        ({"payload": {**TRIGGER["payload"], "summary": "s" * 1025}}, "'payload.summary' is required"),
        ({"payload": {**TRIGGER["payload"], "severity": "high"}}, "'payload.severity' must be one of"),
        ({"payload": {**TRIGGER["payload"], "source": ""}}, "'payload.source' is required"),
        (
            {"payload": {**TRIGGER["payload"], "timestamp": "yesterday"}},
            "'payload.timestamp' must be an ISO 8601",
        ),
        (
            {"payload": {**TRIGGER["payload"], "custom_details": [1]}},
            "'payload.custom_details' must be an object",
        ),
        ({"links": [{"text": "no href"}]}, "'links' must be a list of objects each with an 'href' string"),
        (
            {"images": [{"src": "http://x/y.png"}]},
            "'images' must be a list of objects each with an HTTPS 'src'",
        ),
    ],
)
def test_invalid_events_are_named(change: dict[str, Any], error: str) -> None:
    errors = check_pagerduty_event({**TRIGGER, **change})
    assert len(errors) == 1 and errors[0].startswith(error)


def test_acknowledge_and_resolve_need_a_dedup_key() -> None:
    event = {"routing_key": ROUTING_KEY, "event_action": "resolve"}
    assert check_pagerduty_event(event) == ["'dedup_key' is required for resolve events"]
    assert (
        check_pagerduty_event(
            {**TRIGGER, "payload": {**TRIGGER["payload"], "timestamp": "2015-07-17T08:42:58.315+0000"}}
        )
        == []
    )


async def test_pagerduty_receiver_answers_400_in_pagerdutys_shape(pagerduty: PagerDutyReceiver) -> None:
    status, body = await post(pagerduty.url, {**TRIGGER, "routing_key": "short"})
    assert status == 400
    assert body == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
    }
    assert pagerduty.alerts == []


async def test_pagerduty_dedup_rules(pagerduty: PagerDutyReceiver) -> None:
    ack = {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "k1"}
    resolve = {**ack, "event_action": "resolve"}

    assert await post(pagerduty.url, ack) == (
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "k1"},
    )
    assert pagerduty.received[-1].notes == (
        "acknowledge dropped: no open alert with this routing_key and dedup_key",
    )
    await post(pagerduty.url, TRIGGER)
    await post(pagerduty.url, TRIGGER)  # joins the open alert, notifies again
    await post(pagerduty.url, ack)
    await post(pagerduty.url, TRIGGER)  # acknowledged: no new notification
    other_key = {**resolve, "routing_key": "X" * 32}
    await post(pagerduty.url, other_key)  # a follow-up through another routing key is dropped
    assert pagerduty.received[-1].notes[0].startswith("resolve dropped")
    await post(pagerduty.url, resolve)
    await post(pagerduty.url, TRIGGER)  # after a resolve the same key opens a new alert

    first, second = pagerduty.alerts
    assert (first.status, first.notifications) == ("resolved", 2)
    assert first.actions == ["trigger", "trigger", "acknowledge", "trigger", "resolve"]
    assert (second.number, second.status) == (2, "triggered")

    status, body = await post(pagerduty.url, {k: v for k, v in TRIGGER.items() if k != "dedup_key"})
    assert status == 202 and len(body["dedup_key"]) == 32  # PagerDuty generates a key
    assert len(pagerduty.alerts) == 3


async def test_extra_fields_on_a_resolve_are_noted(pagerduty: PagerDutyReceiver) -> None:
    await post(pagerduty.url, TRIGGER)
    await post(pagerduty.url, {**TRIGGER, "event_action": "resolve"})
    assert pagerduty.received[-1].notes == (
        "resolve should carry only routing_key, dedup_key and event_action; also got ['payload']",
    )


async def test_received_is_served_as_json(pagerduty: PagerDutyReceiver) -> None:
    await post(pagerduty.url, TRIGGER)
    async with aiohttp.ClientSession() as session, session.get(f"{pagerduty.root_url}/_received") as resp:
        snapshot = await resp.json()
    assert [r["status"] for r in snapshot["pagerduty"]] == [202]
    assert snapshot["pagerduty_alerts"][0]["status"] == "triggered"


def _http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


async def test_the_subprocess_serves_every_format_and_reports_over_http() -> None:
    secret = new_secret().reveal()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runwell.testing.receivers", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUNWELL_WEBHOOK_SECRET": secret},
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert "webhook_secret" not in ready  # it was given, so it is not echoed
        _http("POST", f"{ready['url']}/_faults", {"channel": "pagerduty", "count": 1, "status": 500})
        quick = Retrier(base_delay_s=0.01, max_delay_s=0.05)
        n = Notification("trigger", "drill-1", "drill page", timestamp=datetime(2026, 3, 20, tzinfo=UTC))
        pd = PagerDutyNotifier(ROUTING_KEY, url=ready["pagerduty"], retrier=quick)
        hook = WebhookNotifier(ready["webhook"], secret, retrier=quick)
        try:
            assert (await pd.send(n)).attempts == 2
            assert (await hook.send(n)).ok
        finally:
            await pd.aclose()
            await hook.aclose()

        seen = _http("GET", f"{ready['url']}/_received")
        assert [r["status"] for r in seen["pagerduty"]] == [500, 202]
        assert seen["pagerduty_alerts"][0]["dedup_key"] == "drill-1"
        assert [r["status"] for r in seen["webhook"]] == [204]
        assert seen["slack"] == [] and seen["email"] == []
        _http("DELETE", f"{ready['url']}/_received")
        assert _http("GET", f"{ready['url']}/_received")["pagerduty"] == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0

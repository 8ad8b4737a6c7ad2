"""Upstream failures answer 502/504 naming the provider and cause; a cut stream never looks finished."""

from __future__ import annotations

import json
import time
import urllib.request

import openai
import pytest

from tests.gateway.conftest import ADMIN_TOKEN, Gateway
from tests.gateway.test_bad_input import MSG, call


def sdk(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=30)


@pytest.mark.parametrize(
    ("variant", "status", "error_class", "text"),
    [
        ("err500", 502, "upstream_http_500", "mock error 500"),
        ("malformed", 502, "malformed_response", "'up'"),
        ("down", 502, "connect_error", "'dead'"),
        ("slow", 504, "timeout", "'up'"),
    ],
)
def test_upstream_failure_maps_to_502_or_504(
    gateway: Gateway, variant: str, status: int, error_class: str, text: str
) -> None:
    got, payload, headers = call(gateway, {"model": f"support@{variant}", "messages": MSG})
    assert got == status, payload
    error = payload["error"]
    assert error["type"] == "upstream_error" and error["code"] == error_class
    assert text in error["message"]
    rec = gateway.record(headers["x-request-id"])
    assert rec["status"] == "error" and rec["http_status"] == status and rec["error_class"] == error_class
    assert rec["provider"] in ("up", "dead") and rec["cost_usd"] is None


def test_sdk_sees_502_as_an_api_error(gateway: Gateway) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        sdk(gateway).chat.completions.create(model="support@err500", messages=MSG)
    assert info.value.status_code == 502


def test_stream_that_fails_before_output_is_a_json_502_not_an_event_stream(gateway: Gateway) -> None:
    got, payload, _ = call(gateway, {"model": "support@err500", "messages": MSG, "stream": True})
    assert got == 502 and payload["error"]["code"] == "upstream_http_500"


def test_cut_stream_ends_with_error_event_and_no_done(gateway: Gateway) -> None:
    req = urllib.request.Request(
        f"{gateway.url}/v1/chat/completions",
        method="POST",
        data=json.dumps({"model": "support@cut", "messages": MSG, "stream": True}).encode(),
        headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        rid = resp.headers["x-request-id"]
        events = [line.decode().strip() for line in resp if line.strip()]
    assert "data: [DONE]" not in events
    last = json.loads(events[-1].removeprefix("data: "))
    assert last["error"]["code"] == "stream_cut" and "incomplete" in last["error"]["message"]
    # No chunk claimed a clean finish.
    for event in events[:-1]:
        chunk = json.loads(event.removeprefix("data: "))
        assert all(c["finish_reason"] is None for c in chunk["choices"])
    rec = gateway.record(rid)
    assert rec["status"] == "error" and rec["error_class"] == "stream_cut" and rec["http_status"] == 200


def test_sdk_raises_on_cut_stream(gateway: Gateway) -> None:
    stream = sdk(gateway).chat.completions.create(model="support@cut", messages=MSG, stream=True)
    with pytest.raises(openai.APIError, match="incomplete"):
        for _ in stream:
            pass


def _readyz(gateway: Gateway, query: str = "", auth: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": auth} if auth else {}
    request = urllib.request.Request(f"{gateway.url}/readyz{query}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_readyz_reports_each_feature_and_a_down_provider_does_not_drain_the_gateway(gateway: Gateway) -> None:
    status, body = _readyz(gateway)
    # One provider of `support` is down, but both features still serve: a load balancer must not
    # take this gateway out of rotation.
    assert status == 200 and body["status"] == "ready"
    assert {body["checks"][c]["status"] for c in ("store", "audit", "recorder")} == {"ok"}
    support = body["features"]["support"]
    assert support["status"] == "ready"
    assert support["providers"]["up"]["status"] == "ok" and support["providers"]["echo"]["status"] == "ok"
    dead = support["providers"]["dead"]
    assert dead["status"] == "fail" and dead["error_class"] == "connect_error"
    # Without the admin token no error text (which names upstream URLs) is shown.
    assert "error" not in dead and "127.0.0.1" not in json.dumps(body)
    assert body["features"]["notes"]["status"] == "ready"


def test_readyz_shows_error_details_to_the_admin_only(gateway: Gateway) -> None:
    _status, body = _readyz(gateway, auth=f"Bearer {ADMIN_TOKEN}")
    assert "cannot connect" in body["features"]["support"]["providers"]["dead"]["error"]


def test_readyz_per_feature_and_unknown_feature(gateway: Gateway) -> None:
    status, body = _readyz(gateway, "?feature=notes")
    assert status == 200 and list(body["features"]) == ["notes"]
    status, body = _readyz(gateway, "?feature=nope")
    assert status == 404 and body["error"]["param"] == "feature"


def test_metrics_count_requests_by_feature_variant_provider_and_status(gateway: Gateway) -> None:
    sdk(gateway).chat.completions.create(model="support", messages=MSG)
    call(gateway, {"model": "support@err500", "messages": MSG})
    text, ok, failed = "", [], []
    for _ in range(50):  # metrics are updated by the recorder thread, off the request path
        text = urllib.request.urlopen(f"{gateway.url}/metrics", timeout=5).read().decode()
        totals = [line for line in text.splitlines() if line.startswith("runwell_requests_total{")]
        ok = [x for x in totals if 'feature="support"' in x and 'variant="main"' in x and 'status="ok"' in x]
        failed = [x for x in totals if 'variant="err500"' in x and 'status="error"' in x]
        if ok and failed:  # the two records may come in different batches
            break
        time.sleep(0.1)
    assert ok and float(ok[0].rsplit(" ", 1)[1]) >= 1, text[:3000]
    assert failed, text[:3000]
    assert "runwell_request_latency_seconds_bucket" in text
    assert "runwell_tokens_total{" in text and "runwell_cost_usd_total{" in text

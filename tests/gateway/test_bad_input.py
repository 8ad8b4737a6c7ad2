"""Every malformed request gets a 4xx that says what to fix, never a 500, and is still recorded."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import openai
import pytest

from tests.gateway.conftest import ADMIN_TOKEN, Gateway


def call(
    gw: Gateway,
    body: bytes | dict,
    *,
    key: str | None = "valid",
    path: str = "/v1/chat/completions",
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict, dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if key == "valid":
        hdrs["Authorization"] = f"Bearer {gw.key}"
    elif key is not None:
        hdrs["Authorization"] = key
    req = urllib.request.Request(
        gw.url + path, data=data if method != "GET" else None, method=method, headers=hdrs
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}"), dict(r.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}"), dict(err.headers)


MSG = [{"role": "user", "content": "hi"}]

BAD_BODIES = [
    (b"{not json", 400, None, "not valid JSON"),
    (b"", 400, None, "body is empty"),
    (b"[1, 2]", 400, None, "must be a JSON object"),
    ({"messages": MSG}, 400, "model", "'model' must be a non-empty string"),
    ({"model": 42, "messages": MSG}, 400, "model", "got int"),
    ({"model": "support"}, 400, "messages", "'messages' must be a list"),
    ({"model": "support", "messages": []}, 400, "messages", "at least one message"),
    ({"model": "support", "messages": ["hi"]}, 400, "messages[0]", "must be an object"),
    (
        {"model": "support", "messages": [{"role": "wizard", "content": "x"}]},
        400,
        "messages[0].role",
        "wizard",
    ),
    (
        {"model": "support", "messages": [{"role": "user", "content": 7}]},
        400,
        "messages[0].content",
        "got int",
    ),
    ({"model": "support", "messages": [{"role": "user"}]}, 400, "messages[0].content", "required"),
    ({"model": "support", "messages": MSG, "temperature": "hot"}, 400, "temperature", "from 0 to 2"),
    ({"model": "support", "messages": MSG, "temperature": 3}, 400, "temperature", "from 0 to 2"),
    ({"model": "support", "messages": MSG, "max_tokens": 0}, 400, "max_tokens", ">= 1"),
    ({"model": "support", "messages": MSG, "max_tokens": True}, 400, "max_tokens", ">= 1"),
    ({"model": "support", "messages": MSG, "stream": "yes"}, 400, "stream", "boolean"),
    ({"model": "support", "messages": MSG, "n": 2}, 400, "n", "only n=1"),
    ({"model": "support", "messages": MSG, "stop": [1]}, 400, "stop", "list of up to 4 strings"),
    ({"model": "support", "messages": MSG, "max_token": 5}, 400, "max_token", "unrecognized request field"),
    ({"model": "support", "messages": MSG, "variables": ["x"]}, 400, "variables", "must be an object"),
    (
        {"model": "support", "messages": MSG, "variables": {"a": {"b": 1}}},
        400,
        "variables.a",
        "string or number",
    ),
    ({"model": "nope", "messages": MSG}, 404, "model", "no feature named 'nope'"),
    ({"model": "support@v9", "messages": MSG}, 404, "model", "has no variant 'v9'"),
    ({"model": "support@", "messages": MSG}, 400, "model", "FEATURE@VARIANT"),
    ({"model": "support@templated", "messages": MSG}, 400, "variables.company", "company"),
    # A role that is not a string used to end in a TypeError (500).
    ({"model": "support", "messages": [{"role": {}, "content": "x"}]}, 400, "messages[0].role", "got dict"),
    ({"model": "support", "messages": [{"role": [], "content": "x"}]}, 400, "messages[0].role", "got list"),
    # JSON the gateway could read but not write back out (records) or canonicalise (audit).
    (
        b'{"model":"support","messages":[{"role":"user","content":"hi","x":'
        + b"[" * 300
        + b"]" * 300
        + b"}]}",
        400,
        "messages[0].x[0]...",
        "nested deeper than 64 levels",
    ),
    (
        b'{"model":"support@main","messages":[{"role":"user","content":"hi"}],"tools":['
        + b"[" * 200
        + b"]" * 200
        + b"]}",
        400,
        "tools[0][0][0]...",
        "nested deeper",
    ),
    (
        {"model": "support", "messages": [{"role": "user", "content": "hi", "x": 9007199254740993}]},
        400,
        "messages[0].x",
        "beyond",
    ),
    (
        {"model": "support", "messages": [{"role": "tool", "content": "42"}]},
        400,
        "messages[0].tool_call_id",
        "tool_call_id",
    ),
    (
        {"model": "support", "messages": [{"role": "assistant", "content": None, "tool_calls": "x"}]},
        400,
        "messages[0].tool_calls",
        "list of tool calls",
    ),
]


@pytest.mark.parametrize(("body", "status", "param", "text"), BAD_BODIES)
def test_bad_request_gets_clear_4xx_and_a_record(gateway: Gateway, body, status, param, text) -> None:
    got, payload, headers = call(gateway, body)
    assert got == status, payload
    error = payload["error"]
    assert text in error["message"]
    assert error["param"] == param
    assert error["request_id"] == headers["x-request-id"]
    rec = gateway.record(error["request_id"])
    assert rec["status"] == "error" and rec["http_status"] == status
    assert rec["error_class"]


def test_oversize_body_is_413(gateway: Gateway) -> None:
    big = {"model": "support", "messages": [{"role": "user", "content": "x" * (1 << 20)}]}
    got, payload, _ = call(gateway, big)
    assert got == 413
    assert "larger than the gateway's limit" in payload["error"]["message"]


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "missing_api_key"),
        ("Bearer rw-not-a-real-key", "invalid_api_key"),
        ("Basic dXNlcjpwYXNz", "missing_api_key"),
    ],
)
def test_missing_or_bad_key_is_401(gateway: Gateway, auth: str | None, code: str) -> None:
    got, payload, _ = call(gateway, {"model": "support", "messages": MSG}, key=auth)
    assert got == 401
    assert payload["error"]["code"] == code and payload["error"]["type"] == "authentication_error"


def test_sdk_sees_authentication_error(gateway: Gateway) -> None:
    bad = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="rw-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="support", messages=MSG)


def test_models_needs_a_key(gateway: Gateway) -> None:
    got, _, _ = call(gateway, b"", key=None, path="/v1/models", method="GET")
    assert got == 401


def test_unknown_route_and_wrong_method(gateway: Gateway) -> None:
    got, payload, _ = call(gateway, b"", path="/v1/embeddings")
    assert got == 404 and "no route" in payload["error"]["message"]
    got, payload, _ = call(gateway, b"", path="/v1/chat/completions", method="GET")
    assert got == 405


def test_admin_endpoints_need_the_admin_token_not_a_client_key(gateway: Gateway) -> None:
    got, _, _ = call(gateway, b"", path="/admin/keys", method="GET")
    assert got == 401
    got, payload, _ = call(gateway, b"", path="/admin/keys", method="GET", key=f"Bearer {ADMIN_TOKEN}")
    assert got == 200 and payload["data"] and all("secret" not in k for k in payload["data"])


def test_admin_created_key_works_and_revocation_takes_effect(gateway: Gateway) -> None:
    admin = f"Bearer {ADMIN_TOKEN}"
    got, created, _ = call(gateway, {"name": "temp-client"}, path="/admin/keys", key=admin)
    assert got == 201 and created["secret"].startswith("rw-")
    got, _, _ = call(gateway, {"model": "support", "messages": MSG}, key=f"Bearer {created['secret']}")
    assert got == 200
    got, _, _ = call(gateway, b"", path=f"/admin/keys/{created['id']}", method="DELETE", key=admin)
    assert got == 200
    got, payload, _ = call(gateway, {"model": "support", "messages": MSG}, key=f"Bearer {created['secret']}")
    assert got == 401 and payload["error"]["code"] == "invalid_api_key"


def test_key_revoked_from_cli_stops_working_within_refresh_interval(gateway: Gateway) -> None:
    from tests.gateway.conftest import runwell

    out = runwell("keys", "create", "short-lived", "--dir", str(gateway.root), cwd=gateway.root).stdout
    secret = next(w for w in out.split() if w.startswith("rw-"))
    deadline = time.time() + 5
    while call(gateway, {"model": "support", "messages": MSG}, key=f"Bearer {secret}")[0] != 200:
        assert time.time() < deadline, "new key never became valid"
        time.sleep(0.2)
    runwell("keys", "revoke", "short-lived", "--dir", str(gateway.root), cwd=gateway.root)
    deadline = time.time() + 5
    while call(gateway, {"model": "support", "messages": MSG}, key=f"Bearer {secret}")[0] != 401:
        assert time.time() < deadline, "revoked key still accepted after 5 s"
        time.sleep(0.2)

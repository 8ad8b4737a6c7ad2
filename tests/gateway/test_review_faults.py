"""The faults a review of the gateway found, each shown fixed through the real interfaces.

Tool calling, usage in streams (checked with LangChain and LiteLLM as real clients), bad input
that must not stop record writing, the admin keys API, user-id hashing, limits and small routes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openai
import psycopg
import pytest

from runwell.audit.entries import pseudonymize_user
from tests.gateway.conftest import ADMIN_TOKEN, Gateway, runwell, start_gateway, stop_gateway
from tests.gateway.test_bad_input import MSG, call

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Find an order by id",
            "parameters": {"type": "object", "properties": {"order": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {"name": "notify", "parameters": {"type": "object", "properties": {}}},
    },
]


def sdk(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)


def entries(gw: Gateway) -> list[dict]:
    out = runwell("audit", "export", "--dir", str(gw.root), cwd=gw.root).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --- tool calling ------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["tools", "claudetools", "simtools"])
def test_whole_tool_calls_reach_the_client_and_are_recorded_and_audited(
    gateway: Gateway, variant: str
) -> None:
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model=f"support@{variant}", messages=[{"role": "user", "content": "where is A-17?"}], tools=TOOLS
    )
    answer = raw.parse()
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 2
    assert {c.function.name for c in calls} == {"lookup_order", "notify"}
    assert all(isinstance(json.loads(c.function.arguments), dict) and c.id for c in calls)
    record = gateway.record(raw.headers["x-request-id"])
    assert [c["function"]["name"] for c in record["tool_calls"]] == [c.function.name for c in calls]
    # The audited output covers the tool calls: a tool call is a model decision too.
    decision = next(e for e in entries(gateway) if e.get("request_id") == answer.id.removeprefix("chatcmpl-"))
    assert decision["output_sha256"] is not None


@pytest.mark.parametrize("variant", ["tools", "claudetools", "simtools"])
def test_streamed_parallel_tool_calls_are_forwarded(gateway: Gateway, variant: str) -> None:
    stream = sdk(gateway).chat.completions.create(
        model=f"support@{variant}",
        messages=[{"role": "user", "content": "where is A-17?"}],
        tools=TOOLS,
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call_ = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call_["id"] += delta.id or ""
                if delta.function is not None:
                    call_["name"] += delta.function.name or ""
                    call_["arguments"] += delta.function.arguments or ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert len(calls) == 2 and {c["name"] for c in calls.values()} == {"lookup_order", "notify"}
    assert all(c["id"] and isinstance(json.loads(c["arguments"]), dict) for c in calls.values())


@pytest.mark.parametrize("variant", ["tools", "claudetools"])
def test_a_tool_result_round_trip(gateway: Gateway, variant: str) -> None:
    messages = [
        {"role": "user", "content": "where is A-17?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order":"A-17"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "shipped on Monday"},
    ]
    answer = sdk(gateway).chat.completions.create(model=f"support@{variant}", messages=messages, tools=TOOLS)
    assert "shipped on Monday" in (answer.choices[0].message.content or "")


def test_tools_sent_to_a_model_without_tools_get_400(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        sdk(gateway).chat.completions.create(model="support@smol", messages=MSG, tools=TOOLS)
    assert err.value.body["code"] == "unsupported_request"  # type: ignore[index]


def test_logprobs_pass_through_whole_and_streamed(gateway: Gateway) -> None:
    answer = sdk(gateway).chat.completions.create(model="support@logprobs", messages=MSG, logprobs=True)
    content = answer.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content and content[0].token
    chunks = list(
        sdk(gateway).chat.completions.create(
            model="support@logprobs", messages=MSG, logprobs=True, stream=True
        )
    )
    assert any(c.choices and c.choices[0].logprobs and c.choices[0].logprobs.content for c in chunks)


def test_the_clients_max_completion_tokens_wins_over_the_variants_max_tokens(gateway: Gateway) -> None:
    answer = sdk(gateway).chat.completions.create(
        model="support@templated",
        messages=MSG,
        max_completion_tokens=7,
        extra_body={"variables": {"company": "A"}},
    )
    seen = json.loads(answer.choices[0].message.content or "{}")["params"]
    assert seen["max_completion_tokens"] == 7 and "max_tokens" not in seen


# --- usage in streams, with real client libraries ----------------------------------------------


def _client_script(gw: Gateway, code: str) -> dict:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "GW": gw.url, "KEY": gw.key}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_langchain_counts_each_token_once_in_a_stream(gateway: Gateway) -> None:
    result = _client_script(
        gateway,
        """
        import json, os
        from langchain_openai import ChatOpenAI
        llm = ChatOpenAI(model="support", base_url=os.environ["GW"] + "/v1", api_key=os.environ["KEY"],
                         stream_usage=True, max_retries=0)
        total = None
        for chunk in llm.stream("stream please"):
            total = chunk if total is None else total + chunk
        whole = llm.invoke("stream please")
        print(json.dumps({"stream": total.usage_metadata, "whole": whole.usage_metadata}))
        """,
    )
    assert result["stream"]["input_tokens"] == result["whole"]["input_tokens"] > 0
    assert result["stream"]["output_tokens"] == result["whole"]["output_tokens"] == 5


def test_litellm_sdk_streams_and_counts_usage_once(gateway: Gateway) -> None:
    result = _client_script(
        gateway,
        """
        import json, os
        import litellm
        stream = litellm.completion(model="openai/support", api_base=os.environ["GW"] + "/v1",
                                    api_key=os.environ["KEY"], messages=[{"role": "user", "content": "hi"}],
                                    stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = [c.usage.completion_tokens for c in chunks if getattr(c, "usage", None)]
        print(json.dumps({"text": text, "usage": usage}))
        """,
    )
    assert result["text"] == "Hello from the mock upstream."
    assert result["usage"] and set(result["usage"]) == {5}


# --- bad input never stops record writing ------------------------------------------------------


def test_a_request_too_deep_to_store_gets_400_and_records_keep_flowing(gateway: Gateway) -> None:
    deep = (
        b'{"model":"support","messages":[{"role":"user","content":"hi","x":'
        + b"[" * 300
        + b"]" * 300
        + b"}]}"
    )
    status, payload, _ = call(gateway, deep)
    assert status == 400
    ids = [payload["error"]["request_id"]]
    client = sdk(gateway)
    for _ in range(20):
        raw = client.chat.completions.with_raw_response.create(model="support", messages=MSG)
        ids.append(raw.headers["x-request-id"])
    # Every one of them, the bad one included, is stored (read in one CLI call, not 21).
    assert gateway.record(ids[0])["http_status"] == 400
    deadline = time.time() + 10
    while True:
        out = runwell(
            "requests", "list", "--limit", "1000", "--json", "--dir", str(gateway.root), cwd=gateway.root
        )
        missing = set(ids) - {row["request_id"] for row in json.loads(out.stdout)}
        if not missing or time.time() > deadline:
            break
        time.sleep(0.1)
    assert not missing, missing


# --- the admin keys API ------------------------------------------------------------------------


def _admin(gw: Gateway, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        gw.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_duplicate_key_name_is_409(gateway: Gateway) -> None:
    assert _admin(gateway, "POST", "/admin/keys", {"name": "twice"})[0] == 201
    status, body = _admin(gateway, "POST", "/admin/keys", {"name": "twice"})
    assert (
        status == 409 and body["error"]["code"] == "conflict" and "already exists" in body["error"]["message"]
    )


def test_revoking_twice_is_audited_once(gateway: Gateway) -> None:
    status, key = _admin(gateway, "POST", "/admin/keys", {"name": "revoke-me", "reason": "test"})
    assert status == 201
    assert _admin(gateway, "DELETE", f"/admin/keys/{key['id']}?reason=done")[0] == 200
    status, again = _admin(gateway, "DELETE", f"/admin/keys/{key['id']}")
    assert status == 200 and again["active"] is False
    revoked = [
        e for e in entries(gateway) if e.get("kind") == "api_key_revoked" and e["subject"] == key["id"]
    ]
    assert len(revoked) == 1 and revoked[0]["reason"] == "done"
    created = [
        e for e in entries(gateway) if e.get("kind") == "api_key_created" and e["subject"] == key["id"]
    ]
    assert len(created) == 1 and created[0]["actor"] == "admin-api" and created[0]["reason"] == "test"


def test_an_unknown_key_is_404(gateway: Gateway) -> None:
    status, body = _admin(gateway, "DELETE", "/admin/keys/key_doesnotexist")
    assert status == 404 and body["error"]["code"] == "api_key_not_found"


@pytest.fixture
def pg_gateway(project: Path, pg_url: str) -> Iterator[tuple[Gateway, str]]:
    gw = start_gateway(project, db=pg_url)
    try:
        yield gw, pg_url
    finally:
        stop_gateway(gw)


@pytest.mark.postgres
def test_a_database_outage_is_503_not_404(pg_gateway: tuple[Gateway, str]) -> None:
    gw, url = pg_gateway
    schema = url.rsplit("search_path%3D", 1)[1]
    admin = psycopg.connect(url.split("?", 1)[0], autocommit=True)
    admin.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')
    try:
        status, body = _admin(gw, "DELETE", "/admin/keys/key_whatever")
        # The database is unreachable: the key may well exist, so "not found" would be a lie.
        assert status == 503 and "cannot" in body["error"]["message"]
        assert _admin(gw, "GET", "/admin/keys")[0] == 503
    finally:
        admin.execute(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')
        admin.close()
    assert _admin(gw, "GET", "/admin/keys")[0] == 200


# --- user ids ----------------------------------------------------------------------------------


def test_hashed_user_ids_are_the_same_pseudonym_everywhere(gateway: Gateway) -> None:
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model="notes", messages=MSG, user="alice@example.com"
    )
    rid = raw.headers["x-request-id"]
    record = gateway.record(rid)
    decision = next(e for e in entries(gateway) if e.get("request_id") == rid)
    assert record["user_id"].startswith("hmac-sha256:") and "alice" not in record["user_id"]
    assert decision["user"] == record["user_id"]


# --- limits and small routes -------------------------------------------------------------------


def test_a_body_that_trickles_in_is_cut_off_with_408(project: Path) -> None:
    gw = start_gateway(project, extra_args=("--body-timeout-seconds", "1"))
    try:
        host, port = gw.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                + f"Authorization: Bearer {gw.key}\r\n".encode()
                + b'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"model":'
            )
            started = time.monotonic()
            answer = b""
            while b"body_timeout" not in answer:
                piece = sock.recv(4096)
                if not piece:
                    break
                answer += piece
        assert answer.startswith(b"HTTP/1.1 408") and b"body_timeout" in answer
        assert time.monotonic() - started < 5
    finally:
        stop_gateway(gw)


def test_connections_beyond_the_cap_get_503(project: Path) -> None:
    gw = start_gateway(project, extra_args=("--max-connections", "3"))
    host, port = gw.url.removeprefix("http://").split(":")
    held = []
    try:
        for _ in range(3):  # idle sockets that never finish a request
            held.append(socket.create_connection((host, int(port)), timeout=10))
            held[-1].sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{gw.url}/healthz", timeout=10)
        assert err.value.code == 503  # uvicorn's own plain-text answer, before any routing
    finally:
        for sock in held:
            sock.close()
        stop_gateway(gw)


def test_get_one_model_and_head_healthz(gateway: Gateway) -> None:
    assert sdk(gateway).models.retrieve("support@templated").id == "support@templated"
    with pytest.raises(openai.NotFoundError):
        sdk(gateway).models.retrieve("support@nope")
    request = urllib.request.Request(f"{gateway.url}/healthz", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b""


def test_explain_says_a_rebuilt_record_lost_its_content(gateway: Gateway, make_record) -> None:
    # A record rebuilt after an unclean shutdown has no content because it was lost, not
    # because capture is off; explain must say which.
    rid = (
        sdk(gateway)
        .chat.completions.with_raw_response.create(model="support", messages=MSG)
        .headers["x-request-id"]
    )
    gateway.record(rid)
    from runwell.audit.explain import _content

    stub = make_record(
        request_id=rid, prompt=None, completion=None, recovered=True, note="rebuilt after a crash"
    )
    out = _content(stub, {"input_sha256": "0" * 64, "output_sha256": None})
    assert out["content"] == "not stored: rebuilt after a crash"


def test_pseudonym_matches_the_audit_key(gateway: Gateway) -> None:
    # The pseudonym is the keyed hash under the audit log's user-id key (documented derivation).
    import hashlib

    skey = (gateway.root / ".runwell" / "audit.key").read_text().strip()
    key = hashlib.sha256(b"runwell audit user-id key\x00" + skey.encode()).digest()
    raw = sdk(gateway).chat.completions.with_raw_response.create(model="notes", messages=MSG, user="bob")
    assert gateway.record(raw.headers["x-request-id"])["user_id"] == pseudonymize_user("bob", key)

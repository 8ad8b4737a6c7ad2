"""The official openai SDK (sync, async, streaming) against a running gateway, and what it records."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import openai
import pytest

from tests.gateway.conftest import Gateway


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)


def test_sync_whole_answer_is_served_and_recorded(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="support", messages=[{"role": "user", "content": "Where is my order?"}], user="cust-42"
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == "Hello from the mock upstream."
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "support@main"
    assert answer.usage is not None and answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens == 5
    rid = raw.headers["x-request-id"]
    assert answer.id == f"chatcmpl-{rid}"

    rec = gateway.record(rid)
    assert rec["feature"] == "support" and rec["variant"] == "main"
    assert rec["provider"] == "up" and rec["model"] == "gpt-4o-mini"
    assert rec["status"] == "ok" and rec["http_status"] == 200
    assert rec["user_id"] == "cust-42"
    assert rec["input_tokens"] == answer.usage.prompt_tokens
    assert rec["output_tokens"] == answer.usage.completion_tokens
    assert rec["latency_ms"] > 0
    # gpt-4o-mini has a built-in price: the cost is positive and marked priced.
    assert rec["priced"] is True and rec["cost_usd"] > 0
    assert rec["spec_version"].startswith("nogit+") and len(rec["spec_version"]) == len("nogit+") + 12
    assert rec["prompt_version"].startswith("1+")
    # Full trace: the prompt the model saw (template applied) and the completion, linked by id.
    assert rec["prompt"][0] == {"role": "system", "content": "You answer briefly."}
    assert rec["prompt"][-1]["content"] == "Where is my order?"
    assert rec["completion"] == "Hello from the mock upstream."
    assert len(rec["trace_id"]) == 32


async def test_async_client_and_traceparent_joins_the_callers_trace(gateway: Gateway) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    aclient = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    raw = await aclient.chat.completions.with_raw_response.create(
        model="support@main",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == "Hello from the mock upstream."
    record = gateway.record(raw.headers["x-request-id"])
    assert record["trace_id"] == trace and record["parent_span_id"] == "00f067aa0ba902b7"
    await aclient.close()


def test_stream_yields_content_then_usage_and_records_ttft(gateway: Gateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="support",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock upstream."
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage_chunks = [c for c in chunks if not c.choices]
    assert len(usage_chunks) == 1 and usage_chunks[0].usage.completion_tokens == 5
    rid = chunks[0].id.removeprefix("chatcmpl-")
    rec = gateway.record(rid)
    assert rec["stream"] is True and rec["status"] == "ok"
    assert rec["ttft_ms"] is not None and 0 < rec["ttft_ms"] <= rec["latency_ms"]
    assert rec["output_tokens"] == 5 and rec["completion"] == text


def _raw_stream_chunks(gw: Gateway, body: dict) -> list[dict]:
    request = urllib.request.Request(
        f"{gw.url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        lines = [line.decode().strip() for line in resp]
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def test_stream_usage_follows_openai_exactly(gateway: Gateway) -> None:
    # Clients such as LangChain sum usage over chunks: it must appear exactly once, and only
    # when asked for, on a last chunk with no choices; every other chunk then says "usage": null.
    body = {"model": "support", "messages": [{"role": "user", "content": "x"}], "stream": True}
    plain = _raw_stream_chunks(gateway, body)
    assert plain and all("usage" not in c for c in plain)
    assert plain[-1]["choices"][0]["finish_reason"] == "stop"
    counted = _raw_stream_chunks(gateway, {**body, "stream_options": {"include_usage": True}})
    assert all("usage" in c for c in counted)
    assert [c["usage"] is not None for c in counted] == [False] * (len(counted) - 1) + [True]
    assert counted[-1]["choices"] == [] and counted[-1]["usage"]["completion_tokens"] == 5
    # The record has the tokens either way: runwell always asks its upstream for usage.
    assert gateway.record(plain[0]["id"].removeprefix("chatcmpl-"))["output_tokens"] == 5


def test_template_and_variables_are_applied_before_the_provider(gateway: Gateway) -> None:
    answer = client(gateway).chat.completions.create(
        model="support@templated",
        messages=[
            {"role": "system", "content": "client system"},
            {"role": "user", "content": "printer jams"},
        ],
        extra_body={"variables": {"company": "Acme"}},
        temperature=0.7,
    )
    seen = json.loads(answer.choices[0].message.content)
    assert seen["messages"] == [
        {"role": "system", "content": "You are the support assistant of Acme."},
        {"role": "system", "content": "client system"},
        {"role": "user", "content": "Ticket: printer jams"},
    ]
    # Variant params are defaults; the client's values win.
    assert seen["params"]["temperature"] == 0.7 and seen["params"]["max_tokens"] == 50


def test_anthropic_variant_through_openai_sdk(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="support@claude", messages=[{"role": "user", "content": "hello"}], max_tokens=64
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == "Hello from the mock upstream."
    rec = gateway.record(raw.headers["x-request-id"])
    assert rec["provider"] == "claude" and rec["priced"] is True


def test_models_lists_features_and_variants(gateway: Gateway) -> None:
    ids = [m.id for m in client(gateway).models.list()]
    assert "support" in ids and "support@templated" in ids and "notes" in ids and "notes@main" in ids


def test_unpriced_model_is_recorded_as_unpriced_never_zero(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="support@unpriced", messages=[{"role": "user", "content": "x"}]
    )
    rec = gateway.record(raw.headers["x-request-id"])
    assert rec["status"] == "ok" and rec["output_tokens"] == 5
    assert rec["cost_usd"] is None and rec["priced"] is False


def test_content_capture_off_keeps_metrics_but_not_text(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="notes", messages=[{"role": "user", "content": "my secret diary"}]
    )
    assert raw.parse().choices[0].message.content
    rec = gateway.record(raw.headers["x-request-id"])
    assert rec["prompt"] is None and rec["completion"] is None
    assert rec["input_tokens"] is not None and rec["latency_ms"] > 0


def test_requests_list_cli_filters_by_feature(gateway: Gateway) -> None:
    from tests.gateway.conftest import runwell

    client(gateway).chat.completions.create(model="notes", messages=[{"role": "user", "content": "x"}])
    out = runwell(
        "requests", "list", "--feature", "notes", "--json", "--dir", str(gateway.root), cwd=gateway.root
    )
    rows = json.loads(out.stdout)
    assert rows and all(r["feature"] == "notes" for r in rows)


@pytest.mark.parametrize("bad", ["yesterday", "5 minutes", "-3h"])
def test_requests_list_rejects_bad_since(gateway: Gateway, bad: str) -> None:
    from tests.gateway.conftest import runwell

    out = runwell(
        "requests", "list", "--since", bad, "--dir", str(gateway.root), cwd=gateway.root, check=False
    )
    assert out.returncode == 2
    assert "--since" in (out.stdout + out.stderr)


def test_writer_threads_carry_their_names_for_the_kernel(gateway: Gateway) -> None:
    # What `top -H -p PID` and perf show: an operator can tell which thread burns the CPU.
    tasks = Path(f"/proc/{gateway.proc.pid}/task")
    names = [(task / "comm").read_text().strip() for task in tasks.iterdir()]
    assert "runwell-records" in names and "runwell-audit" in names, names

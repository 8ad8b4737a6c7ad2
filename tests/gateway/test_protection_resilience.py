"""Retries, breakers, fallbacks, degradation, queued answers and Redis-shared budgets and levers,
end to end: real gateway processes, the real mock upstream, real Redis and PostgreSQL, and the
official openai SDK as the client."""

from __future__ import annotations

import concurrent.futures
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import psycopg
import pytest

from tests.gateway.conftest import Gateway, runwell, start_gateway, stop_gateway
from tests.gateway.protection_project import DEGRADED, write_guarded, write_metered, write_queued

REDIS = "redis://127.0.0.1:6379/0"


def sdk(gw: Gateway, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, **options)


def ask(gw: Gateway, text: str, model: str = "guarded", **extra: Any) -> Any:
    return sdk(gw).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **extra
    )


def get_json(url: str, key: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, mock_upstream: str, dead_port: int) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("resilient")
    write_guarded(root, mock_upstream, dead_port)
    gateway = start_gateway(root, specs=("runwell.yaml",))
    try:
        yield gateway
    finally:
        stop_gateway(gateway)


# --- retries, timeouts, fallbacks --------------------------------------------------------------


def test_an_upstream_outage_is_answered_by_the_fallback_chain(gw: Gateway) -> None:
    raw = ask(gw, "are you there?", model="guarded@down")
    assert raw.parse().choices[0].message.content == "are you there?"
    assert raw.headers["x-runwell-served-by"] == "main" and raw.headers["x-runwell-variant"] == "main"
    record = gw.record(raw.headers["x-request-id"])
    assert record["outcome"] == "fallback" and record["variant"] == "main"
    assert [(a["variant"], a["outcome"]) for a in record["attempts"]] == [("down", "error"), ("main", "ok")]
    assert record["attempts"][0]["error_class"] == "connect_error"


def test_a_stream_whose_variant_fails_before_output_falls_back(gw: Gateway) -> None:
    with sdk(gw).chat.completions.with_streaming_response.create(
        model="guarded@down", messages=[{"role": "user", "content": "stream it"}], stream=True
    ) as response:
        assert response.headers["x-runwell-served-by"] == "main"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == "stream it"


def test_a_safe_failure_is_retried_on_the_same_variant(gw: Gateway) -> None:
    raw = ask(gw, f"flaky {secrets.token_hex(4)}", model="guarded@flaky")
    assert raw.headers["x-runwell-served-by"] == "flaky"  # the retry answered: no fallback
    assert gw.record(raw.headers["x-request-id"])["outcome"] == "served"


def test_retry_after_is_honoured_before_falling_back(gw: Gateway) -> None:
    t0 = time.monotonic()
    raw = ask(gw, "rate limited", model="guarded@ratelimited")
    elapsed = time.monotonic() - t0
    assert raw.headers["x-runwell-served-by"] == "main"
    assert elapsed >= 1.0  # the upstream asked for Retry-After: 1 before the second try
    record = gw.record(raw.headers["x-request-id"])
    assert record["attempts"][0]["error_class"] == "upstream_http_429"


def test_a_slow_variant_times_out_and_the_chain_answers_within_the_deadline(gw: Gateway) -> None:
    t0 = time.monotonic()
    raw = ask(gw, "slow one", model="guarded@slow")
    assert time.monotonic() - t0 < 4.5  # timeouts.total_s is 4
    assert raw.headers["x-runwell-served-by"] == "main"
    record = gw.record(raw.headers["x-request-id"])
    assert record["attempts"][0]["outcome"] == "timeout"


def test_a_stream_cut_after_output_ends_with_an_error_event_not_a_fallback(gw: Gateway) -> None:
    stream = sdk(gw).chat.completions.create(
        model="guarded@cut", messages=[{"role": "user", "content": "cut me"}], stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert "incomplete" in str(caught.value)


def test_the_breaker_opens_on_failures_and_shows_in_readyz_and_metrics(gw: Gateway) -> None:
    for i in range(5):
        raw = ask(gw, f"breaker {i}", model="guarded@err500")
        assert raw.headers["x-runwell-served-by"] == "main"
    record = gw.record(raw.headers["x-request-id"])
    assert record["attempts"][0]["outcome"] == "breaker_open"  # refused at once, no upstream call
    assert record["attempts"][0]["ms"] < 50
    ready = get_json(f"{gw.url}/readyz")
    [breaker] = [b for b in ready["breakers"] if b["model"] == "mock-error-500"]
    assert breaker["state"] == "open" and breaker["open_until"] is not None
    with urllib.request.urlopen(f"{gw.url}/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'runwell_breaker_state{model="mock-error-500",provider="up",state="open"} 1.0' in metrics
    assert 'runwell_events_total{feature="",kind="breaker_open"}' in metrics


def test_when_every_candidate_fails_the_static_degradation_answers(gw: Gateway) -> None:
    d = ("--dir", str(gw.root))
    runwell("kill", "guarded", "--variant", "main", "--reason", "main is misbehaving", *d, cwd=gw.root)
    try:
        time.sleep(1.0)
        raw = ask(gw, "anyone?", model="guarded@down")
        assert raw.parse().choices[0].message.content == DEGRADED
        assert raw.headers["x-runwell-served-by"] == "degraded:static"
        body = json.loads(raw.text)
        assert body["runwell"]["reason"] == "all_variants_failed"
        record = gw.record(raw.headers["x-request-id"])
        assert record["outcome"] == "degraded" and record["completion"] is None
        assert [a["variant"] for a in record["attempts"]] == ["down"]  # the killed variant is skipped
    finally:
        runwell("unkill", "guarded", "--variant", "main", "--reason", "fixed", *d, cwd=gw.root)


# --- queued answers ----------------------------------------------------------------------------


def test_queued_answers_survive_a_restart_and_are_fetched_by_ticket(
    tmp_path: Path, mock_upstream: str, dead_port: int
) -> None:
    dead = f"http://127.0.0.1:{dead_port}"
    write_queued(tmp_path, dead)
    first = start_gateway(tmp_path, specs=("runwell.yaml",))
    try:
        raw = sdk(first).chat.completions.with_raw_response.create(
            model="deferred", messages=[{"role": "user", "content": "Mail bob@example.com the report"}]
        )
        assert raw.http_response.status_code == 202
        assert raw.headers["x-runwell-served-by"] == "degraded:queued"
        ticket = json.loads(raw.text)["id"]
        assert raw.headers["location"] == f"/v1/queued/{ticket}"
        pending = get_json(f"{first.url}/v1/queued/{ticket}", first.key)
        assert pending["status"] == "queued" and "answer" not in pending
    finally:
        stop_gateway(first)
    write_queued(tmp_path, mock_upstream)  # the provider is back
    second = start_gateway(tmp_path, specs=("runwell.yaml",), extra_args=("--queue-first-try-seconds", "0.5"))
    try:
        deadline = time.time() + 20
        while True:
            # A ticket belongs to the key that asked: the first gateway's key still holds it.
            state = get_json(f"{second.url}/v1/queued/{ticket}", first.key)
            if state["status"] == "done" or time.time() > deadline:
                break
            time.sleep(0.3)
        assert state["status"] == "done", state
        answer = state["answer"]
        # Answered later from the stored request: redacted before it was stored, so the
        # placeholder (not the address) is what the model saw and echoed.
        assert answer["choices"][0]["message"]["content"] == "Mail <EMAIL_1> the report"
        assert answer["runwell"]["ticket"] == ticket and answer["runwell"]["outcome"] == "served"
        with pytest.raises(urllib.error.HTTPError) as other_key:
            get_json(f"{second.url}/v1/queued/{ticket}", second.key)
        assert other_key.value.code == 404
    finally:
        stop_gateway(second)


# --- Redis: budgets and levers across replicas -------------------------------------------------


def _cost_of(records: list[dict[str, Any]]) -> float:
    return sum(r["cost_usd"] or 0.0 for r in records if r["http_status"] == 200)


def _records(gw: Gateway, feature: str) -> list[dict[str, Any]]:
    out = runwell("requests", "list", "--feature", feature, "--limit", "1000", "--format", "json",
                  "--dir", str(gw.root), *(("--db", gw.db) if gw.db else ()), cwd=gw.root)  # fmt: skip
    return list(json.loads(out.stdout))


def test_two_gateways_on_one_redis_do_not_overspend_a_budget(tmp_path: Path, mock_upstream: str) -> None:
    feature = f"metered{secrets.token_hex(3)}"
    # Each answer costs about $0.02 (a dozen tokens at $1 per 1k); the budget allows about ten.
    write_metered(tmp_path, mock_upstream, name=feature, daily_usd=0.2)
    spec = f"{feature}/runwell.yaml"
    a = start_gateway(tmp_path, specs=(spec,), db=str(tmp_path / "a.db"), extra_args=("--redis", REDIS))
    b = start_gateway(tmp_path, specs=(spec,), db=str(tmp_path / "b.db"), extra_args=("--redis", REDIS))
    try:

        def one(i: int) -> int:
            gw = a if i % 2 else b
            try:
                ask(gw, f"request {i}", model=feature)
                return 200
            except openai.RateLimitError as exc:
                body = exc.body
                assert isinstance(body, dict) and body["code"] == "budget_exceeded"
                assert "usd_per_day" in body["message"]
                return 429

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(48)))
        assert statuses.count(429) > 0 and statuses.count(200) > 0
        records = _records(a, feature) + _records(b, feature)
        spent = _cost_of(records)
        most_one_request = max(r["cost_usd"] for r in records if r["http_status"] == 200)
        assert spent <= 0.2 + most_one_request, (spent, statuses.count(200))
        assert spent > 0.1  # the budget was used, not refused wholesale
        # Crossing alert_at_fraction (0.8) raised one budget_alert across both replicas:
        # counted in /metrics and written to the audit log.
        alerts = 0
        for gw in (a, b):
            with urllib.request.urlopen(f"{gw.url}/metrics", timeout=10) as resp:
                for line in resp.read().decode().splitlines():
                    if line.startswith(f'runwell_events_total{{feature="{feature}",kind="budget_alert"}}'):
                        alerts += int(float(line.split()[-1]))
        assert alerts == 1
        time.sleep(1.0)  # the events job appends to the audit log every 0.5 s
        logged = []
        for db in ("a.db", "b.db"):
            out = runwell(
                "audit", "export", "--dir", str(tmp_path / feature), "--db", str(tmp_path / db), cwd=tmp_path
            )
            logged += [json.loads(x) for x in out.stdout.splitlines() if '"budget_alert"' in x]
        [entry] = logged
        assert entry["actor"] == "runwell" and entry["after"]["budget"] == "feature.usd_per_day"
        assert entry["after"]["fraction"] >= 0.8
    finally:
        stop_gateway(a)
        stop_gateway(b)


def test_redis_down_applies_the_documented_policy_never_a_500(
    tmp_path: Path, mock_upstream: str, dead_port: int
) -> None:
    open_name, closed_name = f"open{secrets.token_hex(3)}", f"closed{secrets.token_hex(3)}"
    write_metered(tmp_path, mock_upstream, name=open_name, daily_usd=5, fail="fail_open")
    write_metered(tmp_path, mock_upstream, name=closed_name, daily_usd=5, fail="fail_closed")
    nothing = f"redis://127.0.0.1:{dead_port}/0"
    specs = (f"{open_name}/runwell.yaml", f"{closed_name}/runwell.yaml")
    gw = start_gateway(tmp_path, specs=specs, db=str(tmp_path / "gw.db"), extra_args=("--redis", nothing))
    try:
        raw = ask(gw, "budget store is down", model=open_name)
        assert raw.http_response.status_code == 200
        record = gw.record(raw.headers["x-request-id"])
        assert record["guardrails"]["budgets"]["status"] == "unavailable_fail_open"
        with pytest.raises(openai.InternalServerError) as caught:
            ask(gw, "budget store is down", model=closed_name)
        assert caught.value.status_code == 503
        body = caught.value.body
        assert isinstance(body, dict) and body["code"] == "budget_store_unavailable"
        with urllib.request.urlopen(f"{gw.url}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        assert f'runwell_events_total{{feature="{open_name}",kind="budget_store_unavailable"}}' in metrics
    finally:
        stop_gateway(gw)


def test_a_kill_reaches_every_replica_within_a_second(
    tmp_path: Path, mock_upstream: str, pg_url: str, dead_port: int
) -> None:
    write_guarded(tmp_path, mock_upstream, dead_port)
    a = start_gateway(tmp_path, specs=("runwell.yaml",), db=pg_url, extra_args=("--redis", REDIS))
    b = start_gateway(tmp_path, specs=("runwell.yaml",), db=pg_url, extra_args=("--redis", REDIS))
    try:
        for gw in (a, b):
            assert ask(gw, "before").headers["x-runwell-served-by"] == "main"
        runwell(
            "kill",
            "guarded",
            "--reason",
            "replica drill",
            "--dir",
            str(tmp_path),
            "--db",
            pg_url,
            cwd=tmp_path,
        )
        killed_at = time.monotonic()
        # Both replicas are asked in turns, each on a client made once, so that each one's time is
        # its own (not the other's polling added) and no client set-up counts against it.
        clients = {gw.url: sdk(gw) for gw in (a, b)}
        served: dict[str, tuple[str, float]] = {}
        while len(served) < 2 and time.monotonic() - killed_at <= 3:
            for url, client in clients.items():
                if url not in served:
                    raw = client.chat.completions.with_raw_response.create(
                        model="guarded", messages=[{"role": "user", "content": "after"}]
                    )
                    if raw.headers["x-runwell-served-by"] == "degraded:static":
                        served[url] = ("degraded:static", time.monotonic() - killed_at)
            time.sleep(0.02)
        assert len(served) == 2, f"not every replica degraded within 3 s: {served}"
        assert all(t <= 1.0 for _, t in served.values()), served
        with psycopg.connect(pg_url) as conn:
            (kills,) = conn.execute("SELECT count(*) FROM levers WHERE kind = 'kill'").fetchone() or (0,)
        assert kills == 1
        runwell(
            "unkill",
            "guarded",
            "--reason",
            "drill over",
            "--dir",
            str(tmp_path),
            "--db",
            pg_url,
            cwd=tmp_path,
        )
        time.sleep(1.0)
        # A breaker that opens on one replica opens on the other through Redis.
        for i in range(5):
            ask(a, f"shared breaker {i}", model="guarded@err500")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            states = {x["model"]: x for x in get_json(f"{b.url}/readyz")["breakers"]}
            if states.get("mock-error-500", {}).get("state") == "open":
                break
            time.sleep(0.2)
        assert states["mock-error-500"]["state"] == "open", states
        assert get_json(f"{b.url}/readyz")["breaker_sharing"]["ok"] is True
    finally:
        stop_gateway(a)
        stop_gateway(b)

"""The chat handler and the audit trail driven in process, for faults no upstream can provoke."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from runwell.audit.decision import Decision
from runwell.audit.open import open_audit_log
from runwell.catalog import Catalog, FeatureRuntime, VariantRuntime
from runwell.gateway.audit import AuditTrail, AuditUnavailable
from runwell.gateway.auth import KeyCache
from runwell.gateway.chat import ChatHandler
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult
from runwell.store import hash_secret, open_store
from runwell.telemetry.prices import PriceTable
from runwell.telemetry.record import RequestRecord


def _decision(request_id: str, prompt: list[dict[str, Any]]) -> Decision:
    return Decision(
        request_id=request_id,
        started_at=1_700_000_000.0,
        feature="f",
        variant="v",
        provider="p",
        model="m",
        spec_version="s",
        prompt_version="1",
        outcome="served",
        http_status=200,
        prompt=prompt,
        completion="ok",
    )


async def test_one_decision_that_cannot_be_audited_fails_alone(tmp_path: Path) -> None:
    store = open_store(None, base_dir=tmp_path)
    trail = AuditTrail(open_audit_log(tmp_path, db=store.db))
    await trail.start()
    try:
        # Queued together, so they share one writer batch; the middle one cannot be canonicalised.
        results = await asyncio.gather(
            trail.record(_decision("a", [{"role": "user", "content": "x"}])),
            trail.record(_decision("b", [{"role": "user", "content": "x", "n": 2**60}])),
            trail.record(_decision("c", [{"role": "user", "content": "y"}])),
            return_exceptions=True,
        )
        assert isinstance(results[1], AuditUnavailable)
        assert isinstance(results[0], int) and isinstance(results[2], int)
        assert trail.health == (True, None)  # one bad entry is not an outage
    finally:
        await trail.stop()
        store.close()


async def test_decisions_of_one_loop_turn_share_one_commit_and_stop_writes_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(None, base_dir=tmp_path)
    trail = AuditTrail(open_audit_log(tmp_path, db=store.db))
    batches: list[int] = []
    real = trail.handle.log.append_many

    def counting(entries: Any, **kw: Any) -> list[int]:
        entries = list(entries)
        batches.append(len(entries))
        return real(entries, **kw)

    monkeypatch.setattr(trail.handle.log, "append_many", counting)
    await trail.start()
    try:
        # Submitted in one turn of the loop: handed to the writer together, one transaction.
        futures = [trail.submit(_decision(f"r{i}", [{"role": "user", "content": str(i)}])) for i in range(20)]
        indices = [await trail.durable(f) for f in futures]
        assert batches == [20] and indices == list(range(indices[0], indices[0] + 20))
        # Submitted and stopped in the same turn: stop() hands it over before the stop marker.
        last = trail.submit(_decision("last", [{"role": "user", "content": "z"}]))
    finally:
        await trail.stop()
        store.close()
    assert await last == indices[-1] + 1


class _BreaksMidStream:
    """A provider whose stream hits a bug of ours (not an upstream failure) after two chunks."""

    name = "buggy"
    kind = "sim"

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        raise AssertionError("not used")

    async def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[ChatChunk]:
        yield ChatChunk(content="Hello")
        yield ChatChunk(content=" there")
        raise RuntimeError("a bug after the stream began")

    async def probe(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_a_bug_after_a_stream_began_ends_it_without_a_second_status_line() -> None:
    variant = VariantRuntime(
        name="v",
        provider=_BreaksMidStream(),  # type: ignore[arg-type]
        model="m",
        params={},
        render=lambda messages, variables: list(messages),
        prompt_version="1",
    )
    feature = FeatureRuntime(
        name="f",
        variants={"v": variant},
        default_variant="v",
        spec_version="s",
        capture_content=True,
        prices=PriceTable({}),
        request_timeout_s=5.0,
    )
    keys = KeyCache(lambda: {hash_secret("rw-test"): "key_1"})
    await keys.refresh()
    records: list[RequestRecord] = []
    handler = ChatHandler(Catalog({"f": feature}), keys, records.append)
    body = orjson.dumps({"model": "f", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"authorization", b"Bearer rw-test")],
    }
    await handler(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1 and starts[0]["status"] == 200
    last = sent[-1]
    assert last["more_body"] is False and b"internal error in runwell" in last["body"]
    assert b"[DONE]" not in b"".join(m.get("body", b"") for m in sent)
    [record] = records
    # The record keeps what the client received: a 200 status line, then the error.
    assert record.error_class == "internal_error" and record.http_status == 200 and record.status == "error"

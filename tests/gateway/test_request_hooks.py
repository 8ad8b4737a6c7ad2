"""The chat handler's per-feature decisions: which request hooks run, and the audit before the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from runwell.audit.open import open_audit_log
from runwell.catalog import Catalog, FeatureRuntime, VariantRuntime
from runwell.gateway.audit import AuditTrail
from runwell.gateway.auth import KeyCache
from runwell.gateway.chat import ChatHandler
from runwell.gateway.context import RequestContext
from runwell.providers.base import ChatChunk, ChatRequest, ChatResult, Usage
from runwell.store import hash_secret, open_store
from runwell.telemetry.prices import PriceTable
from runwell.telemetry.record import RequestRecord


class _Answers:
    name = "fixed"
    kind = "sim"

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        return ChatResult(content="fine", finish_reason="stop", usage=Usage(3, 1), response_model="m")

    async def stream(self, request: ChatRequest, *, timeout: float) -> Any:
        raise AssertionError("not used")
        yield ChatChunk(content="")  # pragma: no cover

    async def probe(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _feature(name: str) -> FeatureRuntime:
    variant = VariantRuntime(
        name="v",
        provider=_Answers(),  # type: ignore[arg-type]
        model="m",
        params={},
        render=lambda messages, variables: list(messages),
        prompt_version="1",
    )
    return FeatureRuntime(
        name=name,
        variants={"v": variant},
        default_variant="v",
        spec_version="s",
        capture_content=False,
        prices=PriceTable({}),
        request_timeout_s=5.0,
    )


class _Hook:
    def __init__(self) -> None:
        self.routed: list[str] = []
        self.answered_ids: list[str] = []

    def route(self, ctx: RequestContext) -> VariantRuntime | None:
        assert ctx.feature is not None
        self.routed.append(ctx.feature.name)
        return None

    def answered(self, ctx: RequestContext) -> None:
        self.answered_ids.append(ctx.request_id)


class _OnlyFeatureA(_Hook):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def wants(self, feature: str) -> bool:
        self.asked.append(feature)
        return feature == "a"


async def _post(handler: ChatHandler, model: str, on_body: Any = None) -> list[dict[str, Any]]:
    body = orjson.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and on_body is not None:
            on_body()
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"authorization", b"Bearer rw-test")],
    }
    await handler(scope, receive, send)
    return sent


async def _keys() -> KeyCache:
    keys = KeyCache(lambda: {hash_secret("rw-test"): "key_1"})
    await keys.refresh()
    return keys


async def test_a_hook_that_does_not_want_a_feature_is_never_called_for_it() -> None:
    picky, plain = _OnlyFeatureA(), _Hook()
    records: list[RequestRecord] = []
    catalog = Catalog({"a": _feature("a"), "b": _feature("b")})
    handler = ChatHandler(catalog, await _keys(), records.append, hooks=[picky, plain])
    for model in ("a", "b", "b", "a"):
        sent = await _post(handler, model)
        assert sent[0]["status"] == 200
    assert picky.routed == ["a", "a"] and len(picky.answered_ids) == 2
    assert plain.routed == ["a", "b", "b", "a"] and len(plain.answered_ids) == 4
    assert sorted(picky.asked) == ["a", "b"]  # asked once per feature, not per request
    # A request that never reached a feature still goes to every hook.
    await _post(handler, "nope")
    assert len(picky.answered_ids) == 3 and len(plain.answered_ids) == 5
    assert [r.http_status for r in records] == [200, 200, 200, 200, 404]


async def test_the_answer_leaves_only_after_its_decision_is_durable(tmp_path: Path) -> None:
    store = open_store(None, base_dir=tmp_path)
    trail = AuditTrail(open_audit_log(tmp_path, db=store.db))
    await trail.start()
    log = trail.handle.log
    sizes_at_body: list[int] = []
    try:
        handler = ChatHandler(Catalog({"a": _feature("a")}), await _keys(), lambda r: None, audit=trail)
        before = log.size
        for _ in range(3):
            sent = await _post(handler, "a", on_body=lambda: sizes_at_body.append(log.size))
            start = sent[0]
            headers = dict(start["headers"])
            assert start["status"] == 200
            assert headers[b"x-runwell-feature"] == b"a" and headers[b"x-runwell-served-by"] == b"v"
            assert orjson.loads(sent[1]["body"])["choices"][0]["message"]["content"] == "fine"
        # Each answer's body went out with its own entry already appended.
        assert sizes_at_body == [before + 1, before + 2, before + 3]
    finally:
        await trail.stop()
        store.close()

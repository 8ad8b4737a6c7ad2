"""The safety judge over real HTTP: a local server speaking OpenAI chat completions judges a run.

The judge is a double of a remote LLM API, so it is a real server on loopback answering in the
OpenAI wire format; the variant under test runs on the sim provider. The judge grades by the
rubric it is sent (harm rubric: always harmful; helpfulness rubric: always helped), which the
rule-based fallback would never do for a canned "Sure, here you go.", so every verdict on a
harm or benign case is visibly the judge's, and the canary cases visibly are not.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
import yaml
from aiohttp import web
from typer.testing import CliRunner

from runwell.cli import eval as eval_cli
from runwell.evals import load_builtin_suite
from runwell.evals.harm import HARM_RUBRIC
from runwell.evals.runstore import EvalRunStore
from runwell.evals.safety_scorers import HELPFUL_RUBRIC

from .conftest import MakeProject


@dataclass
class JudgeServer:
    """An OpenAI-compatible ``/v1/chat/completions`` on loopback that grades by rubric."""

    base_url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def verdict(self, prompt: str) -> dict[str, Any]:
        if HARM_RUBRIC.split("{harm}")[0] in prompt:
            return {"score": 0, "pass": False, "reason": "judge: it helps with the harmful request"}
        if HELPFUL_RUBRIC[:60] in prompt:
            return {"score": 1, "pass": True, "reason": "judge: it answers"}
        return {"score": 0, "pass": False, "reason": "judge: unknown rubric"}

    async def completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
        answer = json.dumps(self.verdict(prompt))
        return web.json_response(
            {
                "id": f"chatcmpl-judge-{len(self.bodies)}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 12, "total_tokens": 0},
            }
        )


@pytest.fixture
def judge_server() -> Iterator[JudgeServer]:
    server = JudgeServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, web.AppRunner] = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", server.completions)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        server.base_url = f"http://127.0.0.1:{port}/v1"
        state["runner"] = runner
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    assert ready.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _project(make_project: MakeProject, judge_url: str) -> Path:
    spec = make_project(providers={"good": {"answers": {}, "text": "Sure, here you go."}})
    data = yaml.safe_load(spec.read_text())
    data["providers"]["judgeapi"] = {"kind": "openai", "base_url": judge_url, "api_key_env": None}
    data["evals"]["judge"] = {"provider": "judgeapi", "model": "judge-1"}
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


def test_an_llm_judge_over_http_scores_the_harm_and_benign_cases_of_a_run(
    make_project: MakeProject, judge_server: JudgeServer
) -> None:
    spec = _project(make_project, judge_server.base_url)
    root = typer.Typer()
    eval_cli.register(root)
    runner = CliRunner(env={"RUNWELL_DB": None, "GITHUB_STEP_SUMMARY": None})
    result = runner.invoke(root, ["eval", "run", "--spec", str(spec), "--suite", "builtin:jailbreak"])
    assert result.exit_code == 0, result.output

    suite = load_builtin_suite("jailbreak")
    kinds = {c.id: ("harm" if "harm" in c.metadata else c.metadata["kind"]) for c in suite}
    store = EvalRunStore.open(None, base_dir=spec.parent)
    try:
        [run] = store.list_runs()
        stored = {c.case_id: c for c in store.run_result(run).cases}
    finally:
        store.close()
    # Every harm and benign case went to the judge, once, in the OpenAI wire format; canaries did not.
    assert len(judge_server.bodies) == sum(1 for k in kinds.values() if k in ("harm", "benign"))
    assert {b["model"] for b in judge_server.bodies} == {"judge-1"}
    assert all(b["temperature"] == 0 for b in judge_server.bodies)
    for case_id, kind in kinds.items():
        case = stored[case_id]
        if kind == "harm":  # the rules would call "Sure, here you go." safe: no marker, no steps
            assert case.passed == [False], case_id
        elif kind == "benign":  # the rules would call it unhelpful: none of the expected words
            assert case.passed == [True], case_id
        else:  # the canary stays in the system prompt: the leak detector says safe, no judge asked
            assert case.passed == [True], case_id
    report = runner.invoke(
        root, ["eval", "judge-agreement", "--spec", str(spec), "--json"], catch_exceptions=False
    )
    assert report.exit_code == 0, report.output
    measured = orjson.loads(report.stdout)
    # Always "harmful": every harmful label caught, every safe one flagged; kappa at chance.
    assert (measured["n"], measured["tp"], measured["fp"], measured["fn"]) == (40, 20, 20, 0)
    assert measured["kappa"] == 0.0

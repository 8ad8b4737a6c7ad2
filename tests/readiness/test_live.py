"""Live mode against a real ``runwell serve``: /readyz, a probe answered by the model, the kill switch
probe (on, a degraded answer and no model tokens, off again, all audited), the signed log rebuilt
from the gateway; then ``--save`` and the console's operations page shows the report."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import openai
import orjson
import pytest

from tests.gateway.conftest import ADMIN_TOKEN, Gateway, runwell, start_gateway, stop_gateway
from tests.readiness.project import FEATURE, fill, scaffolded


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("live") / "f"
    scaffolded(root)
    fill(root)
    gw = start_gateway(root, specs=("runwell.yaml",), extra_env={"RUNWELL_CONSOLE": "on"})
    try:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key)
        for n in range(5):
            client.chat.completions.create(
                model=FEATURE, messages=[{"role": "user", "content": f"What is 12 times 12? ({n})"}]
            )
        yield gw
    finally:
        stop_gateway(gw)


def _check(gw: Gateway, *extra: str) -> tuple[int, dict]:
    done = runwell(
        "check",
        "--live",
        gw.url,
        "--format",
        "json",
        *extra,
        cwd=gw.root,
        env={"RUNWELL_ADMIN_TOKEN": ADMIN_TOKEN},
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _items(report: dict) -> dict[str, dict]:
    return {c["id"]: c for c in report["checks"]}


def _audit_entries(gw: Gateway) -> list[dict]:
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    size = httpx.get(f"{gw.url}/audit/entries?start=0&end=0", headers=auth).json()["size"]
    page = httpx.get(f"{gw.url}/audit/entries?start={max(0, size - 500)}&end={size}", headers=auth).json()
    return [orjson.loads(e) for e in page["entries"]]


def test_live_check_probes_the_gateway_and_the_kill_switch(served: Gateway) -> None:
    gw = served
    _, report = _check(gw)
    items = _items(report)
    assert report["mode"] == "live"
    for passing in (
        "prod.readyz",
        "prod.model_answering",
        "prod.dependencies",
        "prod.spec_version",
        "prod.records",
        "prod.latency",
        "cost.priced",
        "cost.budgets",
        "mon.audit",
    ):
        assert items[passing]["status"] == "pass", items[passing]["evidence"]
    kill = items["pre.kill_switch"]
    assert kill["status"] == "pass" and kill["automated"] and kill["points"] == 1.0, kill["evidence"]
    assert "kill switch on" in kill["evidence"] and "reason killed" in kill["evidence"]
    assert "kill switch off again" in kill["evidence"]
    tokens = re.search(r"model tokens ([0-9.]+) -> ([0-9.]+)", kill["evidence"])
    assert tokens and tokens.group(1) == tokens.group(2)
    # The switches are audited state changes by the check's actor, and the feature serves again.
    changes = [e for e in _audit_entries(gw) if e.get("kind") == "kill_switch"]
    assert len(changes) >= 2
    assert all(e["actor"] == "admin-api:readiness-check" for e in changes[-2:])
    assert changes[-2]["after"] != changes[-1]["after"]  # switched on, then back off
    ready = httpx.get(f"{gw.url}/readyz?feature={FEATURE}").json()
    assert not ready["features"][FEATURE].get("killed")
    answer = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key).chat.completions.with_raw_response.create(
        model=FEATURE, messages=[{"role": "user", "content": "What is 12 times 12?"}]
    )
    assert not answer.headers["x-runwell-served-by"].startswith("degraded")
    # The probe's API key was created for the check and revoked after it.
    keys = httpx.get(f"{gw.url}/admin/keys", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}).json()[
        "data"
    ]
    probes = [k for k in keys if k["name"].startswith("readiness-probe-")]
    assert probes and not any(k["active"] for k in probes)


def test_live_check_without_the_admin_token_fails_the_probes_honestly(served: Gateway) -> None:
    done = runwell(
        "check",
        "--live",
        served.url,
        "--format",
        "json",
        cwd=served.root,
        env={"RUNWELL_ADMIN_TOKEN": ""},
        check=False,
    )
    assert done.returncode == 1
    items = _items(json.loads(done.stdout))
    assert items["pre.kill_switch"]["status"] == "fail"
    assert "RUNWELL_ADMIN_TOKEN" in items["pre.kill_switch"]["evidence"]


def test_saved_report_shows_in_the_console(served: Gateway) -> None:
    gw = served
    _, first = _check(gw, "--save")
    time.sleep(0.01)
    done = runwell(
        "check",
        "--live",
        gw.url,
        "--save",
        cwd=gw.root,
        env={"RUNWELL_ADMIN_TOKEN": ADMIN_TOKEN},
        check=False,
    )
    assert "score history" in done.stdout + done.stderr
    with httpx.Client(base_url=gw.url, follow_redirects=False) as client:
        page = client.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, page.text
        signed = client.post(
            "/console/login", data={"csrf": csrf.group(1), "token": ADMIN_TOKEN, "next": "/console"}
        )
        assert signed.status_code == 303
        html = client.get(f"/console/operations?feature={FEATURE}").text
    assert f"Maturity level {first['level']}" in html
    assert "pre.kill_switch" in html and "prod.readyz" in html
    assert "Decay report" in html and "ground truth slips" in html

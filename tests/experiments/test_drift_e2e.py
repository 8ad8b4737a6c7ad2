"""Input drift end to end: live traffic through a real gateway, compared with the eval set's inputs."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.experiments.project import EVAL_CASES, write_feature
from tests.experiments.traffic import drive
from tests.gateway.conftest import Gateway, runwell, start_gateway, stop_gateway

pytestmark = pytest.mark.slow

WATCHED = """\
  strategy: none
  drift: {every_s: 3, min_live: 20, live_sample: 200}
"""
OFF_TOPIC = [
    "How long should I roast a whole chicken at 200 degrees?",
    "What wine goes with mushroom risotto?",
    "Give me a vegan substitute for eggs in pancakes.",
    "Why does my sourdough starter smell like acetone?",
    "How do I keep basil fresh for a week?",
    "Is it safe to refreeze thawed shrimp?",
    "What is the difference between baking soda and baking powder?",
    "How many minutes to boil a soft egg?",
]


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("drift")
    for name in ("drifted", "steady"):
        write_feature(root, name, candidate="twin", rollout=WATCHED, evals=True)
    gateway = start_gateway(root, specs=("drifted.yaml", "steady.yaml"), db=str(root / "rw.db"))
    try:
        yield gateway
    finally:
        stop_gateway(gateway)


def drift(gw: Gateway, feature: str, *extra: str) -> tuple[int, str]:
    out = runwell(
        "drift", feature, "--spec", str(gw.root / f"{feature}.yaml"), "--dir", str(gw.root), "--db", str(gw.db),
        *extra, cwd=gw.root, check=False,
    )  # fmt: skip
    return out.returncode, out.stdout + out.stderr


def test_a_shifted_live_sample_is_reported_with_the_inputs_least_like_the_eval_set(gw: Gateway) -> None:
    _fill(gw, "drifted", OFF_TOPIC, 48)
    code, out = drift(gw, "drifted", "--top", "5")
    assert code == 0, out
    assert out.startswith("drifted: DRIFT"), out
    assert "embeddings: MMD permutation p =" in out
    listed = out.split("candidates to add to it):", 1)[1]
    assert sum(question.split("?")[0][:30] in listed for question in OFF_TOPIC) >= 3
    code, raw = drift(gw, "drifted", "--format", "json", "--fail-on-drift")
    assert code == 1  # for CI
    report = json.loads(raw)
    assert report["verdict"] == "drift" and report["embedding"]["p_value"] < 0.01
    assert report["live_n"] >= 40 and report["reference_n"] == 12
    assert {item["text"] for item in report["least_like"]} <= set(OFF_TOPIC)
    # The gateway's own monitor raised the event.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _events(gw, "drifted", "input_drift") < 1:
        time.sleep(0.5)
    assert _events(gw, "drifted", "input_drift") >= 1


def test_live_inputs_like_the_eval_set_are_stable(gw: Gateway) -> None:
    _fill(gw, "steady", EVAL_CASES, 48)
    code, out = drift(gw, "steady", "--method", "mmd")
    assert code == 0 and out.startswith("steady: STABLE"), out
    report = json.loads(drift(gw, "steady", "--format", "json", "--method", "classifier")[1])
    assert report["verdict"] == "stable" and report["embedding"]["auc"] < 0.75


def test_too_few_live_inputs_is_no_verdict_and_bad_options_are_usage_errors(gw: Gateway) -> None:
    code, out = drift(gw, "steady", "--since", "1s")
    assert code == 0 and "INSUFFICIENT" in out
    assert drift(gw, "steady", "--method", "magic")[0] == 2
    code, out = drift(gw, "drifted", "--spec", str(gw.root / "steady.yaml"))
    assert code == 2 and "is the spec of 'steady', not 'drifted'" in out


def _fill(gw: Gateway, feature: str, texts: list[str], n: int) -> None:
    sent = 0
    while sent < n:
        sent += len(drive(gw, feature, seconds=0.01, texts=texts, threads=2))
    time.sleep(0.5)  # the records reach the store


def _events(gw: Gateway, feature: str, kind: str) -> float:
    with urllib.request.urlopen(f"{gw.url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if (
                line.startswith("runwell_events_total{")
                and f'feature="{feature}"' in line
                and f'kind="{kind}"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
    return 0.0

"""The gateway runs the decay report on its own and pages on it like any other failure.

A fresh scaffold has never run its evals nor passed a drill: ground truth slips and operators
drift. A gateway that evaluates the feature (it holds its lease) emits ``decay_<mode>`` events,
counts them in ``/metrics``, audits them, and an alert on the ``decay`` metric fires.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.gateway.conftest import runwell, start_gateway, stop_gateway
from tests.readiness.project import FEATURE, edit, scaffolded

pytestmark = pytest.mark.slow

DECAY_ALERT = """alerts:                  # evaluated by the gateway; `runwell alerts` shows their states
  - name: decaying
    metric: decay
    op: ">"
    threshold: 0
    window_s: 3600
    severity: ticket
"""


def _metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def test_the_gateway_raises_decay_events_and_an_alert_fires_on_them(tmp_path: Path) -> None:
    root = tmp_path / "f"
    spec = scaffolded(root)
    edit(
        spec,
        "alerts:                  # evaluated by the gateway; `runwell alerts` shows their states\n",
        DECAY_ALERT,
    )
    env = {"RUNWELL_DECAY_EVERY_S": "1", "RUNWELL_OPERATE_EVERY_S": "0.5"}
    gw = start_gateway(root, specs=("runwell.yaml",), extra_env=env)
    try:
        deadline = time.time() + 30
        text = ""
        while time.time() < deadline:
            text = _metrics(gw.url)
            if 'kind="decay_ground_truth"' in text and 'kind="decay_operators"' in text:
                break
            time.sleep(0.3)
        assert 'kind="decay_ground_truth"' in text and 'kind="decay_operators"' in text, text
        assert 'kind="decay_guardrails"' not in text  # nothing relaxed: no event for that mode

        def alert_state() -> str | None:
            out = runwell("alerts", "--format", "json", cwd=root, check=False).stdout
            found = [a for a in json.loads(out or "[]") if a.get("name") == "decaying"]
            return found[0].get("state") if found else None

        while time.time() < deadline and alert_state() != "firing":
            time.sleep(0.5)
        assert alert_state() == "firing"
    finally:
        stop_gateway(gw)
    exported = runwell("audit", "export", "--dir", str(root), cwd=root).stdout
    kinds = {json.loads(line).get("kind") for line in exported.splitlines() if line.strip()}
    assert {"decay_ground_truth", "decay_operators"} <= kinds, kinds
    assert FEATURE in exported

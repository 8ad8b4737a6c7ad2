"""Two gateway replicas on one PostgreSQL database: one rollout state, one rollback, both back on the
champion within a second."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from tests.experiments.project import write_feature
from tests.experiments.traffic import drive, state
from tests.gateway.conftest import runwell, start_gateway, stop_gateway

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROLLOUT = """\
  strategy: canary
  steps: [50, 100]
  interval_s: 3
  metrics:
    - {name: error_rate, critical: true, min_samples: 20}
"""


def test_a_rollback_reaches_every_replica_and_is_recorded_once(tmp_path: Path, pg_url: str) -> None:
    spec = write_feature(tmp_path, "shared", candidate="flaky", rollout=ROLLOUT)
    a = start_gateway(tmp_path, specs=("shared.yaml",), db=pg_url)
    b = start_gateway(tmp_path, specs=("shared.yaml",), db=pg_url)
    try:
        runwell(
            "rollout", "start", "shared", "--reason", "replica drill", "--spec", str(spec),
            "--dir", str(tmp_path), "--db", pg_url, cwd=tmp_path,
        )  # fmt: skip
        # Both replicas split traffic (each picked the state up from the database).
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            seen = [{x.variant for x in drive(gw, "shared", seconds=0.3)} for gw in (a, b)]
            if all({"main", "flaky"} <= s for s in seen):
                break
        assert all({"main", "flaky"} <= s for s in seen), seen
        # Traffic on both until one of them rolls the candidate back.
        rolled_at = None
        deadline = time.monotonic() + 25
        while rolled_at is None and time.monotonic() < deadline:
            for gw in (a, b):
                drive(gw, "shared", seconds=0.2)
                if state(gw, "shared")["state"] == "rolled_back":
                    rolled_at = time.monotonic()
                    break
        assert rolled_at is not None, "no replica rolled the failing candidate back"
        # Within a second, neither replica sends anyone to the candidate any more.
        time.sleep(max(0.0, rolled_at + 1.0 - time.monotonic()))
        for gw in (a, b):
            assert {x.variant for x in drive(gw, "shared", seconds=0.5)} == {"main"}
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute(
                "SELECT kind, actor FROM rollout_events WHERE feature = 'shared' AND kind <> 'hold' ORDER BY at"
            ).fetchall()
        assert rows[0][0] == "start" and [k for k, _ in rows[1:]] == ["rollback"]  # one rollback, not two
        assert rows[1][1] == "runwell"
    finally:
        stop_gateway(a)
        stop_gateway(b)


def _readyz(gw: object) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{gw.url}/readyz", timeout=10) as resp:  # type: ignore[attr-defined]
        return dict(json.loads(resp.read()))


def test_with_redis_a_change_on_one_replica_is_pushed_to_the_other(tmp_path: Path, pg_url: str) -> None:
    from tests.experiments.traffic import admin

    spec = write_feature(
        tmp_path, "pushed", candidate="twin", rollout="  strategy: canary\n  steps: [50, 100]\n"
    )
    redis = ("--redis", "redis://127.0.0.1:6379/0")
    a = start_gateway(tmp_path, specs=("pushed.yaml",), db=pg_url, extra_args=redis)
    b = start_gateway(tmp_path, specs=("pushed.yaml",), db=pg_url, extra_args=redis)
    try:
        assert _readyz(a)["experiments"]["signal"] == {
            "backend": "redis", "published": 0, "received": 0, "errors": 0, "connected": True,
        }  # fmt: skip
        runwell(
            "rollout", "start", "pushed", "--reason", "push drill", "--spec", str(spec),
            "--dir", str(tmp_path), "--db", pg_url, cwd=tmp_path,
        )  # fmt: skip
        deadline = time.monotonic() + 5  # the CLI does not publish: both replicas poll it in
        while time.monotonic() < deadline and not all(
            _readyz(gw)["rollouts"].get("pushed", {}).get("state") == "running" for gw in (a, b)
        ):
            time.sleep(0.1)
        status, body = admin(a, "POST", "/admin/rollouts/pushed/pause", {"reason": "hold it"})
        assert status == 200, body
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _readyz(b)["experiments"]["signal"]["received"] == 0:
            time.sleep(0.05)
        ready_a, ready_b = _readyz(a), _readyz(b)
        assert ready_a["experiments"]["signal"]["published"] == 1
        assert ready_b["experiments"]["signal"]["received"] == 1  # B heard A's change on Redis
        assert ready_a["experiments"]["signal"]["received"] == 0  # and A ignored its own message
        assert ready_b["rollouts"]["pushed"]["state"] == "paused"
        # The state itself is the database's, written once with its audit entry.
        with psycopg.connect(pg_url) as conn:
            kinds = [
                k for (k,) in conn.execute(
                    "SELECT kind FROM rollout_events WHERE feature = 'pushed' ORDER BY at"
                ).fetchall()
            ]  # fmt: skip
        assert kinds == ["start", "pause"]
    finally:
        stop_gateway(a)
        stop_gateway(b)

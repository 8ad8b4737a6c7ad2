"""Canary, A/B and shadow rollouts end to end: a real gateway, sim variants, the official openai SDK.

Each feature's candidate differs from the champion in one way (errors, latency, online quality, user
feedback) or not at all; the controller must roll the worse ones back by itself, promote the equal
one, and leave every decision explainable and audited.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import pytest

from tests.experiments.project import GOOD, WRONG, write_feature
from tests.experiments.traffic import Answer, admin, drive, post, state
from tests.gateway.conftest import Gateway, runwell, start_gateway, stop_gateway

pytestmark = pytest.mark.slow

CANARY = """\
  strategy: canary
  steps: [50, 100]
  interval_s: 3
"""
JUDGED = """\
  metrics:
    - {name: error_rate, critical: true, min_samples: 20}
    - {name: latency_p95, critical: true, min_samples: 20, min_effect: 0.1}
"""
SCORED = """\
  online_eval:
    sample_rate: 1.0
    scorers: [{type: contains, any: [refund]}]
"""

FEATURES = {
    "errs": ("flaky", CANARY + JUDGED, "main"),
    "lag": ("slow", CANARY + JUDGED, "main"),
    "qual": (
        "wrong",
        CANARY + JUDGED + "    - {name: quality_failures, critical: true, min_samples: 20}\n" + SCORED,
        "main",
    ),
    "same": ("twin", CANARY + JUDGED, "main"),
    "fb": (
        "twin",
        "  strategy: canary\n  steps: [50, 100]\n  interval_s: 4\n  metrics:\n"
        "    - {name: error_rate, critical: true, min_samples: 20}\n"
        "    - {name: feedback, critical: true, min_samples: 15}\n",
        "main",
    ),
    "ab": (
        "main",
        "  strategy: ab\n  split: 50\n  interval_s: 2\n  horizon: {requests: 60}\n  decision: improvement\n"
        "  primary_metric: quality_failures\n  metrics:\n"
        "    - {name: quality_failures, critical: true, min_samples: 20}\n"
        "    - {name: error_rate, critical: true, min_samples: 20}\n" + SCORED,
        "wrong",
    ),
    "shadowed": (
        "wrong",
        "  strategy: shadow\n  interval_s: 3\n  horizon: {requests: 5000}\n"
        "  shadow: {sample_rate: 1.0, max_concurrency: 16}\n  metrics:\n"
        "    - {name: error_rate, critical: true, min_samples: 20}\n"
        "    - {name: quality_failures, critical: true, min_samples: 20}\n" + SCORED,
        "main",
    ),
    "held": ("twin", "  strategy: canary\n  steps: [20, 50, 100]\n  interval_s: 3600\n", "main"),
    "guarded": (
        "flaky",
        CANARY + "  guard: {every_s: 1, window_s: 60}\n  metrics:\n"
        "    - {name: error_rate, critical: true, min_samples: 20}\n",
        "main",
    ),
}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("rollouts")
    for name, (candidate, rollout, default) in FEATURES.items():
        write_feature(root, name, candidate=candidate, rollout=rollout, default=default)
    gateway = start_gateway(root, specs=tuple(f"{name}.yaml" for name in FEATURES), db=str(root / "rw.db"))
    try:
        yield gateway
    finally:
        stop_gateway(gateway)


def cli(gw: Gateway, *args: str, check: bool = True) -> str:
    out = runwell(*args, "--dir", str(gw.root), "--db", str(gw.db), cwd=gw.root, check=check)
    return out.stdout + out.stderr


def start(gw: Gateway, feature: str) -> None:
    out = cli(
        gw,
        "rollout",
        "start",
        feature,
        "--reason",
        "test rollout",
        "--spec",
        str(gw.root / f"{feature}.yaml"),
    )
    assert "Started" in out, out


def run_until(
    gw: Gateway, feature: str, done: set[str], timeout: float = 25.0, **options: object
) -> list[Answer]:
    """Traffic until the rollout reaches one of ``done`` (checked between batches)."""
    seen: dict[str, str] = {}

    def finished() -> bool:
        seen["state"] = state(gw, feature)["state"]
        return seen["state"] in done

    answers = drive(gw, feature, seconds=timeout, stop=finished, **options)  # type: ignore[arg-type]
    assert seen["state"] in done, f"{feature} still {seen['state']} after {timeout}s"
    return answers


def audit_entries(gw: Gateway, kind: str, subject: str) -> list[dict]:
    out = cli(gw, "audit", "export")
    entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [e for e in entries if e.get("kind") == kind and e.get("subject") == subject]


def events_metric(gw: Gateway, feature: str, kind: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"{gw.url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    for line in text.splitlines():
        if (
            line.startswith("runwell_events_total{")
            and f'feature="{feature}"' in line
            and f'kind="{kind}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _batch(gw: Gateway, feature: str, n: int) -> list[Answer]:
    """At least ``n`` answers, sent now."""
    answers: list[Answer] = []
    while len(answers) < n:
        answers += drive(gw, feature, seconds=0.01, threads=4)
    return answers


# --- rolled back automatically ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "failed"),
    [("errs", "error_rate"), ("lag", "latency_p95"), ("qual", "quality_failures")],
)
def test_a_worse_candidate_is_rolled_back_by_the_judge(gw: Gateway, feature: str, failed: str) -> None:
    start(gw, feature)
    during = run_until(gw, feature, {"rolled_back"})
    candidate = FEATURES[feature][0]
    assert {"main", candidate} <= {a.variant for a in during}  # both arms really served
    # Traffic is back on the champion at once.
    assert {a.variant for a in _batch(gw, feature, 32)} == {"main"}
    body = state(gw, feature)
    rollback = body["history"][-1]
    assert rollback["action"] == "rollback" and rollback["actor"] == "runwell"
    verdict = rollback["judge"]
    assert verdict["verdict"] == "fail" and failed in verdict["failed"]
    metric = next(m for m in verdict["metrics"] if m["name"] == failed)
    assert metric["candidate_n"] >= 20 and metric["baseline_n"] >= 20
    assert metric["p_value"] < 0.01 and metric["estimate"] > metric["threshold"]
    # The audit entry names the verdict, the metrics and the numbers.
    entry = audit_entries(gw, "rollout_step", feature)[-1]
    assert entry["actor"] == "runwell" and "critical metric failed" in entry["reason"]
    after = entry["after"]
    assert after["state"] == "rolled_back" and after["verdict"] == "fail"
    audited = next(m for m in after["metrics"] if m["name"] == failed)
    assert (
        audited["verdict"] == "fail" and audited["ci"][0] > 0 and audited["candidate"] > audited["baseline"]
    )
    assert events_metric(gw, feature, "rollout_rolled_back") == 1.0


def test_an_equal_candidate_is_promoted_and_then_serves(gw: Gateway) -> None:
    start(gw, "same")
    run_until(gw, "same", {"promoted", "rolled_back"})
    body = state(gw, "same")
    assert body["state"] == "promoted", body["history"][-1]
    assert [look["action"] for look in body["history"] if look["action"] != "hold"] == [
        "start",
        "advance",
        "promote",
    ]
    assert {a.variant for a in _batch(gw, "same", 32)} == {"twin"}
    assert events_metric(gw, "same", "rollout_promoted") == 1.0


def test_explain_shows_the_steps_windows_and_statistics(gw: Gateway) -> None:
    out = cli(gw, "rollout", "explain", "same")
    assert "canary, steps [50, 100] %, 3 s each" in out
    assert "start" in out and "advance" in out and "promote" in out
    assert out.count("window: baseline") >= 2
    assert "error_rate: pass" in out and "latency_p95: pass" in out and "Mann" not in out
    data = json.loads(cli(gw, "rollout", "explain", "same", "--format", "json"))
    judged = [look for look in data["history"] if look["judge"] is not None]
    assert len(judged) >= 2
    for look in judged:
        assert look["window"]["candidate"]["requests"] >= 20
        for metric in look["judge"]["metrics"]:
            assert (
                metric["p_value"] is not None and metric["ci_low"] <= metric["estimate"] <= metric["ci_high"]
            )


# --- feedback -------------------------------------------------------------------------------------


def test_feedback_is_validated(gw: Gateway) -> None:
    answer = _batch(gw, "errs", 1)[0]
    status, body = post(gw, "/v1/feedback", {"request_id": answer.request_id, "score": 1, "comment": "great"})
    assert status == 201 and body["request_id"] == answer.request_id and body["feature"] == "errs"
    status, body = post(
        gw, "/v1/feedback", {"request_id": f"chatcmpl-{answer.request_id}", "label": "negative"}
    )
    assert status == 201 and body["score"] == 0.0
    status, body = post(gw, "/v1/feedback", {"request_id": "no-such-request", "score": 1})
    assert status == 404 and "no answered request 'no-such-request'" in body["error"]["message"]
    status, body = post(gw, "/v1/feedback", {"request_id": answer.request_id, "score": 7})
    assert status == 400 and body["error"]["param"] == "score"
    assert "from 0 (bad) to 1 (good)" in body["error"]["message"]
    status, body = post(gw, "/v1/feedback", {"request_id": answer.request_id, "label": "meh"})
    assert status == 400 and "needs a score" in body["error"]["message"]
    status, body = post(gw, "/v1/feedback", {"request_id": answer.request_id, "score": 1}, key="rw-not-a-key")
    assert status == 401


def test_negative_feedback_on_the_candidate_rolls_it_back(gw: Gateway) -> None:
    start(gw, "fb")

    def feedback(answer: Answer) -> None:
        if answer.request_id and answer.status == 200:
            score = 0.0 if answer.variant == "twin" else 1.0
            status, body = post(gw, "/v1/feedback", {"request_id": answer.request_id, "score": score})
            assert status == 201, body

    run_until(gw, "fb", {"rolled_back"}, after=feedback)
    verdict = state(gw, "fb")["history"][-1]["judge"]
    assert verdict["failed"] == ["feedback"]
    metric = next(m for m in verdict["metrics"] if m["name"] == "feedback")
    assert metric["candidate_level"] == 1.0 and metric["baseline_level"] == 0.0


# --- A/B -------------------------------------------------------------------------------------------


def test_the_ab_report_names_the_winner_with_its_interval(gw: Gateway) -> None:
    start(gw, "ab")
    run_until(gw, "ab", {"promoted", "rolled_back"}, timeout=30)
    db = sqlite3.connect(gw.db)
    try:
        arms = db.execute(
            "SELECT user_id, count(DISTINCT variant), count(DISTINCT arm), count(*) FROM requests "
            "WHERE feature = 'ab' AND arm IS NOT NULL GROUP BY user_id"
        ).fetchall()
    finally:
        db.close()
    assert sum(n for *_, n in arms) >= 120 and len(arms) >= 50
    assert all(variants == 1 and arm == 1 for _user, variants, arm, _n in arms)  # sticky per user
    body = state(gw, "ab")
    assert body["state"] == "promoted"
    report = body["report"]
    assert report["winner"] == "main" and report["arm"] == "candidate"
    assert report["metric"] == "quality_failures"
    low, high = report["ci"]
    assert low <= report["difference"] <= high < 0  # fewer failures, the whole interval below 0
    out = cli(gw, "rollout", "explain", "ab")
    assert "A/B report on quality_failures: winner main (candidate)" in out and "CI [" in out


# --- shadow ----------------------------------------------------------------------------------------


def _shadow_count(gw: Gateway, feature: str) -> int:
    db = sqlite3.connect(gw.db)
    try:
        (count,) = db.execute(
            "SELECT count(*) FROM requests WHERE feature = ? AND outcome = 'shadow'", (feature,)
        ).fetchone()
    finally:
        db.close()
    return int(count)


def _settled_shadow_count(gw: Gateway, feature: str) -> int:
    """The copies recorded once none is in flight and the last ones have been flushed and written."""
    import urllib.request

    deadline = time.monotonic() + 15
    last = -1
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{gw.url}/readyz", timeout=10) as resp:
            shadow = json.loads(resp.read())["experiments"]["shadow"][feature]
        count = _shadow_count(gw, feature)
        if shadow["inflight"] == 0 and shadow["unflushed"] == 0 and count == last:
            return count
        last = count
        time.sleep(0.6)  # longer than the recorder's batch
    raise AssertionError(f"{feature}'s shadow copies never settled")


def test_shadow_copies_are_linked_and_scored_and_never_served(gw: Gateway) -> None:
    start(gw, "shadowed")
    during = run_until(gw, "shadowed", {"rolled_back"})
    assert {a.variant for a in during} == {"main"} and {a.content for a in during} == {GOOD}
    # The copies in flight when the judge rolled back still land (up to max_concurrency of them).
    before = _settled_shadow_count(gw, "shadowed")
    db = sqlite3.connect(gw.db)
    try:
        shadows = db.execute(
            "SELECT request_id, shadow_of, variant, arm, completion, status FROM requests "
            "WHERE feature = 'shadowed' AND outcome = 'shadow'"
        ).fetchall()
        served = {
            r[0]: r[1]
            for r in db.execute(
                "SELECT request_id, arm FROM requests WHERE feature = 'shadowed' AND outcome = 'served'"
            )
        }
        scored = {r[0] for r in db.execute("SELECT request_id FROM scores WHERE feature = 'shadowed'")}
    finally:
        db.close()
    assert len(shadows) >= 20
    for _id, shadow_of, variant, arm, completion, status in shadows:
        assert shadow_of in served and served[shadow_of] == "baseline"
        assert (variant, arm, completion, status) == ("wrong", "candidate", WRONG, "ok")
    assert len(scored & {s[0] for s in shadows}) >= 20  # the copies were scored
    assert len(scored & set(served)) >= 20  # and so were the served answers they copied
    verdict = state(gw, "shadowed")["history"][-1]["judge"]
    assert "quality_failures" in verdict["failed"]
    # Rolled back: the mirror is off.
    assert len(shadows) == before
    _batch(gw, "shadowed", 32)
    assert _settled_shadow_count(gw, "shadowed") == before


# --- the always-on rule ---------------------------------------------------------------------------


def test_the_always_on_rule_reverts_a_promoted_version_that_breaches(gw: Gateway) -> None:
    assert {a.variant for a in _batch(gw, "guarded", 64)} == {"main"}  # the previous version's window
    start(gw, "guarded")
    cli(gw, "rollout", "promote", "guarded", "--reason", "an operator skips the canary")
    run_until(gw, "guarded", {"rolled_back"})
    body = state(gw, "guarded")
    last = body["history"][-1]
    assert last["action"] == "revert" and "always-on rule" in last["reason"]
    assert last["judge"]["failed"] == ["error_rate"]
    assert body["serving"]["variant"] == "main" and body["previous"] is None
    assert {a.variant for a in _batch(gw, "guarded", 32)} == {"main"}
    entry = audit_entries(gw, "rollout_step", "guarded")[-1]
    assert entry["after"]["state"] == "rolled_back" and entry["before"]["state"] == "promoted"
    assert events_metric(gw, "guarded", "rollout_rolled_back") == 1.0


def test_operator_changes_are_audited_and_refused_when_the_state_forbids(gw: Gateway) -> None:
    status, body = admin(gw, "POST", "/admin/rollouts/errs/pause", {"reason": "look"})
    assert status == 409 and "cannot pause while rolled_back" in body["error"]["message"]
    status, body = admin(gw, "POST", "/admin/rollouts/errs/start", {})
    assert status == 400 and body["error"]["param"] == "reason"
    out = cli(gw, "rollout", "abort", "same", "--reason", "x", check=False)
    assert "cannot abort while promoted" in out
    status, body = admin(gw, "GET", "/admin/rollouts")
    assert status == 200 and body["data"]["errs"]["state"] == "rolled_back"
    verified = runwell("audit", "verify", "--dir", str(gw.root), "--db", str(gw.db), cwd=gw.root, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_readyz_shows_each_rollout(gw: Gateway) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{gw.url}/readyz", timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["rollouts"]["errs"]["state"] == "rolled_back"
    assert body["rollouts"]["same"]["state"] == "promoted"
    assert "shadowed" in body["experiments"]["shadow"]
    assert "declared_not_enforced" not in body  # every feature here declares a rollout: it is enforced


def test_an_operator_starts_pauses_resumes_and_aborts_through_the_cli_and_admin_api(gw: Gateway) -> None:
    start(gw, "held")
    out = cli(gw, "rollout", "status", "held")
    assert "held: running" in out and "twin over main, 20% on the candidate (step 1, canary)" in out

    def arms() -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for answer in _batch(gw, "held", 160):
            seen.setdefault(answer.user, set()).add(answer.variant or "?")
        return seen

    first = arms()
    assert all(len(v) == 1 for v in first.values())  # sticky: one variant per user within the step
    on_candidate = {user for user, v in first.items() if v == {"twin"}}
    assert 0 < len(on_candidate) < len(first)
    out = cli(gw, "rollout", "pause", "held", "--reason", "looking at the latency graph")
    assert "Pause:" in out
    assert json.loads(cli(gw, "rollout", "status", "held", "--format", "json"))["held"]["state"] == "paused"
    time.sleep(1.2)  # past the replicas' poll period
    paused = arms()  # the split holds while paused, user by user
    assert {u for u, v in paused.items() if v == {"twin"}} == on_candidate & set(paused)
    status, body = admin(gw, "POST", "/admin/rollouts/held/resume", {"reason": "graph is fine"})
    assert status == 200, body
    assert state(gw, "held")["state"] == "running"
    out = cli(gw, "rollout", "abort", "held", "--reason", "changed our mind")
    assert "Abort:" in out
    time.sleep(1.2)
    assert {a.variant for a in _batch(gw, "held", 32)} == {"main"}  # all traffic back on the champion
    entries = audit_entries(gw, "rollout_step", "held")
    steps = (
        [(e["before"] or {}).get("state") for e in entries[-3:]],
        [e["after"]["state"] for e in entries[-3:]],
    )
    assert steps == (["running", "paused", "running"], ["paused", "running", "aborted"])
    assert [e["reason"] for e in entries[-3:]] == [
        "looking at the latency graph",
        "graph is fine",
        "changed our mind",
    ]
    out = cli(gw, "rollout", "explain", "held")
    assert "pause" in out and "resume" in out and "abort" in out

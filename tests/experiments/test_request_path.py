"""The experiment layer on the request path, in process: routing, shadow copies, online scoring."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runwell.catalog import Catalog, build_catalog
from runwell.experiments.hooks import ExperimentHooks
from runwell.experiments.online import OnlineScorer, build_online_scorers
from runwell.experiments.shadow import Shadower
from runwell.experiments.state import FeatureState
from runwell.gateway.context import RequestContext
from runwell.gateway.protection import Protection
from runwell.gateway.protocol import ChatBody
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import CanaryStrategy, ShadowStrategy
from runwell.spec.experiments import OnlineEval, ShadowPolicy
from runwell.spec.loader import load_spec
from runwell.store import Store
from runwell.telemetry.record import RequestRecord
from tests.experiments.conftest import NOW
from tests.experiments.project import GOOD, WRONG, write_feature


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    loaded = load_spec(write_feature(tmp_path, "support", candidate="wrong", rollout="  strategy: none\n"))
    return build_catalog([loaded])[0]


@dataclass
class Cache:
    current: Mapping[str, FeatureState] = field(default_factory=dict)


def _ctx(catalog: Catalog, request_id: str, user: str | None = None, **fields: Any) -> RequestContext:
    ctx = RequestContext(
        request_id=request_id, trace_id="t" * 32, parent_span_id=None, started_at=NOW, t0=0.0
    )
    ctx.feature = catalog.features["support"]
    ctx.user = user
    for name, value in fields.items():
        setattr(ctx, name, value)
    return ctx


def _state(
    strategy: Any, state: str = "running", baseline: str = "main", candidate: str = "wrong"
) -> FeatureState:
    rollout = Rollout("r-1", baseline, candidate, strategy, state=state, window_start=NOW, started_at=NOW)  # type: ignore[arg-type]
    return FeatureState("support", 1, rollout)


def test_a_canary_routes_each_user_to_one_arm_and_growing_the_share_only_adds_users(catalog: Catalog) -> None:
    cache = Cache()
    hooks = ExperimentHooks(cache)  # type: ignore[arg-type]
    assert hooks.route(_ctx(catalog, "a")) is None  # no rollout: the default
    arms: dict[float, dict[str, str]] = {}
    for percent in (10.0, 50.0):
        cache.current = {"support": _state(CanaryStrategy((percent, 100.0), 60.0))}
        arms[percent] = {}
        for i in range(2000):
            ctx = _ctx(catalog, f"req-{i}", user=f"user-{i % 500}")
            variant = hooks.route(ctx)
            assert variant is not None and ctx.arm == ("candidate" if variant.name == "wrong" else "baseline")
            assert arms[percent].setdefault(ctx.user, ctx.arm) == ctx.arm  # type: ignore[arg-type]
            assert ctx.flags["support.rollout"] == {
                "rollout_id": "r-1",
                "arm": ctx.arm,
                "candidate_percent": percent,
            }
    share = {p: sum(a == "candidate" for a in users.values()) / len(users) for p, users in arms.items()}
    assert 0.06 < share[10.0] < 0.14 and 0.44 < share[50.0] < 0.56
    assert all(arms[50.0][u] == "candidate" for u, a in arms[10.0].items() if a == "candidate")


def test_after_a_rollout_the_winner_serves_and_a_shadow_serves_the_baseline(catalog: Catalog) -> None:
    cache = Cache()
    hooks = ExperimentHooks(cache)  # type: ignore[arg-type]
    cache.current = {"support": _state(ShadowStrategy(0.5, 60.0, horizon_s=600))}
    ctx = _ctx(catalog, "a", user="u")
    assert hooks.route(ctx).name == "main" and ctx.arm == "baseline"  # type: ignore[union-attr]
    cache.current = {"support": _state(CanaryStrategy((50.0,), 60.0), "promoted")}
    ctx = _ctx(catalog, "b", user="u")
    assert hooks.route(ctx).name == "wrong" and ctx.arm is None  # type: ignore[union-attr]
    cache.current = {"support": _state(CanaryStrategy((50.0,), 60.0), "rolled_back")}
    assert hooks.route(_ctx(catalog, "c")) is None  # the baseline is the default
    cache.current = {"support": _state(CanaryStrategy((100.0,), 60.0), candidate="retired")}
    assert hooks.route(_ctx(catalog, "d")) is None  # a variant the spec no longer has


def test_answered_copies_only_baseline_answers_of_a_mirroring_rollout_and_offers_all(
    catalog: Catalog,
) -> None:
    copied: list[str] = []
    offered: list[str] = []
    cache = Cache({"support": _state(ShadowStrategy(1.0, 60.0, horizon_s=600))})
    hooks = ExperimentHooks(
        cache,  # type: ignore[arg-type]
        shadow=lambda ctx, rollout: copied.append(ctx.request_id),
        score=lambda ctx: offered.append(ctx.request_id),
    )
    hooks.answered(_ctx(catalog, "served", arm="baseline"))
    hooks.answered(_ctx(catalog, "named", arm=None))  # the client named a variant
    hooks.answered(_ctx(catalog, "copy", arm="candidate", shadow_of="served"))  # a copy is never copied
    assert copied == ["served"] and offered == ["served", "named"]
    cache.current = {"support": _state(CanaryStrategy((50.0,), 60.0))}
    hooks.answered(_ctx(catalog, "canary", arm="baseline"))
    assert copied == ["served"]


def _served(catalog: Catalog, request_id: str) -> RequestContext:
    messages = [{"role": "user", "content": "Where is my refund?"}]
    body = ChatBody("support", messages, {}, False, False, None, {})
    return _ctx(
        catalog, request_id, user="u", body=body, redacted=messages, status="ok", http_status=200,
        outcome="served", content=GOOD, arm="baseline", variant=catalog.features["support"].variants["main"],
    )  # fmt: skip


async def test_shadow_copies_are_bounded_and_recorded_as_shadows(catalog: Catalog) -> None:
    records: list[RequestRecord] = []
    shadower = Shadower(
        Protection.plain(catalog),
        {"support": ShadowPolicy(sample_rate=1.0, max_concurrency=2, max_per_minute=3)},
        records.append,
        None,
        clock=lambda: 1_700_000_040.0,  # one clock minute for the whole test: the bound counts fixed minutes
    )
    rollout = _state(ShadowStrategy(1.0, 60.0, horizon_s=600)).rollout
    assert rollout is not None
    t0 = time.perf_counter()
    for i in range(4):
        shadower.offer(_served(catalog, f"req-{i}"), rollout)
    assert time.perf_counter() - t0 < 0.05  # scheduling only: nothing waited for the candidate
    assert shadower.status()["support"]["dropped"]["concurrency"] == 2
    for _ in range(200):  # the two copies in flight finish (the sim answers in 5 ms)
        if shadower.status()["support"]["inflight"] == 0:
            break
        await asyncio.sleep(0.01)
    shadower.offer(_served(catalog, "req-4"), rollout)
    shadower.offer(_served(catalog, "req-5"), rollout)  # the fourth this minute
    await shadower.close()
    status = shadower.status()["support"]
    assert (status["started"], status["finished"], status["dropped"]["rate"]) == (3, 3, 1)
    assert {r.shadow_of for r in records} == {"req-0", "req-1", "req-4"}
    for record in records:
        assert (record.outcome, record.arm, record.variant, record.completion, record.status) == (
            "shadow", "candidate", "wrong", WRONG, "ok",
        )  # fmt: skip
        assert record.request_id not in {"req-0", "req-1", "req-4"} and record.stream is False


async def test_online_scoring_samples_by_request_and_stores_scores(
    sqlite_store: Store, catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    configs = [{"type": "contains", "any": ["refund"]}, {"type": "exact", "name": "needs-reference"}]
    scorers = build_online_scorers(catalog.features["support"], configs)
    online = OnlineScorer(
        sqlite_store.db,
        {"support": scorers},
        {"support": OnlineEval.model_validate({"sample_rate": 0.3, "scorers": configs, "max_queue": 100})},
    )  # type: ignore[arg-type]
    for i in range(1000):
        online.offer(_served(catalog, f"req-{i}"))
    assert 60 <= online.status()["queued"] + online.status()["dropped"] <= 900
    assert online.status()["queued"] == 100 and online.status()["dropped"] > 150
    online.offer(_ctx(catalog, "failed", status="error", content=None))
    await online.work()
    rows = sqlite_store.db.query("SELECT scorer, score, passed FROM scores", action="read")
    assert len(rows) == 100 and {r[0] for r in rows} == {"contains"}
    assert all(r[1] == 1.0 and r[2] == 1 for r in rows)
    assert "needs-reference of support cannot score live answers" in caplog.text
    assert caplog.text.count("cannot score live answers") == 1  # switched off at its first refusal

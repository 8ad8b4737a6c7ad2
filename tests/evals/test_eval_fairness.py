"""Fairness: declared groups (tags or spec fields), the gap's permutation test, counterfactual pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from runwell.evals import (
    Case,
    CaseResult,
    GateConfig,
    RunResult,
    compare_runs,
    evaluate_gate,
    gap_permutation_test,
)
from runwell.evals.execute import execute_run
from runwell.evals.fairness import parse_group
from runwell.evals.plan import build_plan, resolve_suite, slice_tags
from runwell.evals.runner import RunSettings
from runwell.evals.runstore import EvalRunStore
from runwell.spec.loader import load_spec
from tests.evals.builders import build_run

from .conftest import QUESTIONS, MakeProject, cases_for


def test_only_group_tags_declare_groups() -> None:
    assert parse_group("group:lang=fr") == ("lang", "fr")
    assert parse_group("group:age-band=18-25") == ("age-band", "18-25")
    assert (
        parse_group("lang:fr") is None
        and parse_group("group:lang") is None
        and parse_group("billing") is None
    )


def test_the_gap_test_agrees_with_scipy_permutation_test() -> None:
    rng = np.random.default_rng(3)
    a, b = list(rng.uniform(0.4, 1.0, 25)), list(rng.uniform(0.3, 0.9, 25))
    ours = gap_permutation_test([a, b], permutations=4000, seed=1)

    def spread(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return np.abs(np.mean(x, axis=axis) - np.mean(y, axis=axis))

    theirs = stats.permutation_test(
        (a, b),
        spread,
        permutation_type="independent",
        alternative="greater",
        n_resamples=20000,
        random_state=2,
    )
    assert ours == pytest.approx(theirs.pvalue, abs=0.02)


def test_the_gap_test_is_seeded_and_bounded() -> None:
    same = [[1.0, 0.0] * 10, [0.0, 1.0] * 10]
    assert gap_permutation_test(same, permutations=500, seed=7) == gap_permutation_test(
        same, permutations=500, seed=7
    )
    assert gap_permutation_test(same, permutations=500) == 1.0  # identical groups: every shuffle is as wide
    apart = [[1.0] * 30, [0.0] * 30]
    assert gap_permutation_test(apart, permutations=500) == pytest.approx(1 / 501)
    with pytest.raises(ValueError):
        gap_permutation_test([[1.0]])


def run_with(scores: list[tuple[str, float, list[str]]], variant: str = "v") -> RunResult:
    cases = [CaseResult(cid, tags, ["x"], [score], [score >= 0.5]) for cid, score, tags in scores]
    return RunResult(f"run-{variant}", variant, None, "h", cases)


def test_counterfactual_pairs_must_get_equivalent_answers() -> None:
    rows = [
        ("loan-anna", 1.0, ["counterfactual:loan"]),
        ("loan-ahmed", 0.0, ["counterfactual:loan"]),  # the same request, another name: refused
        ("tone-he", 0.9, ["counterfactual:tone"]),
        ("tone-she", 0.8, ["counterfactual:tone"]),
        ("solo", 1.0, ["counterfactual:alone"]),  # a group of one is not a pair
    ]
    run = run_with(rows)
    comparison = compare_runs(run, run, counterfactual_tolerance=0.15)
    groups = {g.group: g for g in comparison.counterfactuals}
    assert set(groups) == {"loan", "tone"}
    assert not groups["loan"].consistent and groups["tone"].consistent
    result = evaluate_gate(comparison, GateConfig())
    assert [f.kind for f in result.failures] == ["counterfactual"]
    assert "loan (loan-ahmed=0.00, loan-anna=1.00)" in result.failures[0].message
    strict = compare_runs(run, run, counterfactual_tolerance=0.05)
    assert not {g.group: g for g in strict.counterfactuals}["tone"].consistent


def test_group_slices_carry_intervals_and_the_gap_is_tested() -> None:
    tags = [["group:lang=en"]] * 30 + [["group:lang=fr"]] * 30
    base = build_run([True] * 60, tags=tags)
    cand = build_run([True] * 30 + [True] * 15 + [False] * 15, tags=tags, variant="cand")
    comparison = compare_runs(base, cand)
    fr = next(g for g in comparison.groups if g.value == "fr")
    assert fr.candidate_mean == 0.5 and fr.candidate_mean_interval[0] < 0.5 < fr.candidate_mean_interval[1]
    assert fr.baseline_mean == 1.0
    gap = comparison.slice_gap
    assert gap is not None and gap.gap == 0.5 and gap.p_value is not None and gap.p_value < 0.001
    assert [f.kind for f in evaluate_gate(comparison, GateConfig(max_slice_gap=0.2)).failures] == [
        "sudden_degradation",
        "slice_gap",
    ]


def test_spec_slices_turn_metadata_into_group_tags() -> None:
    case = Case(
        "c", messages=[{"role": "user", "content": "x"}], metadata={"lang": "FR", "user": {"tier": 2}}
    )
    slices = [("lang", "lang"), ("tier", "metadata.user.tier"), ("region", "region")]
    assert slice_tags(case, slices) == ("group:lang=fr", "group:tier=2")


async def test_declared_slices_reach_the_stored_results(make_project: MakeProject, tmp_path: Path) -> None:
    cases = cases_for(dict(list(QUESTIONS.items())[:6]))
    for i, case in enumerate(cases):
        case["metadata"] = {"lang": "de" if i % 2 else "fr"}
    spec = make_project(cases=cases, extra={})
    text = spec.read_text().replace("  gate:", "  slices:\n  - {dimension: lang, field: lang}\n  gate:", 1)
    spec.write_text(text)
    plan = build_plan(load_spec(spec))
    store = EvalRunStore.open(str(tmp_path / "runs.db"), base_dir=tmp_path)
    try:
        run = await execute_run(plan, store, RunSettings())
        tags = {r.case_id: r.tags for r in store.results(run.run_id)}
    finally:
        await plan.aclose()
        store.close()
    assert "group:lang=fr" in tags["q000"] and "group:lang=de" in tags["q001"]
    assert "lang:fr" in tags["q000"]  # the case's own tags are kept
    assert plan.dataset.content_hash == resolve_suite(load_spec(spec), None)[1].content_hash  # untouched

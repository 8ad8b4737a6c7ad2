"""Pairing two runs: repeats, unstable cases, slices, usage, and the refusal to mix datasets."""

from __future__ import annotations

import json

import pytest
from statsmodels.stats.contingency_tables import mcnemar

from runwell.errors import ConfigError
from runwell.evals import CaseResult, RunResult, compare_runs, wilson_interval
from tests.evals.builders import build_run


def test_pairs_by_case_id_and_counts_the_unpaired() -> None:
    base = build_run([True, True, False], ids=["a", "b", "x"])
    cand = build_run([True, False, True], ids=["b", "a", "y"], variant="new")
    cmp = compare_runs(base, cand)
    assert cmp.n_paired == 2
    assert cmp.baseline_only == ("x",)
    assert [v.case_id for v in cmp.candidate_only] == ["y"]
    assert {p.case_id: (p.baseline.passed, p.candidate.passed) for p in cmp.pairs} == {
        "a": (True, False),
        "b": (True, True),
    }
    assert cmp.regressions() == ["a"]


def test_scores_and_mcnemar_counts_come_from_the_pairs() -> None:
    base = build_run([True] * 6 + [False] * 4)
    cand = build_run([True] * 3 + [False] * 3 + [True] * 2 + [False] * 2)
    cmp = compare_runs(base, cand, resamples=2000)
    assert (cmp.baseline_mean, cmp.candidate_mean) == (0.6, 0.5)
    assert cmp.mean_diff == pytest.approx(-0.1)
    assert (cmp.mcnemar.b, cmp.mcnemar.c) == (2, 3)
    expected = mcnemar([[3, 3], [2, 2]], exact=True).pvalue
    assert cmp.mcnemar.p_value == pytest.approx(expected)
    assert cmp.bootstrap.confidence == pytest.approx(0.95)
    assert cmp.baseline_pass_interval[0] < 0.6 < cmp.baseline_pass_interval[1]


def test_repeats_average_scores_take_majority_and_flag_unstable() -> None:
    base = build_run([[True, True, True], [True, False, True], [False, False, False], [True, False]])
    cand = build_run([[True, True, True], [True, True, True], [False, True, False], [True, True]])
    cmp = compare_runs(base, cand)
    verdicts = {p.case_id: p.baseline for p in cmp.pairs}
    assert verdicts["c0001"].score == pytest.approx(2 / 3) and verdicts["c0001"].passed is True
    assert verdicts["c0003"].passed is False, "a 1-1 tie is not a majority"
    assert cmp.unstable_case_ids == ("c0001", "c0002", "c0003")


def test_missing_pass_verdicts_use_the_score_threshold() -> None:
    def run(scores: list[float]) -> RunResult:
        cases = [CaseResult(f"c{i}", scores=[s], passed=[None]) for i, s in enumerate(scores)]
        return RunResult("r", "v", None, "h", cases)

    cmp = compare_runs(run([0.9, 0.6, 0.2]), run([0.9, 0.4, 0.2]), pass_threshold=0.5)
    assert [p.candidate.passed for p in cmp.pairs] == [True, False, False]
    assert (cmp.mcnemar.b, cmp.mcnemar.c) == (0, 1)


def test_an_errored_case_counts_as_a_failing_zero() -> None:
    base = build_run([True, True])
    cand = RunResult(
        "r2", "v2", None, base.dataset_hash, [base.cases[0], CaseResult("c0001", error="timeout")]
    )
    cmp = compare_runs(base, cand)
    broken = cmp.pairs[1].candidate
    assert (broken.score, broken.passed, broken.error) == (0.0, False, "timeout")
    assert cmp.candidate_usage.errors == 1


def test_different_datasets_are_refused_unless_allowed() -> None:
    base, cand = build_run([True], dataset_hash="a" * 64), build_run([True], dataset_hash="b" * 64)
    with pytest.raises(ConfigError, match="different datasets"):
        compare_runs(base, cand)
    assert compare_runs(base, cand, allow_different_datasets=True).same_dataset is False


def test_no_common_case_or_duplicate_ids_are_errors() -> None:
    with pytest.raises(ConfigError, match="no case in common"):
        compare_runs(build_run([True], ids=["a"]), build_run([True], ids=["b"]))
    with pytest.raises(ConfigError, match="has case 'a' twice"):
        compare_runs(build_run([True, True], ids=["a", "a"]), build_run([True], ids=["a"]))


def test_inconsistent_case_results_are_errors() -> None:
    bad = RunResult("r", "v", None, "h", [CaseResult("a", scores=[1.0, 0.0], passed=[True])])
    with pytest.raises(ConfigError, match="1 pass verdicts for 2 scores"):
        compare_runs(bad, bad)
    out_of_range = RunResult("r", "v", None, "h", [CaseResult("a", scores=[2.0])])
    with pytest.raises(ConfigError, match="outside"):
        compare_runs(out_of_range, out_of_range)


def test_tags_break_scores_down_but_only_declared_groups_form_the_gap() -> None:
    # Behaviour change (issue 12): "lang:en" is a topic-style tag and no longer a fairness dimension;
    # groups are declared as group:DIM=VALUE.
    tags = [["group:lang=en", "lang:en"]] * 4 + [["group:lang=fr", "lang:fr"]] * 4
    tags += [["critical", "group:lang=en", "lang:en"]] * 2
    base = build_run([True] * 10, tags=tags)
    cand = build_run([True] * 4 + [True, False, False, False] + [True, True], tags=tags)
    cmp = compare_runs(base, cand, min_slice_size=4)
    by_tag = {s.tag: s for s in cmp.slices}
    assert by_tag["lang:en"].n == 6 and by_tag["lang:en"].candidate_mean == 1.0
    assert by_tag["lang:fr"].candidate_mean == 0.25 and by_tag["lang:fr"].baseline_mean == 1.0
    assert by_tag["lang:fr"].candidate_pass_interval == pytest.approx(wilson_interval(1, 4, 0.95))
    gap = cmp.slice_gap
    assert gap is not None
    assert (gap.dimension, gap.low_tag, gap.high_tag) == ("lang", "group:lang=fr", "group:lang=en")
    assert gap.gap == pytest.approx(0.75) and (gap.low_n, gap.high_n, gap.groups) == (4, 6, 2)
    assert gap.p_value is not None and 0.0 < gap.p_value < 0.1
    groups = {g.tag: g for g in cmp.groups}
    assert groups["group:lang=fr"].candidate_pass_interval == pytest.approx(wilson_interval(1, 4, 0.95))
    assert groups["group:lang=en"].baseline_mean == 1.0


def test_topic_tags_are_never_pooled_into_a_gap() -> None:
    tags = [["billing"]] * 20 + [["shipping"]] * 20 + [["technique:base64"]] * 20
    run = build_run([True] * 20 + [False] * 20 + [True] * 20, tags=tags)
    cmp = compare_runs(run, run)
    assert cmp.slice_gap is None and cmp.groups == ()
    assert {s.tag for s in cmp.slices} == {"billing", "shipping", "technique:base64"}


def test_groups_below_the_minimum_size_are_reported_but_left_out_of_the_gap() -> None:
    tags = [["group:region=eu"]] * 12 + [["group:region=us"]] * 12 + [["group:region=apac"]]
    run = build_run([True] * 12 + [True] * 9 + [False] * 3 + [False], tags=tags)
    cmp = compare_runs(run, run, min_slice_size=10)
    small = {g.value: g.too_small for g in cmp.groups}
    assert small == {"apac": True, "eu": False, "us": False}
    gap = cmp.slice_gap
    assert gap is not None and (gap.low_tag, gap.high_tag) == ("group:region=us", "group:region=eu")
    assert gap.gap == pytest.approx(0.25) and gap.groups == 2


def test_critical_failures_include_cases_only_in_the_candidate() -> None:
    base = build_run([True, True], ids=["a", "b"], tags=[["critical"], []])
    cand = build_run([False, True, False], ids=["a", "b", "new"], tags=[["critical"], [], ["critical"]])
    assert compare_runs(base, cand).critical_failures() == ["a", "new"]


def test_usage_summaries_and_deltas() -> None:
    base = build_run([True] * 4, latency_ms=100.0, cost_usd=0.01)
    cand = build_run([True] * 4, latency_ms=150.0, cost_usd=0.02)
    cmp = compare_runs(base, cand)
    assert cmp.latency_delta_ms == pytest.approx(50.0)
    assert cmp.cost_delta_usd == pytest.approx(0.04)
    assert cmp.candidate_usage.input_tokens == 40 and cmp.candidate_usage.p95_latency_ms == 150.0


def test_unpriced_runs_have_no_cost_rather_than_zero() -> None:
    cmp = compare_runs(build_run([True], cost_usd=0.01), build_run([True], cost_usd=None, latency_ms=None))
    assert cmp.candidate_usage.cost_usd is None and cmp.cost_delta_usd is None
    assert cmp.latency_delta_ms is None


def test_run_results_round_trip_through_json() -> None:
    run = build_run([True, [True, False, True]], tags=[["a"], ["b"]])
    assert RunResult.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    with pytest.raises(ConfigError, match="not a saved eval run"):
        RunResult.from_dict({"run_id": "x"})

"""The canary judge: per-metric verdicts (statistical and practical significance) and the overall call."""

from __future__ import annotations

import json
import random

import pytest

from runwell.errors import ConfigError
from runwell.rollout.judge import (
    Counts,
    JudgeResult,
    JudgeSettings,
    MetricConfig,
    MetricData,
    Samples,
    judge,
)

LATENCY = MetricConfig("latency_ms", "continuous", "increase", critical=True)
QUALITY = MetricConfig("quality", "continuous", "decrease", tolerance=0.05, critical=True)
ERRORS = MetricConfig("errors", "rate", "increase", critical=True, min_samples=100)
COST = MetricConfig("cost_usd", "continuous", "increase")
BLOCKS = MetricConfig("guardrail_blocks", "rate", "increase", tolerance=0.5)


def _lognormal(seed: int, n: int, median: float, scale: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    # rounded to 3 significant digits, as recorded latencies and costs are: ties are realistic
    return [float(f"{rng.lognormvariate(0.0, 0.6) * median * scale:.3g}") for _ in range(n)]


def _scores(seed: int, n: int, scale: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.betavariate(8, 2) * scale, 3) for _ in range(n)]


def _healthy(seed: int = 1, n: int = 1500) -> dict[str, MetricData]:
    return {
        "latency_ms": Samples(_lognormal(seed, n, 800), _lognormal(seed + 1, n, 800)),
        "quality": Samples(_scores(seed, n // 4), _scores(seed + 1, n // 4)),
        "errors": Counts(30, 3000, 31, 3000),
        "cost_usd": Samples(_lognormal(seed + 2, n, 0.002), _lognormal(seed + 3, n, 0.002)),
        "guardrail_blocks": Counts(15, 3000, 14, 3000),
    }


ALL = (LATENCY, QUALITY, ERRORS, COST, BLOCKS)


def test_identical_variants_pass_every_metric() -> None:
    result = judge(ALL, _healthy())
    assert result.verdict == "pass"
    assert result.score == 100.0
    assert result.failed == ()
    assert {m.verdict for m in result.metrics} == {"pass"}
    latency = result.metric("latency_ms")
    assert latency.test == "mann-whitney (asymptotic)"
    assert latency.ci_low is not None and latency.ci_high is not None
    assert latency.ci_low <= 0 <= latency.ci_high


def test_a_critical_regression_fails_the_canary_and_says_why() -> None:
    data = _healthy()
    data["latency_ms"] = Samples(_lognormal(1, 1500, 800), _lognormal(2, 1500, 800, scale=1.5))
    result = judge(ALL, data)
    assert result.verdict == "fail"
    assert result.failed == ("latency_ms",)
    assert "critical metric failed: latency_ms" in result.reason
    latency = result.metric("latency_ms")
    assert latency.verdict == "fail" and latency.shift == "worse"
    assert latency.relative is not None and 0.35 < latency.relative < 0.65
    assert latency.p_value is not None and latency.p_value < 1e-10
    assert "worse beyond tolerance" in latency.explanation
    assert latency.explanation.startswith("latency_ms: fail — shift +")


def test_a_significant_change_within_tolerance_passes() -> None:
    # +10 % latency on 5,000 requests a side is unmistakable, but under the 25 % tolerance
    data = {"latency_ms": Samples(_lognormal(1, 5000, 800), _lognormal(2, 5000, 800, scale=1.1))}
    result = judge((LATENCY,), data)
    latency = result.metric("latency_ms")
    assert latency.shift == "worse"
    assert latency.verdict == "pass"
    assert result.verdict == "pass"
    assert "worse but within tolerance" in latency.explanation


def test_direction_decrease_fails_a_drop_and_welcomes_a_rise() -> None:
    drop = judge((QUALITY,), {"quality": Samples(_scores(1, 400), _scores(2, 400, scale=0.9))})
    assert drop.verdict == "fail"
    assert drop.metric("quality").estimate is not None and drop.metric("quality").estimate < 0  # type: ignore[operator]
    rise = judge((QUALITY,), {"quality": Samples(_scores(1, 400, scale=0.9), _scores(2, 400))})
    assert rise.verdict == "pass"
    assert rise.metric("quality").shift == "better"


def test_a_doubled_error_rate_fails_and_reports_the_difference_in_points() -> None:
    result = judge((ERRORS,), {"errors": Counts(100, 10_000, 200, 10_000)})
    errors = result.metric("errors")
    assert result.verdict == "fail"
    assert errors.test == "z"
    assert errors.estimate == pytest.approx(0.01)
    assert errors.relative == pytest.approx(1.0)
    assert errors.threshold == pytest.approx(0.0025)
    assert errors.ci_low is not None and errors.ci_low > 0
    assert "2.000% vs 1.000%" in errors.explanation
    assert "+1 pp" in errors.explanation
    assert errors.explanation.endswith("worse beyond tolerance (p=6e-09), z-test")


def test_small_counts_use_the_exact_test() -> None:
    result = judge((ERRORS,), {"errors": Counts(95, 9500, 3, 500)})
    assert result.metric("errors").test == "midp"
    assert result.metric("errors").explanation.endswith("Fisher mid-p")
    assert result.verdict == "pass"


def test_min_effect_floors_the_tolerance_when_the_baseline_is_near_zero() -> None:
    # no baseline errors: relative tolerance alone would forbid any error at all
    strict = judge((ERRORS,), {"errors": Counts(0, 20_000, 12, 20_000)})
    assert strict.verdict == "fail"
    lenient_config = MetricConfig("errors", "rate", "increase", critical=True, min_effect=0.001)
    lenient = judge((lenient_config,), {"errors": Counts(0, 20_000, 12, 20_000)})
    assert lenient.metric("errors").threshold == 0.001
    assert lenient.metric("errors").shift == "worse"
    assert lenient.verdict == "pass"


def test_too_few_samples_is_nodata_and_a_critical_nodata_holds_the_step() -> None:
    data = _healthy()
    data["quality"] = Samples(_scores(1, 400), _scores(2, 20))
    result = judge(ALL, data)
    quality = result.metric("quality")
    assert quality.verdict == "nodata"
    assert quality.p_value is None
    assert "need 50 on each side" in quality.explanation
    assert result.verdict == "inconclusive"
    assert "critical metric quality" in result.reason


def test_half_the_weight_without_data_is_inconclusive() -> None:
    configs = (
        COST,
        BLOCKS,
        MetricConfig("feedback", "rate", "increase"),
        MetricConfig("tokens", "continuous", "increase"),
    )
    data = _healthy()
    result = judge(configs, {"cost_usd": data["cost_usd"], "guardrail_blocks": data["guardrail_blocks"]})
    assert result.verdict == "inconclusive"
    assert result.score == 100.0
    assert "50% of the metrics' weight has no data" in result.reason
    missing_everything = judge(configs, {})
    assert missing_everything.verdict == "inconclusive"
    assert missing_everything.score is None


def test_non_critical_failures_lower_the_score_marginal_then_fail() -> None:
    blocks_worse = Counts(15, 3000, 60, 3000)
    cost_worse = Samples(_lognormal(4, 1500, 0.002), _lognormal(5, 1500, 0.002, scale=2.0))
    configs = (
        COST,
        BLOCKS,
        MetricConfig("tokens", "continuous", "increase"),
        MetricConfig("feedback", "rate", "increase"),
    )
    base = _healthy()
    data: dict[str, MetricData] = {
        "cost_usd": base["cost_usd"],
        "guardrail_blocks": blocks_worse,
        "tokens": Samples(_lognormal(6, 500, 300), _lognormal(7, 500, 300)),
        "feedback": Counts(40, 1000, 42, 1000),
    }
    marginal = judge(configs, data)
    assert marginal.failed == ("guardrail_blocks",)
    assert marginal.score == 75.0
    assert marginal.verdict == "inconclusive"
    assert "marginal score 75" in marginal.reason
    data["cost_usd"] = cost_worse
    failing = judge(configs, data)
    assert failing.score == 50.0
    assert failing.verdict == "fail"
    assert "below the marginal threshold 75" in failing.reason


def test_weights_count_in_the_score() -> None:
    heavy = MetricConfig("guardrail_blocks", "rate", "increase", tolerance=0.5, weight=3.0)
    data = {"cost_usd": _healthy()["cost_usd"], "guardrail_blocks": Counts(15, 3000, 60, 3000)}
    result = judge((COST, heavy), data)
    assert result.score == 25.0
    assert result.verdict == "fail"


def test_results_round_trip_through_json() -> None:
    data = _healthy()
    data["quality"] = Samples(_scores(1, 400), _scores(2, 20))
    result = judge(ALL, data)
    text = json.dumps(result.to_dict(), allow_nan=False)
    again = JudgeResult.from_dict(json.loads(text))
    assert again == result
    assert again.explain() == result.explain()
    assert result.explain().splitlines()[0].startswith("INCONCLUSIVE (score 100)")
    assert len(result.explain().splitlines()) == 1 + len(ALL)


def test_from_dict_names_a_missing_field() -> None:
    saved = judge((ERRORS,), {"errors": Counts(10, 1000, 10, 1000)}).to_dict()
    del saved["verdict"]
    with pytest.raises(ConfigError, match="missing 'verdict'"):
        JudgeResult.from_dict(saved)


def test_large_windows_are_capped_deterministically() -> None:
    data = {"latency_ms": Samples(_lognormal(1, 12_000, 800), _lognormal(2, 9_000, 800))}
    settings = JudgeSettings(max_samples=1000)
    first, second = judge((LATENCY,), data, settings), judge((LATENCY,), data, settings)
    assert first == second
    latency = first.metric("latency_ms")
    assert (latency.baseline_n, latency.candidate_n) == (12_000, 9_000)
    uncapped = judge((LATENCY,), data).metric("latency_ms")
    assert uncapped.estimate != latency.estimate


def test_identical_variants_rarely_fail() -> None:
    fails = 0
    for seed in range(0, 200, 2):
        rng = random.Random(seed)
        n_b, n_c = 4000, 1000
        data: dict[str, MetricData] = {
            "errors": Counts(
                sum(rng.random() < 0.01 for _ in range(n_b)),
                n_b,
                sum(rng.random() < 0.01 for _ in range(n_c)),
                n_c,
            ),
            "latency_ms": Samples(_lognormal(seed, 600, 800), _lognormal(seed + 1, 150, 800)),
            "quality": Samples(_scores(seed, 200), _scores(seed + 1, 60)),
        }
        fails += judge((ERRORS, LATENCY, QUALITY), data).verdict == "fail"
    # each look fails about 0.5 % of the time (the errors metric, one-sided at the default 0.99)
    assert fails <= 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name is empty"),
        ({"kind": "ratio"}, "kind 'ratio' is not one of continuous, rate"),
        ({"direction": "up"}, "direction 'up' is not one of increase, decrease"),
        ({"tolerance": -0.1}, "tolerance -0.1 must be a finite number >= 0"),
        ({"min_samples": 0}, "min_samples 0 must be at least 1"),
        ({"weight": 0}, "weight 0 must be a finite number > 0"),
        ({"confidence": 1.0}, "confidence 1.0 must be in"),
    ],
)
def test_metric_config_errors_name_the_metric_and_the_fix(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"name": "latency_ms", "kind": "continuous", "direction": "increase"}
    values.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        MetricConfig(**values)  # type: ignore[arg-type]


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="marginal_threshold"):
        JudgeSettings(pass_threshold=70, marginal_threshold=80)
    with pytest.raises(ConfigError, match="confidence"):
        JudgeSettings(confidence=0.2)


def test_judge_rejects_bad_inputs_with_actionable_errors() -> None:
    with pytest.raises(ConfigError, match="no metrics configured"):
        judge((), {})
    with pytest.raises(ConfigError, match=r"metric names repeat \(errors\)"):
        judge((ERRORS, ERRORS), {})
    with pytest.raises(ConfigError, match="data for unconfigured metric"):
        judge((ERRORS,), {"latency": Counts(1, 10, 1, 10)})
    with pytest.raises(ConfigError, match="is a rate: pass Counts"):
        judge((ERRORS,), {"errors": Samples([1.0], [1.0])})
    with pytest.raises(ConfigError, match="is continuous: pass Samples"):
        judge((LATENCY,), {"latency_ms": Counts(1, 10, 1, 10)})
    nan = [float("nan")] + [1.0] * 60
    with pytest.raises(ValueError, match="rollout metric 'latency_ms': x contains NaN"):
        judge((LATENCY,), {"latency_ms": Samples([1.0] * 60, nan)})


def test_tied_scores_can_differ_in_ranks_without_a_median_shift() -> None:
    # 0/1 scores: the candidate has more 1s, yet every median difference is 0 (use a rate for these)
    thumbs = MetricConfig("thumbs_up", "continuous", "decrease")
    result = judge((thumbs,), {"thumbs_up": Samples([0.0] * 700 + [1.0] * 300, [0.0] * 600 + [1.0] * 400)})
    metric = result.metric("thumbs_up")
    assert metric.p_value is not None and metric.p_value < 1e-4
    assert (metric.estimate, metric.shift, metric.verdict) == (0.0, "none", "pass")
    assert "ranks differ but the shift estimate is 0" in metric.explanation

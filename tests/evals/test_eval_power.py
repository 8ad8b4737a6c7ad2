"""Power: the minimum detectable effect of the paired test, and the warning when a suite is too small.

The MDE is the smallest drop in pass rate that the exact two-sided McNemar test at alpha detects
with 80 % power, when each case is broken with probability drop + f and fixed with probability f.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pytest
import typer
from scipy import optimize, stats
from typer.testing import CliRunner, Result

from runwell.cli import eval as eval_cli
from runwell.evals import (
    GateConfig,
    compare_runs,
    evaluate_gate,
    mcnemar_power,
    minimum_detectable_drop,
    report_junit,
    report_markdown,
)
from runwell.evals.power import EXACT_LIMIT, cases_needed
from tests.evals.builders import build_run

from .conftest import write_project


def scipy_power(n: int, drop: float, alpha: float, flip: float) -> float:
    """The same model, summed independently with scipy's binomial test and distributions."""
    psi = drop + 2 * flip
    q = (drop + flip) / psi
    total = 0.0
    for m in range(n + 1):
        weight = stats.binom.pmf(m, n, psi)
        for c in range(m // 2 + 1, m + 1):
            if stats.binomtest(c, m, 0.5).pvalue < alpha:
                total += weight * stats.binom.pmf(c, m, q)
    return float(total)


@pytest.mark.parametrize(("n", "drop", "flip"), [(10, 0.3, 0.0), (25, 0.2, 0.05), (40, 0.1, 0.02)])
def test_power_matches_an_independent_scipy_computation(n: int, drop: float, flip: float) -> None:
    assert mcnemar_power(n, drop, alpha=0.05, flip_rate=flip) == pytest.approx(
        scipy_power(n, drop, 0.05, flip), abs=1e-9
    )


def test_the_mde_of_a_noise_free_ten_case_suite() -> None:
    # With nothing fixed the exact test needs 6 broken of 10 at alpha 0.05 (2 / 2^6 < 0.05 < 2 / 2^5),
    # so the MDE solves P(Binomial(10, d) >= 6) = 0.8.
    expected = optimize.brentq(lambda d: stats.binom.sf(5, 10, d) - 0.8, 0.01, 0.99)
    analysis = minimum_detectable_drop(10, alpha=0.05)
    assert analysis.mde == pytest.approx(expected, abs=1e-9)
    assert analysis.mde == pytest.approx(0.673, abs=1e-3)


def test_the_mde_shrinks_with_more_cases_and_grows_with_noise() -> None:
    mdes = [minimum_detectable_drop(n, alpha=0.05).mde for n in (10, 30, 60, 200)]
    assert all(a is not None and b is not None and a > b for a, b in itertools.pairwise(mdes))
    quiet = minimum_detectable_drop(200, alpha=0.05).mde
    noisy = minimum_detectable_drop(200, alpha=0.05, flip_rate=0.05).mde
    assert quiet is not None and noisy is not None and noisy > quiet
    assert minimum_detectable_drop(3, alpha=0.05).mde is None  # no result can reach p < 0.05


def scipy_critical(m: int, alpha: float) -> int | None:
    """The smallest c of m with two-sided exact binomial p < alpha (c > m / 2), or None."""
    counts = np.arange(m // 2 + 1, m + 1)
    significant = 2 * stats.binom.cdf(m - counts, m, 0.5) < alpha
    return int(counts[np.argmax(significant)]) if m and significant.any() else None


def test_large_suites_use_approximations_that_agree_with_exact_sums() -> None:
    # n = 2000 with noise: discordant counts reach past EXACT_TAIL, so tails are approximated.
    n, drop, flip, alpha = 2000, 0.02, 0.05, 0.05
    psi, q = drop + 2 * flip, (drop + flip) / (drop + 2 * flip)
    exact = 0.0
    for m in range(100, 400):  # +/- 9 standard deviations around n * psi = 240
        c = scipy_critical(m, alpha)
        if c is not None:
            exact += stats.binom.pmf(m, n, psi) * stats.binom.sf(c - 1, m, q)
    assert mcnemar_power(n, drop, alpha=alpha, flip_rate=flip) == pytest.approx(exact, abs=2e-3)
    below = minimum_detectable_drop(EXACT_LIMIT, alpha=0.05, flip_rate=0.02).mde
    above = minimum_detectable_drop(EXACT_LIMIT + 1, alpha=0.05, flip_rate=0.02).mde
    assert below is not None and above is not None and above == pytest.approx(below, rel=0.005)


def test_cases_needed_reaches_the_power() -> None:
    n = cases_needed(0.1, alpha=0.05)
    assert n is not None and 40 < n < 100
    assert mcnemar_power(n, 0.1, alpha=0.05) >= 0.8
    assert mcnemar_power(n // 2, 0.1, alpha=0.05) < 0.8


def test_a_30_percent_drop_on_a_10_case_suite_passes_but_is_warned_about() -> None:
    comparison = compare_runs(build_run([True] * 10), build_run([False] * 3 + [True] * 7, variant="cand"))
    result = evaluate_gate(comparison, GateConfig(tolerance=0.02))
    assert result.passed  # McNemar p = 0.25: three broken cases prove nothing...
    assert [w.kind for w in result.warnings] == ["power"]  # ...and the report says why
    assert result.power is not None and result.power.underpowered and result.power.target == 0.02
    markdown = report_markdown(comparison, result)
    head = markdown.split("### Gate checks")[0]
    assert "⚠️ **WARNING: the suite is too small" in head
    assert "67.3%" in head and "cases are needed" in head
    assert "Seen here: pass rate 100.0% -> 70.0% (a 30.0% drop, exact McNemar p=0.25)" in head
    assert head.count("WARNING") == 1  # the banner; the power line states the MDE without repeating it
    root = ET.fromstring(report_junit(comparison, result))
    power = next(c for c in root.iter("testcase") if c.get("name") == "power")
    skipped = power.find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("WARNING: the suite is too small")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props.get("warning") or "").startswith("power: WARNING")
    out = root.findtext("testsuite/system-out") or ""
    assert out.startswith("WARNING: power: the suite is too small") and out.count("WARNING") == 1


def test_a_large_enough_suite_gets_no_warning() -> None:
    run = build_run([True] * 400)
    result = evaluate_gate(compare_runs(run, run), GateConfig(detect_drop=0.05))
    assert result.warnings == ()
    assert {c.kind: c.status for c in result.checks}["power"] == "passed"
    assert result.power is not None and result.power.mde is not None and result.power.mde < 0.05


def test_the_cli_warns_on_the_scaffold_sized_suite(tmp_path: Path) -> None:
    questions = {f"question {i}?": f"answer-{i}" for i in range(10)}
    wrong = dict(questions) | {f"question {i}?": "no idea" for i in range(3)}
    cases = [{"id": f"q{i}", "input": q, "reference": a} for i, (q, a) in enumerate(questions.items())]
    spec = write_project(
        tmp_path,
        providers={"good": {"answers": questions}, "worse": {"answers": wrong}},
        variants={"champion": "good", "challenger": "worse"},
        cases=cases,
        gate={"alpha": 0.05, "tolerance": 0.02},
    )
    root = typer.Typer()
    eval_cli.register(root)
    runner = CliRunner(env={"RUNWELL_DB": None, "GITHUB_STEP_SUMMARY": None})
    invoke: Callable[..., Result] = lambda *a: runner.invoke(root, ["eval", *a])  # noqa: E731
    for variant in ("champion", "challenger"):
        assert invoke("run", "--spec", str(spec), "--variant", variant).exit_code == 0
    junit = tmp_path / "gate.xml"
    result = invoke("compare", "champion", "challenger", "--gate", "--spec", str(spec), "--junit", str(junit))
    assert result.exit_code == 0, result.output  # passes: 3 of 10 is not significant...
    assert "WARNING: the suite is too small for the drop the gate should catch (2.0%)" in result.stdout
    assert 'name="power"' in junit.read_text() and "WARNING" in junit.read_text()
    report = orjson.loads(invoke("compare", "champion", "challenger", "--json", "--spec", str(spec)).stdout)
    assert report["power"]["underpowered"] is True and report["power"]["n"] == 10

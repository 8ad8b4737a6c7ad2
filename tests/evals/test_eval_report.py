"""Reports: JSON carries the numbers, JUnit parses and names what failed, Markdown states the verdict."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest

from runwell.evals import (
    Comparison,
    GateConfig,
    GateResult,
    append_step_summary,
    compare_runs,
    evaluate_gate,
    report_json,
    report_junit,
    report_markdown,
)
from tests.evals.builders import build_run

EN, FR = ["group:lang=en", "lang:en"], ["group:lang=fr", "lang:fr"]
TAGS = [["critical", *EN]] * 2 + [EN] * 98 + [FR] * 100


def failing() -> tuple[Comparison, GateResult]:
    base = build_run([True] * 200, tags=TAGS)
    cand = build_run([False] + [True] * 169 + [False] * 30, tags=TAGS, variant="cand|v2")
    cmp = compare_runs(base, cand)
    return cmp, evaluate_gate(cmp, GateConfig(floor=0.9))


def passing() -> tuple[Comparison, GateResult]:
    run = build_run([True] * 200, tags=TAGS)
    cmp = compare_runs(run, run)
    return cmp, evaluate_gate(cmp, GateConfig())


def test_json_report_is_serialisable_and_carries_the_verdict() -> None:
    cmp, result = failing()
    data = report_json(cmp, result)
    assert json.loads(orjson.dumps(data)) == json.loads(json.dumps(data))
    assert data["passed"] is False and data["exit_code"] == 1
    assert data["mcnemar"] == {"b": 0, "c": 31, "p_value": cmp.mcnemar.p_value}
    assert data["scores"]["bootstrap"]["ci_high"] < 0
    assert [f["kind"] for f in data["gate"]["failures"]] == [
        "sudden_degradation",
        "below_floor",
        "critical_case_failed",
    ]
    assert data["slice_gap"]["gap"] == cmp.slice_gap.gap  # type: ignore[union-attr]
    assert data["slice_gap"]["p_value"] < 0.05
    assert [g["tag"] for g in data["groups"]] == ["group:lang=en", "group:lang=fr"]
    assert data["power"]["mde"] == pytest.approx(cmp.power.mde)  # type: ignore[union-attr]
    assert data["safety"] == {"attack_success": None, "over_refusal": None}
    assert "c0000" in data["regressions"]


def test_junit_parses_and_has_one_testcase_per_check_and_critical_case() -> None:
    cmp, result = failing()
    root = ET.fromstring(report_junit(cmp, result))
    assert root.tag == "testsuites"
    gate_suite, critical_suite = root.findall("testsuite")
    checks = gate_suite.findall("testcase")
    assert [c.get("name") for c in checks] == [c.kind for c in result.checks]
    failed = {c.get("name") for c in checks if c.find("failure") is not None}
    assert failed == {"sudden_degradation", "below_floor", "critical_case_failed"}
    skipped = {c.get("name") for c in checks if c.find("skipped") is not None}
    assert skipped == {
        "below_pinned",
        "slice_gap",
        "attack_success",
        "over_refusal",
        "counterfactual",
        "trend",
    }
    assert [c.get("name") for c in critical_suite.findall("testcase")] == ["c0000", "c0001"]
    assert critical_suite.find("testcase/failure").get("type") == "critical_case_failed"  # type: ignore[union-attr]
    for suite in (gate_suite, critical_suite):
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("skipped", "-1")) == sum(c.find("skipped") is not None for c in cases)
    assert root.get("tests") == str(len(result.checks) + 2) and root.get("failures") == "4"


def test_junit_survives_characters_xml_cannot_carry() -> None:
    run = build_run([False], ids=["bad\x00id<&>"], tags=[["critical"]])
    cmp = compare_runs(run, run)
    root = ET.fromstring(report_junit(cmp, evaluate_gate(cmp, GateConfig())))
    names = [c.get("name") for c in root.iter("testcase")]
    assert "bad\ufffdid<&>" in names


def test_markdown_states_the_verdict_and_tables() -> None:
    cmp, result = failing()
    text = report_markdown(cmp, result)
    assert "❌ FAIL" in text
    assert "**Verdict: FAIL** (sudden_degradation, below_floor, critical_case_failed)" in text
    assert "| mean score | 1.000 | 0.845 |" in text
    assert "| lang:fr | 100 | 1.000 | 0.700 | -0.300 |" in text
    assert "`cand\\|v2`" in text, "pipes in names must not break the table"
    assert "### Critical cases" in text and "Failing: `c0000`" in text


def test_markdown_for_a_pass_lists_unstable_cases() -> None:
    base = build_run([[True, False, True], True])
    cmp = compare_runs(base, base)
    text = report_markdown(cmp, evaluate_gate(cmp, GateConfig()))
    assert "✅ PASS" in text and "**Verdict: PASS**" in text
    assert "### Unstable cases" in text and "`c0000`" in text


def test_step_summary_appends_only_when_github_sets_the_file(tmp_path: Path) -> None:
    cmp, result = passing()
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    text = report_markdown(cmp, result)
    assert append_step_summary(text, {"GITHUB_STEP_SUMMARY": str(summary)}) is True
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + text
    assert append_step_summary(text, {}) is False

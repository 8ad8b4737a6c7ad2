"""The spec's new ``evals`` fields reach the gate, and ``runwell eval judge-agreement`` measures the judge."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
import typer
import yaml
from typer.testing import CliRunner

from runwell.cli import eval as eval_cli
from runwell.cli._eval_compare import gate_config
from runwell.errors import SpecError
from runwell.evals.plan import judge_ref, resolve_suite
from runwell.spec.loader import load_spec

from .conftest import MakeProject


def test_gate_settings_come_from_the_spec(make_project: MakeProject) -> None:
    spec = make_project(
        gate={
            "alpha": 0.01,
            "tolerance": 0.03,
            "max_attack_success": 0.05,
            "max_over_refusal": 0.1,
            "detect_drop": 0.08,
            "min_slice_size": 5,
            "trend": {"window": 6, "min_runs": 5, "min_drop": 0.02},
        }
    )
    config = gate_config(load_spec(spec), None)
    assert (config.alpha, config.max_attack_success, config.max_over_refusal) == (0.01, 0.05, 0.1)
    assert (config.detect_drop, config.trend_min_runs, config.trend_min_drop) == (0.08, 5, 0.02)
    assert config.power_target == 0.08
    assert (
        gate_config(
            load_spec(make_project(root=spec.parent / "b", gate={"tolerance": 0.04})), None
        ).power_target
        == 0.04
    )


@pytest.mark.parametrize(
    ("evals", "field"),
    [
        ({"gate": {"min_slice_size": 0}}, "evals.gate.min_slice_size"),
        ({"gate": {"max_attack_success": 2}}, "evals.gate.max_attack_success"),
        ({"gate": {"trend": {"min_runs": 2}}}, "evals.gate.trend.min_runs"),
        ({"slices": [{"dimension": "Lang!", "field": "lang"}]}, "evals.slices.0.dimension"),
        ({"judge": {"provider": "good"}}, "evals.judge"),
    ],
)
def test_bad_eval_settings_are_spec_errors_naming_the_field(
    make_project: MakeProject, evals: dict[str, object], field: str
) -> None:
    spec = make_project()
    data = yaml.safe_load(spec.read_text())
    data["evals"].update(evals)
    spec.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as excinfo:
        load_spec(spec)
    assert field in str(excinfo.value)


def test_builtin_suites_are_scored_adversarially_with_the_specs_judge(make_project: MakeProject) -> None:
    plain = load_spec(make_project())
    assert resolve_suite(plain, "builtin:jailbreak")[2] == [{"type": "adversarial"}]
    spec = make_project(root=Path(plain.base_dir) / "judged")
    data = yaml.safe_load(spec.read_text())
    data["evals"]["judge"] = {"provider": "good", "model": "judge-1"}
    spec.write_text(yaml.safe_dump(data))
    judged = load_spec(spec)
    assert judge_ref(judged) == {"provider": "good", "model": "judge-1"}
    assert resolve_suite(judged, "builtin:pii-leak")[2] == [
        {"type": "adversarial", "judge": {"provider": "good", "model": "judge-1"}}
    ]


def test_judge_agreement_measures_the_rule_based_and_an_llm_judge(make_project: MakeProject) -> None:
    root = typer.Typer()
    eval_cli.register(root)
    runner = CliRunner(env={"RUNWELL_DB": None})
    rules = runner.invoke(root, ["eval", "judge-agreement", "--rules", "--json"])
    assert rules.exit_code == 0, rules.output
    measured = orjson.loads(rules.stdout)
    assert measured["judge"] == "rule-based judge" and measured["n"] == 40 and measured["accuracy"] >= 0.9
    # A sim "judge" that always says safe: agreement at chance level, every harmful answer missed.
    always_safe = json.dumps({"score": 1, "pass": True, "reason": "fine"})
    spec = make_project(
        providers={"good": {}, "judge": {"answers": {}, "text": always_safe}},
        variants={"champion": "good", "lenient": "judge"},
    )
    result = runner.invoke(root, ["eval", "judge-agreement", "--spec", str(spec), "--judge", "lenient"])
    assert result.exit_code == 0, result.output
    assert "judge lenient on 40 labelled answers: agrees on 20 (50.0%" in result.stdout
    assert "harmful judged safe 20 (missed)" in result.stdout
    spec_text = spec.read_text().replace("evals:\n", "evals:\n  judge: {provider: judge, model: j}\n", 1)
    spec.write_text(spec_text)
    blind = orjson.loads(
        runner.invoke(root, ["eval", "judge-agreement", "--spec", str(spec), "--json"]).stdout
    )
    assert (
        blind["judge"].startswith("judge {'provider': 'judge'")
        and blind["fn"] == 20
        and blind["kappa"] == 0.0
    )

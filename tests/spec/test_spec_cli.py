"""`runwell spec validate|schema` and `runwell init`, through the real command line app."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runwell.cli.main import app
from runwell.spec import load_spec


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_validate_ok_prints_a_summary(runner: CliRunner, write_spec: Callable[..., Path]) -> None:
    path = write_spec()
    result = runner.invoke(app, ["spec", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"OK {path}: feature ticket-summary (spec version nogit+" in result.stdout
    assert "variants: champion (smol/smollm2-135m-instruct, prompt 1+" in result.stdout
    assert "default: champion" in result.stdout


def test_validate_defaults_to_runwell_yaml_in_the_current_directory(
    runner: CliRunner, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(write_spec().parent)
    result = runner.invoke(app, ["spec", "validate"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK runwell.yaml: feature ticket-summary")


def test_validate_prints_one_line_per_problem_and_exits_2(
    runner: CliRunner, write_spec: Callable[..., Path]
) -> None:
    path = write_spec([("temperature: 0.2", "temperature: 5"), ("provider: backup", "provider: x")])
    result = runner.invoke(app, ["spec", "validate", str(path)])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{path}:16: variants.champion.params.temperature: must be less than or equal to 2, got number 5",
        f"{path}:18: variants.challenger.provider: unknown provider 'x'; "
        "known providers: smol, backup; add it under providers: or fix the name",
    ]
    assert "2 problems" in result.stderr


def test_validate_relative_paths_print_relative(
    runner: CliRunner, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(write_spec([("prompts/summary.v1.md", "prompts/gone.md")]).parent)
    result = runner.invoke(app, ["spec", "validate", "runwell.yaml"])
    assert result.exit_code == 2
    assert result.stdout.startswith("runwell.yaml:15: variants.champion.prompt.file: prompt file")


def test_schema_is_json_with_every_top_level_section(runner: CliRunner) -> None:
    result = runner.invoke(app, ["spec", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"spec_version", "feature", "providers", "variants"}
    assert set(schema["properties"]) == {
        "spec_version", "feature", "providers", "variants", "default_variant", "prices",
        "timeouts", "capture", "user_id", "guardrails", "budgets", "fallbacks", "resilience", "evals",
        "rollout", "alerts", "oncall", "failure_modes", "runbooks",
    }  # fmt: skip


@pytest.mark.parametrize("provider", ["sim", "local", "openai"])
def test_init_creates_a_feature_that_validates(runner: CliRunner, tmp_path: Path, provider: str) -> None:
    target = tmp_path / "support-bot"
    result = runner.invoke(app, ["init", "support-bot", "--provider", provider, "--dir", str(target)])
    assert result.exit_code == 0, result.output
    assert "runwell keys create dev" in result.stdout
    assert f"runwell serve --spec {target / 'runwell.yaml'}" in result.stdout

    check = runner.invoke(app, ["spec", "validate", str(target)])
    assert check.exit_code == 0, check.output

    loaded = load_spec(target)
    spec = loaded.spec
    assert spec.feature.name == "support-bot"
    assert set(spec.variants) == {"champion", "challenger"}
    assert {v.provider for v in spec.variants.values()} == set(spec.providers)
    assert [p.kind for p in spec.providers.values()] == [provider]
    assert spec.variants["champion"].params != spec.variants["challenger"].params
    assert loaded.prompts["champion"].text != loaded.prompts["challenger"].text
    assert all("input" in t.variables_used and t.system for t in loaded.prompts.values())
    assert [m.name for m in spec.failure_modes] == [
        "provider-outage",
        "quality-regression",
        "cost-spike",
    ]
    assert all((target / r).is_file() for r in spec.runbooks)
    assert spec.oncall.rotation and spec.oncall.escalation and spec.feature.owners
    cases = (target / "evals" / "support-bot.jsonl").read_text().splitlines()
    assert len(cases) == 10
    assert all({"input", "reference", "tags"} <= set(json.loads(c)) for c in cases)


def test_init_openai_reads_the_key_from_the_environment(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "f"
    assert runner.invoke(app, ["init", "f", "--provider", "openai", "--dir", str(target)]).exit_code == 0
    [provider] = load_spec(target).spec.providers.values()
    assert provider.kind == "openai"
    assert provider.api_key_env == "OPENAI_API_KEY"
    assert provider.base_url == "https://api.openai.com/v1"
    assert {v.model for v in load_spec(target).spec.variants.values()} == {"gpt-4o-mini"}


def test_init_defaults_to_a_directory_named_after_the_feature(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init", "my-feature"]).exit_code == 0
    assert (tmp_path / "my-feature" / "runwell.yaml").is_file()


def test_init_refuses_a_non_empty_directory(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["init", "f", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists and is not empty; refusing to overwrite it" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_init_accepts_an_empty_directory(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "f", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runwell.yaml").is_file()


def test_init_rejects_an_invalid_name(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "My Feature", "--dir", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "'My Feature' is not a valid feature name" in result.stderr
    assert not (tmp_path / "x").exists()

"""The spec models used directly (as tests and other modules do), without the loader."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from runwell.spec import FeatureSpec, GenerationParams


def minimal(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "spec_version": 1,
        "feature": {"name": "f", "purpose": "p", "owners": [{"name": "A", "email": "a@b.io"}]},
        "providers": {"sim": {"kind": "sim"}},
        "variants": {
            "a": {"provider": "sim", "model": "m", "prompt": {"file": "a.md", "version": "1"}},
            "b": {"provider": "sim", "model": "m", "prompt": {"file": "b.md", "version": "1"}},
        },
        "default_variant": "a",
    }
    data.update(overrides)
    return data


def test_defaults_of_optional_sections() -> None:
    spec = FeatureSpec.model_validate(minimal())
    assert spec.default_variant_name == "a"
    assert spec.evals.gate.alpha == 0.05
    assert spec.budgets.alert_at_fraction == 0.8
    assert spec.rollout.strategy == "none"
    assert spec.alerts == [] and spec.runbooks == [] and spec.prices == {}


def test_models_are_frozen() -> None:
    spec = FeatureSpec.model_validate(minimal())
    with pytest.raises(ValidationError):
        spec.default_variant = "b"  # type: ignore[misc]


def test_broken_references_fail_direct_validation_too() -> None:
    with pytest.raises(ValidationError) as caught:
        FeatureSpec.model_validate(minimal(default_variant="zzz"))
    assert "default_variant: unknown variant 'zzz'" in str(caught.value)


def test_generation_params_to_request() -> None:
    params = GenerationParams.model_validate(
        {"temperature": 0.1, "stop": ["\n\n"], "extra_body": {"top_k": 40}}
    )
    assert params.to_request() == {"top_k": 40, "temperature": 0.1, "stop": ["\n\n"]}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"top_p": 1.5}, "less than or equal to 1"),
        ({"presence_penalty": -3}, "greater than or equal to -2"),
        ({"max_tokens": 0}, "greater than or equal to 1"),
        ({"stop": [1]}, "expected a string or a list of strings"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4 stop sequences"),
        ({"seed": 1.5}, "valid integer"),
        ({"response_format": "json"}, "valid dictionary"),
    ],
)
def test_generation_params_are_checked(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        GenerationParams.model_validate(params)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("rollout", {"strategy": "canary", "candidate": "b"}, "needs steps"),
        ("rollout", {"strategy": "ab"}, "needs a candidate variant"),
        ("rollout", {"steps": [5, 5]}, "strictly ascending"),
        ("rollout", {"steps": [5, 150]}, "less than or equal to 100"),
        ("fallbacks", {"chain": ["b", "b"]}, "more than once"),
        ("fallbacks", {"degradation": {"mode": "static", "message": " "}}, "at least 1 character"),
        ("evals", {"suites": [{"name": "s", "dataset": "d", "scorers": []}]}, "at least 1 item"),
        ("evals", {"gate": {"alpha": 1.5}}, "less than 1"),
        (
            "alerts",
            [{"name": "x", "metric": "error_rate", "op": ">", "threshold": 1, "severity": "sms"}],
            "'page' or 'ticket'",
        ),
        (
            "alerts",
            [{"name": "x", "metric": "error_rate", "op": ">", "threshold": 1}] * 2,
            "alert names must be unique",
        ),
        (
            "oncall",
            {
                "escalation": [
                    {"after_minutes": 30, "notify": "a"},
                    {"after_minutes": 5, "notify": "b"},
                ]
            },
            "must not decrease",
        ),
        ("guardrails", {"output_schema": {"required": "answer"}}, "'required' must be a list"),
        ("timeouts", {"request_s": 0}, "greater than 0"),
        (
            "prices",
            {"m": {"input_per_mtok": -1, "output_per_mtok": 1}},
            "greater than or equal to 0",
        ),
    ],
)
def test_sections_validate_their_own_rules(section: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FeatureSpec.model_validate(minimal(**{section: value}))
    assert message in str(caught.value)


def test_scorers_keep_their_options() -> None:
    spec = FeatureSpec.model_validate(
        minimal(
            evals={
                "suites": [
                    {
                        "name": "s",
                        "dataset": "d.jsonl",
                        "scorers": [{"type": "contains", "any": ["x"]}],
                    }
                ]
            }
        )
    )
    assert spec.evals.suites[0].scorers[0].options == {"any": ["x"]}

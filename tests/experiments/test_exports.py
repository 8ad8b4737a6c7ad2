"""Pins runwell.experiments' public API, documented, and keeps the gateway's hot modules light."""

from __future__ import annotations

import runwell.experiments as experiments

PUBLIC = {
    "METRICS", "ArmWindow", "Experiment", "FeatureState", "Feedback", "Look", "OperatorAction",
    "RolloutCache", "Version", "ab_report", "act", "compile_experiment", "evaluate", "explain_text",
    "history", "load_state", "load_states", "metric_data", "parse_feedback", "revert_serving",
    "serving_variant", "start", "store_feedback", "strategy_of",
}  # fmt: skip


def test_all_lists_exactly_the_public_names() -> None:
    assert set(experiments.__all__) == PUBLIC and len(experiments.__all__) == len(PUBLIC)


def test_every_public_class_and_function_is_documented() -> None:
    for name in sorted(PUBLIC - {"METRICS", "OperatorAction"}):
        assert getattr(experiments, name).__doc__, f"{name} has no docstring"

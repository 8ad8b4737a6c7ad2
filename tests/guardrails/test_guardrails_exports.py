"""Pins the public API of runwell.guardrails so it cannot grow or shrink by accident."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import runwell.guardrails as guardrails

PUBLIC = {
    "DEFAULT_THRESHOLD", "PII_KINDS", "CheckResult", "Finding", "InjectionDetector", "InjectionVerdict",
    "OutputChecker", "OutputVerdict", "PiiRedactor", "RedactionSession", "SyncEmbedder", "find_pii",
    "load_corpus",
}  # fmt: skip


def test_all_lists_exactly_the_public_names() -> None:
    assert set(guardrails.__all__) == PUBLIC
    assert len(guardrails.__all__) == len(PUBLIC)


def test_every_public_name_exists_and_is_documented() -> None:
    for name in guardrails.__all__:
        value = getattr(guardrails, name)
        if callable(value) and not name.isupper():
            assert value.__doc__, f"{name} has no docstring"


def test_the_json_schema_validator_moved_from_evals_to_guardrails() -> None:
    assert importlib.util.find_spec("runwell.evals._jsonschema") is None
    from runwell.evals import scorers
    from runwell.guardrails import _jsonschema

    assert scorers._jsonschema is _jsonschema


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    code = "import sys, runwell.guardrails; print(sorted(m for m in ('numpy', 'onnxruntime', 'aiohttp') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

"""Pins runwell.resilience's public API and keeps the package below the gateway."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import runwell.resilience as resilience

PUBLIC = {
    "Attempt", "BreakerRegistry", "BreakerSettings", "BreakerSnapshot", "BreakerState", "CircuitBreaker",
    "Deadline", "Retrier", "RetryPolicy", "Transition", "counts_as_failure", "is_retryable", "retry_after",
}  # fmt: skip

PACKAGE = Path(resilience.__file__).parent


def test_all_lists_exactly_the_public_names() -> None:
    assert set(resilience.__all__) == PUBLIC
    assert len(resilience.__all__) == len(PUBLIC)


def test_every_public_name_is_documented() -> None:
    for name in sorted(PUBLIC):
        assert getattr(resilience, name).__doc__, f"{name} has no docstring"


def test_the_package_imports_only_errors_from_the_rest_of_runwell() -> None:
    imported: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("runwell."):
                imported.add(node.module)
    assert {name for name in imported if not name.startswith("runwell.resilience")} == {"runwell.errors"}


def test_importing_the_package_does_not_load_redis() -> None:
    code = "import sys, runwell.resilience; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # a gateway without Redis never pays its import

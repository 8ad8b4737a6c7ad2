"""The boundaries DESIGN.md draws, checked on the imports: lower layers never reach up.

The spec knows nothing of the runtime; providers, store and audit know nothing of the gateway;
the eval harness calls providers directly, never the gateway; nothing below the CLI imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "runwell"

# package -> packages (under runwell.) it must never import, at any depth of its modules.
FORBIDDEN = {
    "spec": {"gateway", "cli", "store", "audit", "evals", "providers", "telemetry", "catalog", "control"},
    "providers": {"gateway", "cli", "store", "audit", "evals", "control"},
    "store": {"gateway", "cli", "audit", "evals", "control", "catalog"},
    "audit": {"gateway", "cli", "evals", "control", "catalog"},
    "evals": {"gateway", "cli", "control"},
    "telemetry": {"gateway", "cli", "audit", "evals", "control"},
    "control": {"gateway", "cli", "evals"},
    "catalog": {"gateway", "cli", "evals", "store", "audit"},
    "resilience": {
        "gateway",
        "cli",
        "store",
        "audit",
        "evals",
        "control",
        "telemetry",
        "providers",
        "catalog",
    },
    "guardrails": {
        "gateway",
        "cli",
        "store",
        "audit",
        "evals",
        "control",
        "telemetry",
        "providers",
        "catalog",
    },
    # Pure functions (on-call arithmetic, rollout statistics) know nothing of where data lives.
    "ops": {"gateway", "cli", "store", "audit", "evals", "control", "operate"},
    "rollout": {"gateway", "cli", "store", "audit", "evals", "control", "experiments"},
    "drift": {"gateway", "cli", "audit", "control", "experiments"},
    # The run-time layers the gateway mounts as extensions never reach up to the CLI or sideways
    # into the console that renders them.
    "operate": {"gateway", "cli", "console", "evals", "experiments"},
    "experiments": {"cli", "console", "operate"},
    "console": {"cli"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in found if name.startswith("runwell.") and name.count(".") >= 1}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_higher_ones(package: str) -> None:
    root = SRC / package
    files = sorted(root.rglob("*.py")) if root.is_dir() else [SRC / f"{package}.py"]
    assert files, package
    breaches = {
        f"{path.relative_to(SRC)} imports runwell.{name}"
        for path in files
        for name in _imports(path) & FORBIDDEN[package]
    }
    assert breaches == set()

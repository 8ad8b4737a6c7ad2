"""Fixtures for the eval runner, store and CLI tests: sim projects on disk and stores on both backends.

A *project* is a directory with a runwell.yaml whose variants run on the ``sim`` provider, a
plain-text prompt (so the case's input reaches the provider as the last user message) and a
JSONL dataset. PostgreSQL tests use ``RUNWELL_TEST_POSTGRES_URL`` (default: the local server,
user postgres, database test); the session creates its own database and drops it at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

QUESTIONS = {f"question {i}?": f"answer-{i}" for i in range(60)}
"""Sixty cases: enough for an exact McNemar test to see six broken cases (p ~ 0.03)."""

MakeProject = Callable[..., Path]


def cases_for(questions: Mapping[str, str], *, critical: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One case per question, reference = the right answer, two language slices."""
    return [
        {
            "id": f"q{i:03d}",
            "input": q,
            "reference": a,
            "tags": [f"lang:{'en' if i % 2 else 'fr'}", *(["critical"] if q in critical else [])],
        }
        for i, (q, a) in enumerate(questions.items())
    ]


def write_project(
    root: Path,
    *,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    variants: Mapping[str, str] | None = None,
    cases: list[dict[str, Any]] | None = None,
    scorers: list[dict[str, Any]] | None = None,
    gate: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    prompt: tuple[str, str] = ("plain.txt", "You answer questions in one word.\n"),
    params: Mapping[str, Any] | None = None,
) -> Path:
    """Write a sim project in ``root``; ``providers`` maps name -> sim options, ``variants`` name -> provider.

    Every provider answers :data:`QUESTIONS` right unless its options say otherwise. Returns the
    spec's path. ``gate`` becomes ``evals.gate``; ``scorers`` the suite's scorers; ``prompt`` is
    ``(file name, text)`` of every variant's template and ``params`` their parameters.
    """
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "evals").mkdir(exist_ok=True)
    (root / "prompts" / prompt[0]).write_text(prompt[1], encoding="utf-8")
    providers = providers or {"good": {}}
    variants = variants or {"champion": next(iter(providers))}
    spec: dict[str, Any] = {
        "spec_version": 1,
        "feature": {
            "name": "qa",
            "purpose": "answer questions",
            "owners": [{"name": "Ada", "email": "ada@example.com"}],
        },
        "providers": {
            name: {"kind": "sim", "answers": QUESTIONS, **opts} for name, opts in providers.items()
        },
        "variants": {
            name: {
                "provider": provider,
                "model": "sim-qa",
                "prompt": {"file": f"prompts/{prompt[0]}", "version": "1"},
                "params": dict(params or {}),
            }
            for name, provider in variants.items()
        },
        "default_variant": next(iter(variants)),
        "evals": {
            "suites": [
                {"name": "core", "dataset": "evals/qa.jsonl", "scorers": scorers or [{"type": "exact"}]}
            ],
            "gate": dict(gate or {"alpha": 0.05}),
        },
        **(extra or {}),
    }
    rows = cases if cases is not None else cases_for(QUESTIONS)
    (root / "evals" / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path = root / "runwell.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """:func:`write_project` in ``tmp_path/project`` unless ``root`` is given."""

    def make(*, root: Path | None = None, **options: Any) -> Path:
        return write_project(root or tmp_path / "project", **options)

    return make


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "evals.db")
    url: str = request.getfixturevalue("pg_url")
    return url

"""Create a new feature directory from the templates shipped in ``runwell/spec/scaffold/``.

The result is a complete, valid spec: two variants (``champion`` and ``challenger``) on the chosen
provider, one prompt template each, a small eval set, runbooks for the three most common failure
modes, and TODO placeholders for the people (owners, on-call) only the team can fill in.

Templates are plain files; ``__FEATURE__`` is replaced by the feature name everywhere, and
``__MODELS__`` in ``runwell.yaml.tmpl`` by the provider's ``models/<provider>.yaml`` fragment.
"""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from runwell.errors import ConfigError
from runwell.spec.models import FEATURE_NAME_PATTERN

__all__ = ["SCAFFOLD_PROVIDERS", "scaffold"]

SCAFFOLD_PROVIDERS = ("sim", "local", "openai")
"""Providers ``runwell init`` can set a new feature up on."""

_FEATURE_TOKEN = "__FEATURE__"
_MODELS_TOKEN = "__MODELS__"
_COPIED_DIRS = ("prompts", "runbooks")


def _templates() -> Traversable:
    return files("runwell.spec") / "scaffold"


def _planned_files(name: str, provider: str) -> dict[str, str]:
    """Relative path -> text of every file the new feature directory gets."""
    root = _templates()
    models = (root / "models" / f"{provider}.yaml").read_text(encoding="utf-8")
    spec = (root / "runwell.yaml.tmpl").read_text(encoding="utf-8").replace(_MODELS_TOKEN, models)
    planned = {
        "runwell.yaml": spec,
        f"evals/{name}.jsonl": (root / "evals" / "cases.jsonl").read_text(encoding="utf-8"),
    }
    for folder in _COPIED_DIRS:
        for item in sorted((root / folder).iterdir(), key=lambda t: t.name):
            if item.is_file():
                planned[f"{folder}/{item.name}"] = item.read_text(encoding="utf-8")
    return {path: text.replace(_FEATURE_TOKEN, name) for path, text in planned.items()}


def scaffold(name: str, target: Path, *, provider: str = "sim") -> list[Path]:
    """Create the feature ``name`` in directory ``target``; return the files written.

    Raises :class:`~runwell.errors.ConfigError` when the name is not a valid feature name, the
    provider is unknown, or ``target`` exists and is not an empty directory (nothing is written).
    """
    if not re.fullmatch(FEATURE_NAME_PATTERN, name):
        raise ConfigError(
            f"{name!r} is not a valid feature name: use lowercase letters, digits and '-', "
            "starting with a letter or digit, at most 63 characters (e.g. ticket-summary)"
        )
    if provider not in SCAFFOLD_PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r}; choose one of {', '.join(SCAFFOLD_PROVIDERS)}")
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} exists and is not a directory; choose another --dir")
    if target.is_dir() and any(target.iterdir()):
        raise ConfigError(
            f"{target} already exists and is not empty; refusing to overwrite it. "
            "Choose another --dir, or remove the directory first"
        )
    written: list[Path] = []
    for relative, text in _planned_files(name, provider).items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
        written.append(destination)
    return written

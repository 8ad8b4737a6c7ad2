"""Fixtures for spec tests: a valid spec on disk that each test breaks in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from runwell.errors import SpecError, SpecProblem
from runwell.spec import load_spec

# Line numbers matter: tests assert them. Keep one key per line; add new lines only at the end.
BASE_SPEC = """\
spec_version: 1
feature:
  name: ticket-summary
  purpose: Summarise support tickets for agents
  owners:
    - name: Ada Lovelace
      email: ada@example.com
providers:
  smol: {kind: local}
  backup: {kind: sim, mode: echo}
variants:
  champion:
    provider: smol
    model: smollm2-135m-instruct
    prompt: {file: prompts/summary.v1.md, version: "1"}
    params: {temperature: 0.2, max_tokens: 96}
  challenger:
    provider: backup
    model: sim-small
    prompt: {file: prompts/chat.v2.yaml, version: 2}
default_variant: champion
"""

PROMPTS = {
    "prompts/summary.v1.md": "You summarise support tickets for {{ audience }}.\n",
    "prompts/chat.v2.yaml": 'system: "Be brief."\nuser: "Ticket: {{ input }}"\n',
}


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write runwell.yaml and its prompt files in ``tmp_path``; return the spec's path.

    ``edits`` are ``(old, new)`` replacements applied to the base spec (each ``old`` must occur
    exactly once), ``append`` is added at its end, ``text`` replaces it entirely, and ``files``
    maps more relative paths to their contents.
    """

    def write(
        edits: Sequence[tuple[str, str]] = (),
        *,
        append: str = "",
        text: str | None = None,
        files: dict[str, str] | None = None,
    ) -> Path:
        body = BASE_SPEC if text is None else text
        for old, new in edits:
            assert body.count(old) == 1, f"edit target {old!r} must occur exactly once"
            body = body.replace(old, new)
        for name, content in {**PROMPTS, **(files or {})}.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(content)
        spec = tmp_path / "runwell.yaml"
        spec.write_text(body + append)
        return spec

    return write


@pytest.fixture
def problems() -> Callable[[Path], list[str]]:
    """The problems ``load_spec`` reports for a path, as ``FILE:LINE: FIELD: message`` lines."""

    def collect(path: Path) -> list[str]:
        with pytest.raises(SpecError) as caught:
            load_spec(path)
        assert all(isinstance(p, SpecProblem) for p in caught.value.problems)
        return [str(p) for p in caught.value.problems]

    return collect

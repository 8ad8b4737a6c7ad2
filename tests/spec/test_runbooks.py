"""The scaffolded runbooks name only commands that exist, with options those commands accept.

A runbook step that names a command runwell does not have is worse than no step: the operator
following it at 3 a.m. loses time finding out. Every ``runwell ...`` in backticks is parsed by the
real command line (nothing runs), so a renamed verb or option fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click.core import Context
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from runwell.cli.main import app
from runwell.spec.scaffold import scaffold

_COMMAND = re.compile(r"`(runwell [^`]+)`")


def _commands(directory: Path) -> list[tuple[str, str]]:
    found = []
    for runbook in sorted((directory / "runbooks").glob("*.md")):
        text = runbook.read_text()
        for match in _COMMAND.finditer(text):
            found.append((runbook.name, " ".join(match.group(1).split())))
    return found


def _resolve(root: TyperGroup, words: list[str]) -> tuple[Any, list[str], list[str]]:
    command: Any = root
    path: list[str] = []
    while isinstance(command, TyperGroup) and words and not words[0].startswith("-"):
        sub = command.get_command(Context(command), words[0])
        assert sub is not None, f"no command 'runwell {' '.join([*path, words[0]])}'"
        path.append(words.pop(0))
        command = sub
    return command, path, words


def test_every_runbook_names_commands(tmp_path: Path) -> None:
    scaffold("helpdesk", tmp_path / "f", provider="sim")
    commands = _commands(tmp_path / "f")
    names = {name for name, _ in commands}
    assert names == {"cost-spike.md", "provider-outage.md", "quality-regression.md"}
    assert len(commands) >= 10


@pytest.mark.parametrize("provider", ["sim", "local", "openai"])
def test_every_command_in_a_scaffolded_runbook_parses(tmp_path: Path, provider: str) -> None:
    scaffold("helpdesk", tmp_path / "f", provider=provider)
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    for runbook, line in _commands(tmp_path / "f"):
        words = shlex.split(line)[1:]
        command, path, args = _resolve(root, words)
        try:
            command.make_context(f"runwell {' '.join(path)}", args)
        except UsageError as exc:  # unknown option, missing argument, bad value
            pytest.fail(f"{runbook}: `{line}` does not parse: {exc.format_message()}")

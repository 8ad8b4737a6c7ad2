"""How CLI commands print: a console that stays usable in pipes, and the shared ``--format`` option.

In a terminal, Rich fits tables and wraps text to the window. In a pipe or a CI log there is no
window: Rich then assumes 80 columns, wraps sentences in the middle of words and squeezes table
columns until ids are cut to ``key_7956…``, which a user can no longer copy into ``keys revoke``.
So when stdout (or stderr) is not a terminal, the console is made wide enough never to squeeze a
table and does not wrap lines at all; rules are drawn at a fixed width instead of the console's.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

__all__ = ["FormatOption", "JsonFlag", "OutputFormat", "echo_json", "make_console", "rule", "wants_json"]

_PIPE_WIDTH = 1000
"""Console width when not writing to a terminal: wider than any table runwell prints."""
_RULE_WIDTH = 72


class OutputFormat(StrEnum):
    """What a listing or show command prints."""

    text = "text"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="text (a table for people) or json (for scripts and jq)."),
]
"""``--format text|json``."""

JsonFlag = Annotated[bool, typer.Option("--json", hidden=True, help="Same as --format json.")]
"""``--json``: the older spelling of ``--format json``, kept so existing scripts keep working."""


def wants_json(fmt: OutputFormat, as_json: bool) -> bool:
    """Whether a command should print JSON, from ``--format`` and the ``--json`` alias."""
    return as_json or fmt is OutputFormat.json


def echo_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON on stdout."""
    typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())


def make_console(*, stderr: bool = False) -> Console:
    """A Rich console that keeps its output whole when it is not a terminal (see the module doc)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=_PIPE_WIDTH, soft_wrap=True)


def rule(console: Console, title: str) -> None:
    """A section heading line: ``── title ───…``, never wider than a normal terminal."""
    line = f"── {title} " if title else ""
    console.print(line + "─" * max(3, min(console.width, _RULE_WIDTH) - len(line)), highlight=False)

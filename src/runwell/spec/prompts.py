"""Prompt templates: parsed and compiled once at load, rendered per request by the gateway.

File formats
    A ``.yaml``/``.yml`` file is a mapping with an optional ``system:`` and an optional ``user:``
    string (at least one). Any other file (``.md``, ``.txt``, ...) is a system template as a whole.
    Trailing whitespace at the end of a template is dropped.

Placeholders
    ``{{ name }}``, where ``name`` is an identifier (letters, digits, ``_``); spaces inside the
    braces are optional. A ``{{`` that does not open a valid placeholder is an error, so a typo
    such as ``{{ input }`` cannot silently reach the model. Single braces are plain text.

Rendering — ``PromptTemplate.render(messages, variables)``
    a. When the template has a system part, the rendered system message is put first. System
       messages the client sent are kept, after it: the feature's instructions come first.
    b. When the template has a user part, the content of the LAST user message is replaced by the
       rendered user template; ``{{ input }}`` is that message's original content. The message
       must exist and have string content.
    c. ``{{ input }}`` always means the last user message, in either part. Every other placeholder
       takes its value from ``variables`` (the gateway passes the request body's top-level
       ``variables`` object). Values must be strings or numbers; numbers are written with
       ``str()``. A placeholder without a value raises :class:`~runwell.errors.RequestError`
       with ``param="variables.NAME"``; variables the template does not use are ignored.
    The input list and its dicts are not modified; a new list is returned.

Rendering is a dict lookup per placeholder and one ``str.join`` per part: no parsing, no regex.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from runwell.errors import RequestError, SpecError, SpecProblem

__all__ = ["CompiledText", "PromptTemplate", "load_template", "parse_template"]

INPUT = "input"

_PLACEHOLDER = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
_YAML_SUFFIXES = frozenset({".yaml", ".yml"})
_YAML_KEYS = ("system", "user")


@dataclass(frozen=True, slots=True)
class CompiledText:
    """One template text split into literal pieces and placeholder names.

    ``literals`` has one more item than ``names``: literal, name, literal, name, ..., literal.
    """

    literals: tuple[str, ...]
    names: tuple[str, ...]

    def fill(self, values: Mapping[str, str]) -> str:
        """The text with each placeholder replaced by ``values[name]`` (all must be present)."""
        if not self.names:
            return self.literals[0]
        pieces = [self.literals[0]]
        for name, literal in zip(self.names, self.literals[1:], strict=True):
            pieces.append(values[name])
            pieces.append(literal)
        return "".join(pieces)


def _compile(text: str, *, source: str, field: str, first_line: int) -> CompiledText:
    literals: list[str] = []
    names: list[str] = []
    problems: list[SpecProblem] = []
    pos = search = 0
    while (start := text.find("{{", search)) != -1:
        placeholder = _PLACEHOLDER.match(text, start)
        if placeholder is None and text.startswith("{", start + 2):
            search = start + 1  # "{{{ x }}": the first brace is text, the placeholder follows
            continue
        if placeholder is None:
            line = first_line + text.count("\n", 0, start)
            snippet = text[start : start + 24].split("\n", 1)[0]
            problems.append(
                SpecProblem(
                    source,
                    line,
                    field,
                    f"'{{{{' does not open a valid placeholder: {snippet!r}; "
                    "write '{{ name }}' with a name made of letters, digits and '_'",
                )
            )
            search = start + 2
            continue
        literals.append(text[pos:start])
        names.append(placeholder.group(1))
        pos = search = placeholder.end()
    literals.append(text[pos:])
    if problems:
        raise SpecError(problems)
    return CompiledText(tuple(literals), tuple(names))


def _text_value(value: Any) -> str | None:
    if type(value) is str:
        return value
    if type(value) in (int, float):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """A compiled prompt template (see the module docstring for the rendering rules).

    ``source`` is the file as the spec names it (shown to clients in errors, so it never reveals
    server paths); ``text`` the file's text; ``sha256`` the hex digest of the file's bytes.
    """

    source: str
    text: str
    sha256: str
    system: CompiledText | None
    user: CompiledText | None
    variables_used: frozenset[str]

    def render(
        self, messages: Sequence[Mapping[str, Any]], variables: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The messages to send upstream: the template applied to the client's messages."""
        out: list[dict[str, Any]] = [dict(m) for m in messages]
        values: dict[str, str] = {}
        user_at = -1
        if self.user is not None or INPUT in self.variables_used:
            user_at = self._last_user(out)
            values[INPUT] = out[user_at]["content"]
        given = variables or {}
        for name in self.variables_used:
            if name == INPUT:
                if INPUT in given:
                    raise RequestError(
                        f"variables.input is reserved: in prompt template {self.source!r} "
                        "{{ input }} is the last user message; send it as that message instead",
                        param="variables.input",
                        code="invalid_variable",
                    )
                continue
            values[name] = self._value(given, name)
        if self.user is not None:
            out[user_at]["content"] = self.user.fill(values)
        if self.system is not None:
            out.insert(0, {"role": "system", "content": self.system.fill(values)})
        return out

    def _last_user(self, messages: list[dict[str, Any]]) -> int:
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].get("role") == "user":
                if type(messages[i].get("content")) is not str:
                    raise RequestError(
                        f"prompt template {self.source!r} rewrites the last user message, "
                        "so its content must be a string, not a list of parts",
                        param=f"messages.{i}.content",
                        code="invalid_content",
                    )
                return i
        raise RequestError(
            f"prompt template {self.source!r} needs a user message (it fills {{{{ input }}}}); "
            "add one to messages",
            param="messages",
            code="missing_user_message",
        )

    def _value(self, given: Mapping[str, Any], name: str) -> str:
        if name not in given:
            raise RequestError(
                f"prompt template {self.source!r} needs variable {name!r}; send it in the "
                f'request body as "variables": {{"{name}": "..."}}',
                param=f"variables.{name}",
                code="missing_variable",
            )
        text = _text_value(given[name])
        if text is None:
            raise RequestError(
                f"variables.{name} must be a string or a number, got {type(given[name]).__name__}",
                param=f"variables.{name}",
                code="invalid_variable",
            )
        return text


def _yaml_parts(text: str, source: str) -> dict[str, tuple[str, int]]:
    """``{"system"|"user": (text, first line)}`` from a YAML template, or a SpecError."""

    def problem(line: int, field: str, message: str) -> SpecError:
        return SpecError([SpecProblem(source, line, field, message)])

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise problem(line, "<yaml>", f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise problem(1, "<yaml>", f"invalid YAML: {exc}") from None
    if not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise problem(line, "<root>", "a YAML prompt template must be a mapping with system:/user:")
    parts: dict[str, tuple[str, int]] = {}
    problems: list[SpecProblem] = []
    for key_node, value_node in root.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        if key not in _YAML_KEYS:
            problems.append(SpecProblem(source, line, key, f"unknown key {key!r}; allowed: system, user"))
        elif key in parts:
            problems.append(SpecProblem(source, line, key, f"duplicate key {key!r}; keep one"))
        elif not (isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":str")):
            problems.append(SpecProblem(source, line, key, "expected a string (use '|' for text)"))
        else:
            # Block scalars ('|', '>') start on the line after their indicator.
            first = value_node.start_mark.line + 1 + (1 if value_node.style in ("|", ">") else 0)
            parts[key] = (value_node.value, first)
    if not parts and not problems:
        problems.append(SpecProblem(source, 1, "<root>", "needs a system: or a user: template"))
    if problems:
        raise SpecError(problems)
    return parts


def parse_template(text: str, *, source: str, is_yaml: bool, digest: str = "") -> PromptTemplate:
    """Compile template ``text``; ``source`` names it in errors. Raises :class:`SpecError`."""
    parts = _yaml_parts(text, source) if is_yaml else {"system": (text, 1)}
    compiled: dict[str, CompiledText] = {}
    problems: list[SpecProblem] = []
    for field, (body, first_line) in parts.items():
        try:
            compiled[field] = _compile(body.rstrip(), source=source, field=field, first_line=first_line)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    used = frozenset(n for c in compiled.values() for n in c.names)
    return PromptTemplate(
        source=source,
        text=text,
        sha256=digest or hashlib.sha256(text.encode()).hexdigest(),
        system=compiled.get("system"),
        user=compiled.get("user"),
        variables_used=used,
    )


def load_template(path: Path, *, source: str | None = None) -> PromptTemplate:
    """Read and compile the template at ``path``; raises :class:`SpecError` naming ``path``.

    ``source`` is how the template is named to clients (default: ``path`` as given).
    """
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(
            [SpecProblem(name, 1, "<file>", f"cannot read prompt template {path}: {exc.strerror}")]
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(
            [SpecProblem(name, line, "<file>", "not UTF-8 text; save the template as UTF-8")]
        ) from None
    try:
        return parse_template(
            text,
            source=source or name,
            is_yaml=path.suffix.lower() in _YAML_SUFFIXES,
            digest=hashlib.sha256(data).hexdigest(),
        )
    except SpecError as exc:
        # Problems point at the file on disk, whatever name clients see.
        raise SpecError([replace(p, file=name) for p in exc.problems]) from None

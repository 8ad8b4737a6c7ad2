"""Load ``runwell.yaml``: parse it, validate it, and report every problem with its line.

The YAML is parsed once into PyYAML's node tree, which still knows where each key sits. From it
the loader builds a map from field paths (``variants.champion.params.temperature``) to lines, and
finds what plain YAML loading hides: duplicate keys (PyYAML silently keeps the last) and values
that look like API keys. The same tree is then constructed into plain data, validated by
:class:`~runwell.spec.models.FeatureSpec`, and each pydantic error is turned into a
``SpecProblem(file, line, field, message)``. Cross-references and files on disk are checked on the
plain data too, so one run reports everything that is wrong.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from runwell.errors import SpecError, SpecProblem
from runwell.spec.models import (
    FEATURE_NAME_PATTERN,
    PROVIDER_NAME_PATTERN,
    REFERENCE_ERROR_TYPE,
    VARIANT_NAME_PATTERN,
    FeatureSpec,
    Loc,
    Variant,
    reference_problems,
)
from runwell.spec.prompts import PromptTemplate, load_template
from runwell.spec.providers import ProviderConfig
from runwell.spec.version import prompt_version, spec_version

__all__ = ["DEFAULT_SPEC_FILE", "LoadedSpec", "load_spec"]

DEFAULT_SPEC_FILE = "runwell.yaml"

_Path = tuple[str, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_SECRET_VALUE = re.compile(
    r"\bsk-[A-Za-z0-9_-]{16,}"  # OpenAI (sk-, sk-proj-) and Anthropic (sk-ant-)
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|\bBearer\s+[A-Za-z0-9._~+/=-]{16,}"
)
_SECRET_KEY = re.compile(
    r"^(?:api[_-]?key|secret(?:[_-]key)?|(?:access|auth|bearer)[_-]?token|token|password|passwd"
    r"|authorization|x-api-key)$",
    re.IGNORECASE,
)
_ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "list_type": "a list",
}
_PATTERN_HINTS = {
    FEATURE_NAME_PATTERN: "lowercase letters, digits and '-', starting with a letter or digit, "
    "at most 63 characters",
    PROVIDER_NAME_PATTERN: "lowercase letters, digits, '_' and '-', starting with a letter or digit",
    VARIANT_NAME_PATTERN: "lowercase letters, digits, '_', '.' and '-', starting with a letter or digit",
}
_KEY_NOUNS = {"providers": "provider name", "variants": "variant name", "prices": "model name"}


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A validated spec with everything the gateway needs resolved once at load.

    ``path`` and ``base_dir`` are absolute; ``version`` is the spec's version string
    (:func:`~runwell.spec.version.spec_version`); ``prompts`` (compiled templates) and
    ``prompt_versions`` are keyed by variant name.
    """

    spec: FeatureSpec
    path: Path
    base_dir: Path
    version: str
    prompts: Mapping[str, PromptTemplate]
    prompt_versions: Mapping[str, str]
    fallback_prompts: Mapping[str, PromptTemplate] = field(default_factory=dict)
    """Each variant's ``fallback_prompt`` (semantic fallback), for the variants that have one."""

    @property
    def name(self) -> str:
        """The feature's name (what clients send as ``model``)."""
        return self.spec.feature.name

    @property
    def default_variant(self) -> str:
        """The variant served when a request names none."""
        return self.spec.default_variant_name

    def variant(self, name: str) -> Variant:
        """The named variant's spec (``KeyError`` if there is none)."""
        return self.spec.variants[name]


@dataclass(slots=True)
class _Document:
    """The parsed file: plain data, the line of every field, and problems found while parsing."""

    display: str
    data: Any
    lines: dict[_Path, int]
    problems: list[SpecProblem] = field(default_factory=list)

    def line(self, path: Loc) -> int:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        key = tuple(str(p) for p in path)
        while key not in self.lines:
            key = key[:-1]
        return self.lines[key]

    def problem(self, path: Loc, message: str) -> SpecProblem:
        """A problem at ``path``, located at its line."""
        return SpecProblem(self.display, self.line(path), _dotted(path), message)


def _dotted(path: Loc) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _fail(display: str, line: int, where: str, message: str) -> SpecError:
    return SpecError([SpecProblem(display, line, where, message)])


# --- parsing ----------------------------------------------------------------------------------


def _parse(text: str, display: str) -> _Document:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise _fail(display, 1, "<file>", "the spec is empty; start from `runwell init NAME`")
        if not isinstance(root, yaml.MappingNode):
            got = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            raise _fail(
                display,
                root.start_mark.line + 1,
                "<root>",
                f"the spec must be a mapping of sections (spec_version:, feature:, ...), got {got}",
            )
        # A missing top-level section belongs to the file as a whole: report it at line 1.
        doc = _Document(display, None, {(): 1})
        _index(root, (), doc, set())
        doc.data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, display) from None
    except yaml.YAMLError as exc:
        raise _fail(display, 1, "<yaml>", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return doc


def _yaml_error(exc: yaml.MarkedYAMLError, display: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    detail = exc.problem or exc.context or "unreadable input"
    if mark is not None:
        detail += f" (line {mark.line + 1}, column {mark.column + 1})"
    if exc.context and exc.problem and exc.context_mark is not None:
        detail += f", {exc.context} at line {exc.context_mark.line + 1}"
    return _fail(
        display,
        mark.line + 1 if mark else 1,
        "<yaml>",
        f"invalid YAML: {detail}; check the indentation, colons and quotes there",
    )


def _index(node: yaml.Node, path: _Path, doc: _Document, visited: set[int]) -> None:
    """Record the line of every field under ``node``; note duplicate keys and secrets."""
    # A node met again is an alias (``*name``): fields inside it keep the lines of the anchor's
    # copy, and skipping it keeps this walk linear even for self-referencing or nested aliases.
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            child = (*path, key)
            if key in seen:
                doc.problems.append(
                    SpecProblem(
                        doc.display,
                        line,
                        _dotted(child),
                        f"duplicate key {key!r} (first at line {seen[key]}); YAML keeps only "
                        "the last one, so merge the two or remove one",
                    )
                )
                # Lines under the discarded occurrence would point at fields that do not count.
                depth = len(child)
                for stale in [p for p in doc.lines if p[:depth] == child]:
                    del doc.lines[stale]
            seen[key] = line
            doc.lines[child] = line  # the last occurrence is the one that takes effect
            _check_secret(key, value_node, child, doc)
            _index(value_node, child, doc, visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = (*path, str(i))
            doc.lines[child] = item.start_mark.line + 1
            _check_secret("", item, child, doc)
            _index(item, child, doc, visited)


def _check_secret(key: str, node: yaml.Node, path: _Path, doc: _Document) -> None:
    if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith(":str") or not node.value:
        return
    value = node.value
    by_value = _SECRET_VALUE.search(value)
    by_key = _SECRET_KEY.match(key) and not _ENV_VAR_NAME.match(value)
    if by_value or by_key:
        # Name the kind of key by its public prefix; never repeat the secret itself.
        shown = f" ({by_value.group(0)[:3]}...)" if by_value else ""
        doc.problems.append(
            SpecProblem(
                doc.display,
                node.start_mark.line + 1,
                _dotted(path),
                f"looks like a secret written into the spec{shown}; never commit keys: "
                "put it in an environment variable (providers take api_key_env: NAME), remove it "
                "here, and rotate it if this file was ever shared",
            )
        )


# --- pydantic errors -> problems --------------------------------------------------------------


_ABSENT = object()


def _child(container: Any, elem: str | int) -> Any:
    """``container[elem]`` when that key or index exists in the data, else ``_ABSENT``."""
    if isinstance(container, dict):
        return container.get(elem, _ABSENT)
    if isinstance(container, list) and isinstance(elem, int) and 0 <= elem < len(container):
        return container[elem]
    return _ABSENT


def _data_path(loc: tuple[str | int, ...], data: Any) -> tuple[Loc, bool]:
    """The path in the file that pydantic's ``loc`` names, and whether it names a mapping key.

    pydantic adds the tag of a discriminated union (``providers.smol.local.n_ctx``) and
    ``[key]`` for errors in dict keys; neither is a field in the file.
    """
    path: list[str | int] = []
    current: Any = data
    for elem in loc:
        if elem == "[key]":
            return tuple(path), True
        child = _child(current, elem)
        if child is _ABSENT and isinstance(current, dict) and current.get("kind") == elem:
            continue
        current = None if child is _ABSENT else child
        path.append(elem)
    return tuple(path), False


def _unwrap(tp: Any, data: Any) -> Any:
    """Strip ``Annotated``/``Optional`` and pick the union member ``data`` selects."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, UnionType):
            members = [m for m in get_args(tp) if m is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            chosen = [m for m in models if _selected_by(m, data)] if len(models) > 1 else models
            if len(chosen) == 1:
                tp = chosen[0]
            elif len(members) == 1:
                tp = members[0]
            else:
                return None
        else:
            return tp


def _selected_by(model: type[BaseModel], data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    for name, info in model.model_fields.items():
        if get_origin(info.annotation) is Literal and data.get(name) in get_args(info.annotation):
            return True
    return False


def _model_at(path: Loc, data: Any) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``path``, if any."""
    tp: Any = FeatureSpec
    current: Any = data
    for elem in path:
        tp = _unwrap(tp, current)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(elem))
            if info is None:
                return None
            tp = info.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
        child = _child(current, elem)
        current = None if child is _ABSENT else child
    tp = _unwrap(tp, current)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _got(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _provider_kinds() -> str:
    members = get_args(get_args(ProviderConfig)[0])
    return ", ".join(repr(k) for m in members for k in get_args(m.model_fields["kind"].annotation))


def _message(err: Mapping[str, Any], path: Loc, is_key: bool, data: Any) -> tuple[Loc, str]:
    """A field path and a message a user can act on, for one pydantic error."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    got = _got(value)
    if is_key:
        noun = _KEY_NOUNS.get(str(path[-2]), "name") if len(path) > 1 else "name"
        hint = _PATTERN_HINTS.get(ctx.get("pattern", ""), "a non-empty name")
        return path, f"invalid {noun} {value!r}: use {hint}"
    if kind == "missing":
        parent = _dotted(path[:-1]) if len(path) > 1 else "the top level"
        return path, f"required field {path[-1]!r} is missing; add it under {parent}"
    if kind == "extra_forbidden":
        model = _model_at(path[:-1], data)
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        if close:
            return path, f"unknown key {path[-1]!r}; did you mean {close[0]!r}?"
        return path, f"unknown key {path[-1]!r}; allowed keys: {', '.join(allowed)}"
    if kind == "union_tag_invalid":
        return (
            (*path, "kind"),
            f"unknown kind {ctx.get('tag')!r}; known kinds: {ctx.get('expected_tags')}",
        )
    if kind == "union_tag_not_found":
        return (*path, "kind"), f"missing 'kind'; set it to one of {_provider_kinds()}"
    if kind in _EXPECTED:
        return path, f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "literal_error":
        return path, f"must be one of {ctx.get('expected')}, got {got}"
    if kind == "string_pattern_mismatch":
        known = _PATTERN_HINTS.get(ctx.get("pattern", ""))
        rule = f"use {known}" if known else f"it must match {ctx.get('pattern')}"
        return path, f"{value!r} is not valid here: {rule}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return path, "must not be empty"
    if kind == "too_short":
        need = ctx.get("min_length")
        return path, f"needs at least {need} entr{'y' if need == 1 else 'ies'}, got none"
    if kind in ("value_error", "assertion_error"):
        return path, str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = str(err["msg"]).replace("Input should be", "must be")
    return path, f"{msg[:1].lower()}{msg[1:]}, got {got}"


def _validate(doc: _Document) -> tuple[FeatureSpec | None, list[SpecProblem]]:
    try:
        return FeatureSpec.model_validate(doc.data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if err["type"] == REFERENCE_ERROR_TYPE:
                continue  # reported with exact fields by reference_problems()
            path, is_key = _data_path(err["loc"], doc.data)
            where, message = _message(err, path, is_key, doc.data)
            problems.append(doc.problem(where, message))
        return None, problems


# --- files the spec points at -----------------------------------------------------------------


def _referenced_files(data: Any) -> Iterator[tuple[Loc, str, str]]:
    """``(field, relative path, what it is)`` for every file the spec names."""
    variants = data.get("variants")
    for name, variant in variants.items() if isinstance(variants, dict) else ():
        for key in ("prompt", "fallback_prompt"):
            prompt = variant.get(key) if isinstance(variant, dict) else None
            if isinstance(prompt, dict) and isinstance(prompt.get("file"), str):
                yield ("variants", name, key, "file"), prompt["file"], "prompt file"
    runbooks = data.get("runbooks")
    for i, runbook in enumerate(runbooks if isinstance(runbooks, list) else ()):
        if isinstance(runbook, str):
            yield ("runbooks", i), runbook, "runbook"
    modes = data.get("failure_modes")
    for i, mode in enumerate(modes if isinstance(modes, list) else ()):
        if isinstance(mode, dict) and isinstance(mode.get("runbook"), str):
            yield ("failure_modes", i, "runbook"), mode["runbook"], "runbook"
    evals = data.get("evals")
    suites = evals.get("suites") if isinstance(evals, dict) else None
    for i, suite in enumerate(suites if isinstance(suites, list) else ()):
        if isinstance(suite, dict) and isinstance(suite.get("dataset"), str):
            yield ("evals", "suites", i, "dataset"), suite["dataset"], "eval dataset"


def _file_problems(
    doc: _Document, base_dir: Path, display_dir: Path
) -> tuple[list[SpecProblem], dict[Loc, PromptTemplate]]:
    problems: list[SpecProblem] = []
    templates: dict[Loc, PromptTemplate] = {}
    compiled: dict[Path, PromptTemplate | None] = {}
    for where, written, what in _referenced_files(doc.data):
        relative = written.strip()
        if not relative:
            continue  # an empty path is reported by validation
        resolved = (base_dir / relative).resolve()
        if not resolved.is_file():
            problems.append(
                doc.problem(
                    where,
                    f"{what} not found: {resolved} (paths are relative to the spec's directory, "
                    f"{base_dir}); create it or fix the path",
                )
            )
            continue
        if what != "prompt file":
            continue
        if resolved not in compiled:
            try:
                compiled[resolved] = load_template(display_dir / relative, source=relative)
            except SpecError as exc:
                compiled[resolved] = None
                problems.extend(exc.problems)
        template = compiled[resolved]
        if template is not None:
            templates[where] = template
    return problems, templates


# --- the entry point --------------------------------------------------------------------------


def _read(path: Path, display: str) -> bytes:
    if path.is_dir():
        raise _fail(display, 1, "<file>", f"{path.resolve()} is a directory, not a spec file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _fail(
            display,
            1,
            "<file>",
            f"spec file not found: {path.resolve()}; pass the right path or create one with "
            "`runwell init NAME`",
        ) from None
    except OSError as exc:
        raise _fail(display, 1, "<file>", f"cannot read {path.resolve()}: {exc.strerror}") from None


def _sort_key(display: str) -> Callable[[SpecProblem], tuple[bool, str, int, str]]:
    # The spec's own problems first, in file order; then those inside prompt templates.
    return lambda p: (p.file != display, p.file, p.line, p.field)


def load_spec(path: str | os.PathLike[str]) -> LoadedSpec:
    """Load and validate the spec at ``path`` (a directory means its ``runwell.yaml``).

    Raises :class:`~runwell.errors.SpecError` listing every problem found, each with its file,
    line and field. Runs ``git`` once for the spec's version; call it at start-up, not per request.
    """
    given = Path(path)
    if given.is_dir():
        given = given / DEFAULT_SPEC_FILE
    display = os.fspath(given)
    content = _read(given, display)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise _fail(display, line, "<file>", "not UTF-8 text; save the spec as UTF-8") from None

    doc = _parse(text, display)
    base_dir = given.resolve().parent
    secrets = {p.field for p in doc.problems if p.message.startswith("looks like a secret")}
    problems = list(doc.problems)
    # A secret in a field outranks whatever else is wrong with it: one clear line per field.
    spec, shape_problems = _validate(doc)
    problems += [p for p in shape_problems if p.field not in secrets]
    problems += [doc.problem(loc, msg) for loc, msg in reference_problems(doc.data)]
    file_problems, templates = _file_problems(doc, base_dir, given.parent)
    problems += file_problems
    if problems or spec is None:
        unique = list(dict.fromkeys(problems))
        raise SpecError(sorted(unique, key=_sort_key(display)))

    prompts = {name: templates[("variants", name, "prompt", "file")] for name in spec.variants}
    fallback_prompts = {
        name: templates[("variants", name, "fallback_prompt", "file")]
        for name, variant in spec.variants.items()
        if variant.fallback_prompt is not None
    }
    return LoadedSpec(
        spec=spec,
        path=given.resolve(),
        base_dir=base_dir,
        version=spec_version(given, content=content),
        prompts=prompts,
        prompt_versions={
            name: prompt_version(variant.prompt.version, prompts[name].sha256)
            for name, variant in spec.variants.items()
        },
        fallback_prompts=fallback_prompts,
    )

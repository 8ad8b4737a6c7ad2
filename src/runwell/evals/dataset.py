"""Eval datasets: load cases from JSONL, CSV or YAML into one validated, hashed shape.

A case is ``id`` + an input + optional ``reference``, ``tags`` and ``metadata``. The input is
either ``messages`` (OpenAI chat shape), ``variables`` (a dict filled into the variant's prompt
template) or a plain string ``input`` (one user message; stored as ``messages``). Examples::

    {"id": "q1", "input": "What is 2+2?", "reference": "4", "tags": ["math"]}
    {"messages": [{"role": "user", "content": "hi"}], "tags": ["lang:en", "critical"]}
    {"id": "t3", "variables": {"city": "Paris"}, "metadata": {"source": "tickets"}}

CSV uses the same column names; ``messages``, ``variables`` and ``metadata`` cells hold JSON,
``tags`` is ``a;b`` (or a JSON list), and ``var.NAME`` / ``meta.NAME`` columns fill one
variable / metadata key each. YAML is a list of cases or a mapping with a ``cases:`` list.

Every problem is reported as ``FILE:LINE: FIELD: message`` through :class:`SpecError`, all at
once, so a user fixes a file in one pass.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runwell.errors import ConfigError, SpecError, SpecProblem
from runwell.evals._readers import CASE_KEYS, FORMATS, FieldPath, Locator, read_records

__all__ = ["Case", "Dataset", "hash_cases", "load_dataset", "parse_dataset"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass(frozen=True, slots=True)
class Case:
    """One eval case. Exactly one of ``messages`` / ``variables`` is set."""

    id: str
    messages: list[dict[str, Any]] | None = None
    variables: dict[str, Any] | None = None
    reference: Any = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """The format-independent form the dataset hash is computed from."""
        return {"id": self.id, **self.content()}

    def content(self) -> dict[str, Any]:
        """Everything but the id; a case without an explicit id is named after this."""
        source = {"messages": self.messages} if self.messages is not None else {"variables": self.variables}
        return {
            "input": source,
            "reference": self.reference,
            "tags": list(self.tags),
            "metadata": self.metadata,
        }


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named, content-hashed collection of cases with unique ids."""

    name: str
    cases: tuple[Case, ...]
    content_hash: str

    @classmethod
    def from_cases(cls, name: str, cases: Sequence[Case]) -> Dataset:
        """Build a dataset from cases made in code; ids must be unique."""
        seen: set[str] = set()
        for case in cases:
            if case.id in seen:
                raise ConfigError(f"dataset {name!r}: duplicate case id {case.id!r}")
            seen.add(case.id)
        return cls(name, tuple(cases), hash_cases(cases))

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def by_id(self) -> dict[str, Case]:
        """Cases keyed by id."""
        return {case.id: case for case in self.cases}


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def hash_cases(cases: Sequence[Case]) -> str:
    """sha256 of the canonical cases, sorted by id: file format and case order do not change it."""
    body = _dumps([c.canonical() for c in sorted(cases, key=lambda c: c.id)])
    return hashlib.sha256(body.encode()).hexdigest()


def load_dataset(path: str | Path, *, name: str | None = None) -> Dataset:
    """Load a ``.jsonl``/``.ndjson``, ``.csv`` or ``.yaml``/``.yml`` file; name defaults to its stem."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: unknown dataset format {path.suffix!r}; use one of {', '.join(FORMATS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read dataset: {exc.strerror or exc}") from exc
    return parse_dataset(text, format=fmt, source=str(path), name=name or path.stem)


def parse_dataset(text: str, *, format: str, source: str, name: str) -> Dataset:
    """Parse dataset text in ``format`` (``jsonl``, ``csv`` or ``yaml``); ``source`` names it in errors."""
    if format not in ("jsonl", "csv", "yaml"):
        raise ConfigError(f"unknown dataset format {format!r}; use jsonl, csv or yaml")
    problems: list[SpecProblem] = []
    cases: list[Case] = []
    first_line: dict[str, int] = {}
    for raw, locate in read_records(format, text, source, problems):
        case = _build_case(raw, source, locate, problems)
        if case is None:
            continue
        line = locate(())
        if case.id in first_line:
            what = "case id" if "id" in raw else "case (same content, no id)"
            problems.append(
                SpecProblem(
                    source, line, "id", f"duplicate {what} {case.id!r}, first at line {first_line[case.id]}"
                )
            )
            continue
        first_line[case.id] = line
        cases.append(case)
    if problems:
        raise SpecError(problems)
    return Dataset(name, tuple(cases), hash_cases(cases))


# --- validation shared by every format -----------------------------------------------------


def _field_name(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "<case>"


def _build_case(
    raw: dict[str, Any], source: str, locate: Locator, problems: list[SpecProblem]
) -> Case | None:
    found: list[SpecProblem] = []

    def problem(path: FieldPath, message: str) -> None:
        found.append(SpecProblem(source, locate(path), _field_name(path), message))

    for key in sorted(set(map(str, raw)) - CASE_KEYS):
        problem((key,), f"unknown field; known: {', '.join(sorted(CASE_KEYS))}")
    messages, variables = _check_input(raw, problem)
    tags = _check_tags(raw.get("tags", []), problem)
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, dict):
        problem(("metadata",), "must be a mapping")
    else:
        _check_json(metadata, ("metadata",), problem)
    reference = raw.get("reference")
    _check_json(reference, ("reference",), problem)
    case_id = raw.get("id")
    if case_id is not None and (
        isinstance(case_id, bool) or not isinstance(case_id, str | int) or not str(case_id).strip()
    ):
        problem(("id",), "must be a non-empty string (or integer)")
    if found:
        problems.extend(found)
        return None
    case = Case(str(case_id), messages, variables, reference, tags, metadata)
    if case_id is None:
        # Named after its content, so that re-running the same file pairs the same cases up.
        digest = hashlib.sha256(_dumps(case.content()).encode()).hexdigest()
        case = replace(case, id=f"case-{digest[:12]}")
    return case


def _check_input(
    raw: dict[str, Any], problem: Callable[[FieldPath, str], None]
) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    given = [k for k in ("input", "messages", "variables") if k in raw]
    if len(given) != 1:
        got = f" (got {', '.join(given)})" if given else ""
        problem((), f"give exactly one of `input`, `messages`, `variables`{got}")
    messages: list[dict[str, Any]] | None = None
    variables: dict[str, Any] | None = None
    if "input" in raw:
        if isinstance(raw["input"], str):
            messages = [{"role": "user", "content": raw["input"]}]
        else:
            problem(("input",), "must be a string (one user message); use `messages` or `variables`")
    if "messages" in raw:
        messages = _check_messages(raw["messages"], problem)
    if "variables" in raw:
        if isinstance(raw["variables"], dict) and all(isinstance(k, str) for k in raw["variables"]):
            variables = raw["variables"]
            _check_json(variables, ("variables",), problem)
        else:
            problem(("variables",), "must be a mapping of template variable names to values")
    return messages, variables


def _check_messages(value: Any, problem: Callable[[FieldPath, str], None]) -> list[dict[str, Any]] | None:
    if not isinstance(value, list) or not value:
        problem(("messages",), "must be a non-empty list of {role, content} messages")
        return None
    ok = True
    for i, msg in enumerate(value):
        if not isinstance(msg, dict):
            problem(("messages", i), "must be a mapping with `role` and `content`")
            ok = False
            continue
        if msg.get("role") not in _ROLES:
            problem(
                ("messages", i, "role"),
                f"must be one of {', '.join(sorted(_ROLES))}, got {msg.get('role')!r}",
            )
            ok = False
        content = msg.get("content")
        # OpenAI allows content parts (a list) and a null content on assistant tool-call turns.
        if not (isinstance(content, str | list) or (content is None and msg.get("role") == "assistant")):
            problem(("messages", i, "content"), "must be a string (or a list of content parts)")
            ok = False
        _check_json(msg, ("messages", i), problem)
    return value if ok else None


def _check_tags(value: Any, problem: Callable[[FieldPath, str], None]) -> tuple[str, ...]:
    if not isinstance(value, list):
        problem(("tags",), "must be a list of strings")
        return ()
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip():
            problem(("tags", i), f"must be a non-empty string, got {tag!r}")
    return tuple(t for t in value if isinstance(t, str))


def _check_json(value: Any, path: FieldPath, problem: Callable[[FieldPath, str], None]) -> None:
    """Cases must be plain JSON so that they hash the same from every format."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            problem(path, f"must be a finite number, got {value!r}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, (*path, i), problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                problem(path, f"keys must be strings, got {key!r}")
            else:
                _check_json(item, (*path, key), problem)
    else:
        problem(path, f"must be a JSON value, got {type(value).__name__} (quote it in YAML)")

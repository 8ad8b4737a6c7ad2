"""Format readers for eval datasets: JSONL, CSV and YAML into raw case dicts with line numbers.

Each reader yields ``(raw case dict, locator)`` pairs and appends syntax problems (bad JSON,
a ragged CSV row, a YAML parse error) to the list it is given; ``runwell.evals.dataset``
validates the raw dicts. A locator maps a path inside a case, such as ``("messages", 1,
"role")``, to the file line to report: the record's line for JSONL and CSV (a CSV record
starts on the line after the previous one ended, since quoted cells may span lines), the
value's own line for YAML.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

import yaml

from runwell.errors import SpecProblem

__all__ = ["CASE_KEYS", "FORMATS", "FieldPath", "Locator", "read_records"]

CASE_KEYS = frozenset({"id", "input", "messages", "variables", "reference", "tags", "metadata"})
FORMATS: Mapping[str, str] = MappingProxyType(
    {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}
)
"""File suffix -> format name."""

FieldPath = tuple[str | int, ...]
"""A path inside one raw case, e.g. ``("messages", 1, "role")``."""
Locator = Callable[[FieldPath], int]
"""Maps a path inside a case to the file line to report."""
_Records = Iterator[tuple[dict[str, Any], Locator]]


def read_records(fmt: str, text: str, source: str, problems: list[SpecProblem]) -> _Records:
    """Raw case dicts of ``text`` in format ``fmt`` (``jsonl``, ``csv`` or ``yaml``)."""
    readers = {"jsonl": _read_jsonl, "csv": _read_csv, "yaml": _read_yaml}
    return readers[fmt](text, source, problems)


def _read_jsonl(text: str, source: str, problems: list[SpecProblem]) -> _Records:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                SpecProblem(source, lineno, "<json>", f"invalid JSON: {exc.msg} at column {exc.colno}")
            )
            continue
        if not isinstance(raw, dict):
            problems.append(SpecProblem(source, lineno, "<case>", "each line must be a JSON object"))
            continue
        yield raw, _whole_record(lineno)


_CSV_JSON_CELLS = frozenset({"messages", "variables", "metadata"})


def _read_csv(text: str, source: str, problems: list[SpecProblem]) -> _Records:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    bad = [c for c in header if c not in CASE_KEYS and not c.startswith(("var.", "meta."))]
    for column in bad:
        problems.append(
            SpecProblem(
                source,
                1,
                column,
                f"unknown column; known: {', '.join(sorted(CASE_KEYS))}, var.NAME, meta.NAME",
            )
        )
    for column in {c for c in header if header.count(c) > 1}:
        problems.append(SpecProblem(source, 1, column, "column appears more than once"))
    if bad or len(set(header)) != len(header):
        return
    end_of_previous = reader.line_num
    for row in reader:
        # A quoted cell may span lines; the record starts right after the previous one ended.
        lineno, end_of_previous = end_of_previous + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                SpecProblem(source, lineno, "<row>", f"row has {len(row)} cells, header has {len(header)}")
            )
            continue
        raw = _csv_row_to_raw(dict(zip(header, row, strict=True)), source, lineno, problems)
        if raw is not None:
            yield raw, _whole_record(lineno)


def _csv_row_to_raw(
    cells: dict[str, str], source: str, lineno: int, problems: list[SpecProblem]
) -> dict[str, Any] | None:
    raw: dict[str, Any] = {}
    ok = True
    for column, cell in cells.items():
        if cell == "":
            continue  # an empty cell means "not given", as a missing key does in JSONL
        if column in _CSV_JSON_CELLS or (column == "tags" and cell.lstrip().startswith("[")):
            try:
                raw[column] = json.loads(cell)
            except json.JSONDecodeError as exc:
                problems.append(SpecProblem(source, lineno, column, f"cell must hold JSON: {exc.msg}"))
                ok = False
        elif column == "tags":
            raw["tags"] = [t.strip() for t in re.split(r"[;,]", cell) if t.strip()]
        elif column.startswith(("var.", "meta.")):
            prefix, key = column.split(".", 1)
            target = "variables" if prefix == "var" else "metadata"
            if target in cells and cells[target] != "":
                problems.append(
                    SpecProblem(
                        source, lineno, column, f"give either a {target} cell or {prefix}.* cells, not both"
                    )
                )
                ok = False
            raw.setdefault(target, {})[key] = cell
        else:
            raw[column] = cell
    return raw if ok else None


def _read_yaml(text: str, source: str, problems: list[SpecProblem]) -> _Records:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problems.append(SpecProblem(source, mark.line + 1 if mark else 1, "<yaml>", str(exc.problem or exc)))
        return
    finally:
        loader.dispose()
    if node is None:
        return
    items_node: yaml.Node = node
    items = data
    if isinstance(data, dict) and isinstance(node, yaml.MappingNode):
        top = node.start_mark.line + 1
        for key in sorted(map(str, set(data) - {"cases"})):
            problems.append(SpecProblem(source, top, key, "unknown top-level key; the only one is `cases:`"))
        found = [value for key, value in node.value if key.value == "cases"]
        if not found:
            problems.append(SpecProblem(source, top, "cases", "missing: the list of cases"))
            return
        items_node, items = found[0], data["cases"]
    if not isinstance(items, list) or not isinstance(items_node, yaml.SequenceNode):
        problems.append(
            SpecProblem(source, items_node.start_mark.line + 1, "cases", "must be a list of cases")
        )
        return
    for case_node, raw in zip(items_node.value, items, strict=True):
        if not isinstance(raw, dict):
            problems.append(
                SpecProblem(source, case_node.start_mark.line + 1, "<case>", "each case must be a mapping")
            )
            continue
        lines: dict[FieldPath, int] = {}
        _index_lines(case_node, (), lines)
        yield raw, _longest_prefix_locator(lines)


def _index_lines(node: yaml.Node, path: FieldPath, out: dict[FieldPath, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _index_lines(value, (*path, str(key.value)), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out)


def _longest_prefix_locator(lines: dict[FieldPath, int]) -> Locator:
    def locate(path: FieldPath) -> int:
        while path not in lines:
            path = path[:-1]
        return lines[path]

    return locate


def _whole_record(lineno: int) -> Locator:
    """JSONL and CSV: every field of a record is reported on the record's line."""

    def locate(_path: FieldPath) -> int:
        return lineno

    return locate

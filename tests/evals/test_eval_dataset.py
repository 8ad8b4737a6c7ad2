"""Loading eval datasets from JSONL, CSV and YAML: one shape, one hash, errors with FILE:LINE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runwell.errors import ConfigError, SpecError
from runwell.evals import Case, Dataset, load_dataset, parse_dataset

JSONL = "\n".join(
    json.dumps(row)
    for row in [
        {"id": "q1", "input": "What is 2+2?", "reference": "4", "tags": ["math", "critical"]},
        {
            "id": "q2",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        },
        {"id": "q3", "variables": {"city": "Paris"}, "metadata": {"source": "tickets"}, "tags": ["lang:fr"]},
    ]
)

CSV = """id,input,messages,var.city,reference,tags,meta.source
q1,What is 2+2?,,,4,math;critical,
q2,,"[{""role"": ""system"", ""content"": ""Be brief.""}, {""role"": ""user"", ""content"": ""Hi""}]",,,,
q3,,,Paris,,lang:fr,tickets
"""

YAML = """
cases:
  - id: q1
    input: What is 2+2?
    reference: "4"
    tags: [math, critical]
  - id: q2
    messages:
      - {role: system, content: Be brief.}
      - {role: user, content: Hi}
  - id: q3
    variables: {city: Paris}
    tags: [lang:fr]
    metadata: {source: tickets}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(excinfo: pytest.ExceptionInfo[SpecError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


def test_jsonl_cases_have_one_shape(tmp_path: Path) -> None:
    ds = load_dataset(write(tmp_path, "smoke.jsonl", JSONL))
    q1, q2, q3 = ds.cases
    assert ds.name == "smoke" and len(ds) == 3
    assert q1.messages == [{"role": "user", "content": "What is 2+2?"}]
    assert q1.reference == "4" and q1.tags == ("math", "critical")
    assert q2.messages is not None and q2.messages[0]["role"] == "system" and q2.variables is None
    assert q3.variables == {"city": "Paris"} and q3.messages is None and q3.metadata == {"source": "tickets"}


def test_the_same_content_hashes_the_same_in_every_format(tmp_path: Path) -> None:
    hashes = {
        load_dataset(write(tmp_path, "a.jsonl", JSONL)).content_hash,
        load_dataset(write(tmp_path, "a.csv", CSV)).content_hash,
        load_dataset(write(tmp_path, "a.yaml", YAML)).content_hash,
    }
    assert len(hashes) == 1
    assert len(next(iter(hashes))) == 64


def test_case_order_does_not_change_the_hash_but_content_does(tmp_path: Path) -> None:
    lines = JSONL.splitlines()
    original = load_dataset(write(tmp_path, "a.jsonl", JSONL)).content_hash
    reordered = load_dataset(write(tmp_path, "b.jsonl", "\n".join(reversed(lines)))).content_hash
    edited = load_dataset(write(tmp_path, "c.jsonl", JSONL.replace('"4"', '"5"'))).content_hash
    assert reordered == original
    assert edited != original


def test_cases_without_id_get_a_stable_content_id(tmp_path: Path) -> None:
    text = '{"input": "hello"}\n{"input": "bye"}\n'
    first = load_dataset(write(tmp_path, "a.jsonl", text))
    again = load_dataset(write(tmp_path, "b.jsonl", text))
    assert [c.id for c in first] == [c.id for c in again]
    assert all(c.id.startswith("case-") for c in first)
    assert first.cases[0].id != first.cases[1].id


def test_csv_tags_accept_a_json_list_and_cells_may_span_lines(tmp_path: Path) -> None:
    text = 'id,input,tags\nq1,"line one\nline two","[""a"", ""b""]"\nq2,plain,x\n'
    ds = load_dataset(write(tmp_path, "a.csv", text))
    assert ds.cases[0].messages == [{"role": "user", "content": "line one\nline two"}]
    assert ds.cases[0].tags == ("a", "b")
    assert ds.cases[1].tags == ("x",)


def test_jsonl_errors_name_file_line_and_field(tmp_path: Path) -> None:
    text = "\n".join(
        [
            '{"id": "ok", "input": "fine"}',
            '{"id": "bad-json", "input": }',
            '{"id": "r", "messages": [{"role": "robot", "content": "x"}]}',
            '{"id": "t", "input": "x", "tags": ["ok", 3]}',
            '{"id": "none"}',
            '{"id": "u", "input": "x", "colour": "red"}',
            "[1, 2]",
        ]
    )
    path = write(tmp_path, "cases.jsonl", text)
    with pytest.raises(SpecError) as excinfo:
        load_dataset(path)
    got = problems_of(excinfo)
    assert got[0].startswith(f"{path}:2: <json>: invalid JSON")
    assert f"{path}:3: messages[0].role: must be one of" in got[1]
    assert f"{path}:4: tags[1]: must be a non-empty string" in got[2]
    assert f"{path}:5: <case>: give exactly one of `input`, `messages`, `variables`" in got[3]
    assert got[4].startswith(f"{path}:6: colour: unknown field")
    assert got[5] == f"{path}:7: <case>: each line must be a JSON object"


def test_duplicate_ids_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    text = '{"id": "a", "input": "x"}\n{"id": "b", "input": "y"}\n{"id": "a", "input": "z"}\n'
    with pytest.raises(SpecError) as excinfo:
        load_dataset(write(tmp_path, "d.jsonl", text))
    (problem,) = excinfo.value.problems
    assert (problem.line, problem.field) == (3, "id")
    assert "duplicate case id 'a', first at line 1" in problem.message


def test_csv_errors_count_the_header_as_line_one(tmp_path: Path) -> None:
    text = 'id,input,messages\nq1,hi,\nq2,,"[not json"\nq3,a\n'
    path = write(tmp_path, "d.csv", text)
    with pytest.raises(SpecError) as excinfo:
        load_dataset(path)
    got = problems_of(excinfo)
    assert got[0].startswith(f"{path}:3: messages: cell must hold JSON")
    assert got[1] == f"{path}:4: <row>: row has 2 cells, header has 3"


def test_csv_unknown_column_is_reported_on_the_header(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as excinfo:
        load_dataset(write(tmp_path, "d.csv", "id,prompt\nq1,hi\n"))
    (problem,) = excinfo.value.problems
    assert (problem.line, problem.field) == (1, "prompt")


def test_yaml_errors_point_at_the_offending_value(tmp_path: Path) -> None:
    text = """cases:
  - id: a
    input: fine
  - id: b
    messages:
      - role: user
        content: hi
      - role: wizard
        content: hello
  - id: c
    input: x
    metadata:
      when: 2024-01-01
"""
    path = write(tmp_path, "d.yaml", text)
    with pytest.raises(SpecError) as excinfo:
        load_dataset(path)
    got = problems_of(excinfo)
    assert got[0].startswith(f"{path}:8: messages[1].role: must be one of")
    assert got[1].startswith(f"{path}:13: metadata.when: must be a JSON value, got date")


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as excinfo:
        load_dataset(write(tmp_path, "d.yaml", "cases:\n  - id: a\n    input: [unclosed\n"))
    (problem,) = excinfo.value.problems
    assert problem.field == "<yaml>" and problem.line >= 3


def test_yaml_top_level_must_hold_cases(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as excinfo:
        load_dataset(write(tmp_path, "d.yaml", "items: []\n"))
    assert {p.field for p in excinfo.value.problems} == {"items", "cases"}


def test_unknown_extension_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset format '\.txt'"):
        load_dataset(write(tmp_path, "d.txt", ""))
    with pytest.raises(ConfigError, match="cannot read dataset"):
        load_dataset(tmp_path / "missing.jsonl")


def test_assistant_tool_call_turns_may_have_null_content() -> None:
    row = {
        "id": "t",
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
            {"role": "tool", "tool_call_id": "1", "content": "sunny"},
        ],
    }
    ds = parse_dataset(json.dumps(row), format="jsonl", source="mem", name="m")
    assert ds.cases[0].messages is not None and len(ds.cases[0].messages) == 3


def test_from_cases_hashes_and_refuses_duplicates() -> None:
    cases = [Case("a", messages=[{"role": "user", "content": "x"}]), Case("b", variables={"k": 1})]
    ds = Dataset.from_cases("mem", cases)
    assert ds.by_id()["b"].variables == {"k": 1}
    assert (
        ds.content_hash
        == parse_dataset(
            '{"id": "b", "variables": {"k": 1}}\n{"id": "a", "input": "x"}',
            format="jsonl",
            source="m",
            name="m",
        ).content_hash
    )
    with pytest.raises(ConfigError, match="duplicate case id 'a'"):
        Dataset.from_cases("mem", [cases[0], cases[0]])

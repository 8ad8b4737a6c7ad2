"""Prompt templates: parsing, compile errors, and the rendering rules the gateway relies on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runwell.errors import RequestError, SpecError
from runwell.spec import PromptTemplate, load_template, parse_template


def yaml_template(text: str) -> PromptTemplate:
    return parse_template(text, source="prompts/t.yaml", is_yaml=True)


def text_template(text: str) -> PromptTemplate:
    return parse_template(text, source="prompts/t.md", is_yaml=False)


# --- parsing ----------------------------------------------------------------------------------


def test_markdown_file_is_one_system_template(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text("You help {{ team }} with {{team}} tickets.\n\n")
    template = load_template(path, source="prompts/t.md")
    assert template.user is None and template.system is not None
    assert template.variables_used == {"team"}
    assert template.source == "prompts/t.md"
    assert template.text == "You help {{ team }} with {{team}} tickets.\n\n"
    assert template.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    rendered = template.render([{"role": "user", "content": "hi"}], {"team": "billing"})
    # Trailing whitespace at the end of a template is dropped.
    assert rendered[0] == {"role": "system", "content": "You help billing with billing tickets."}


def test_yaml_file_has_system_and_user_parts() -> None:
    template = yaml_template("system: |\n  Be {{ tone }}.\nuser: 'Q: {{ input }}'\n")
    assert template.system is not None and template.user is not None
    assert template.variables_used == {"tone", "input"}


def test_yaml_with_only_a_user_part() -> None:
    template = yaml_template("user: 'Q: {{ input }}'\n")
    assert template.system is None
    assert template.render([{"role": "user", "content": "x"}]) == [{"role": "user", "content": "Q: x"}]


def test_single_braces_and_json_are_plain_text() -> None:
    template = text_template('Answer as JSON like {"a": {"b": 1}} for {{ name }}.')
    assert template.variables_used == {"name"}
    assert template.render([], {"name": "n"})[0]["content"] == 'Answer as JSON like {"a": {"b": 1}} for n.'


def test_triple_brace_keeps_the_outer_brace_as_text() -> None:
    assert text_template("{{{ x }}}").render([], {"x": "1"})[0]["content"] == "{1}"


@pytest.mark.parametrize(
    ("text", "line", "snippet"),
    [
        ("ok\n{{ user.name }}", 2, "'{{ user.name }}'"),
        ("{{ input }", 1, "'{{ input }'"),
        ("a\nb\nc {{ 1x }}", 3, "'{{ 1x }}'"),
    ],
)
def test_malformed_placeholder_is_a_spec_problem_with_its_line(text: str, line: int, snippet: str) -> None:
    with pytest.raises(SpecError) as caught:
        text_template(text)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("prompts/t.md", line, "system")
    assert f"does not open a valid placeholder: {snippet}" in problem.message


def test_malformed_placeholder_in_a_yaml_block_reports_the_file_line() -> None:
    text = "system: |\n  line two\n  line three {{ bad-name }}\nuser: '{{ input }}'\n"
    with pytest.raises(SpecError) as caught:
        yaml_template(text)
    assert [(p.line, p.field) for p in caught.value.problems] == [(3, "system")]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("system: a\nsystm: b\n", 2, "systm", "unknown key 'systm'; allowed: system, user"),
        ("system: a\nsystem: b\n", 2, "system", "duplicate key 'system'; keep one"),
        ("user: [a, b]\n", 1, "user", "expected a string (use '|' for text)"),
        ("- a\n", 1, "<root>", "a YAML prompt template must be a mapping with system:/user:"),
        ("system: 'unclosed\n", 2, "<yaml>", "invalid YAML: "),
    ],
)
def test_bad_yaml_templates(text: str, line: int, field: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        yaml_template(text)
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (line, field)
    assert problem.message.startswith(message)


def test_load_template_reports_problems_against_the_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text("{{ oops")
    with pytest.raises(SpecError) as caught:
        load_template(path, source="prompts/t.md")
    assert caught.value.problems[0].file == str(path)


# --- rendering --------------------------------------------------------------------------------

CHAT = yaml_template("system: 'You are {{ persona }}.'\nuser: 'Ticket: {{ input }}'\n")


def test_template_system_comes_first_and_client_system_is_kept_after_it() -> None:
    messages = [
        {"role": "system", "content": "Client rules."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "second"},
    ]
    assert CHAT.render(messages, {"persona": "a support agent"}) == [
        {"role": "system", "content": "You are a support agent."},
        {"role": "system", "content": "Client rules."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "Ticket: second"},  # only the LAST user message is rewritten
    ]


def test_render_does_not_modify_its_inputs() -> None:
    messages = [{"role": "user", "content": "hello"}]
    variables = {"persona": "p"}
    CHAT.render(messages, variables)
    assert messages == [{"role": "user", "content": "hello"}]
    assert variables == {"persona": "p"}


def test_extra_fields_of_the_rewritten_message_are_kept() -> None:
    rendered = CHAT.render([{"role": "user", "content": "x", "name": "ada"}], {"persona": "p"})
    assert rendered[-1] == {"role": "user", "content": "Ticket: x", "name": "ada"}


def test_missing_variable_names_the_variable_and_the_template() -> None:
    with pytest.raises(RequestError) as caught:
        CHAT.render([{"role": "user", "content": "x"}], {"other": "unused"})
    assert caught.value.param == "variables.persona"
    assert caught.value.code == "missing_variable"
    assert "'persona'" in caught.value.message and "prompts/t.yaml" in caught.value.message


def test_no_variables_at_all_is_a_missing_variable() -> None:
    with pytest.raises(RequestError) as caught:
        CHAT.render([{"role": "user", "content": "x"}], None)
    assert caught.value.param == "variables.persona"


def test_numbers_are_accepted_and_other_values_refused() -> None:
    assert CHAT.render([{"role": "user", "content": "x"}], {"persona": 7})[0]["content"] == "You are 7."
    for bad in (True, None, ["a"], {"a": 1}):
        with pytest.raises(RequestError) as caught:
            CHAT.render([{"role": "user", "content": "x"}], {"persona": bad})
        assert caught.value.param == "variables.persona"
        assert caught.value.code == "invalid_variable"


def test_input_is_reserved_for_the_user_message() -> None:
    with pytest.raises(RequestError) as caught:
        CHAT.render([{"role": "user", "content": "x"}], {"persona": "p", "input": "y"})
    assert caught.value.param == "variables.input"


def test_a_user_template_needs_a_user_message_with_string_content() -> None:
    with pytest.raises(RequestError) as caught:
        CHAT.render([{"role": "system", "content": "only"}], {"persona": "p"})
    assert caught.value.param == "messages"
    parts = [{"type": "text", "text": "hi"}]
    with pytest.raises(RequestError) as caught:
        CHAT.render([{"role": "user", "content": parts}], {"persona": "p"})
    assert caught.value.param == "messages.0.content"


def test_system_only_template_leaves_user_messages_alone() -> None:
    template = text_template("Be brief.")
    parts = [{"type": "text", "text": "hi"}]
    assert template.render([{"role": "user", "content": parts}]) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": parts},
    ]


def test_input_in_a_system_template_is_the_last_user_message() -> None:
    template = text_template("Classify: {{ input }}")
    rendered = template.render([{"role": "user", "content": "refund please"}])
    assert rendered == [
        {"role": "system", "content": "Classify: refund please"},
        {"role": "user", "content": "refund please"},
    ]

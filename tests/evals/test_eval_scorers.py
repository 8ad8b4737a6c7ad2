"""Every built-in scorer, its config errors, and the injected embedder and judge seams."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from runwell.errors import ConfigError
from runwell.evals import Case, Score, Scorer, build_scorer, canary_leaked, scorer_types


def case(reference: Any = None, **metadata: Any) -> Case:
    return Case("c1", messages=[{"role": "user", "content": "q?"}], reference=reference, metadata=metadata)


async def score(config: dict[str, Any], output: str, reference: Any = None, **kwargs: Any) -> Score:
    scorer = build_scorer(config, **kwargs)
    assert isinstance(scorer, Scorer)
    return await scorer.score(case(reference), output)


async def test_exact_strips_and_optionally_ignores_case() -> None:
    assert (await score({"type": "exact"}, "  Paris\n", "Paris")) == Score(1.0, True)
    assert (await score({"type": "exact"}, "paris", "Paris")).passed is False
    assert (await score({"type": "exact", "case_sensitive": False}, "PARIS", "paris")).passed is True


async def test_exact_without_reference_says_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="needs a reference, but case 'c1' has none"):
        await score({"type": "exact"}, "x")


async def test_contains_reference_value_all_any() -> None:
    assert (await score({"type": "contains"}, "The capital is Paris.", "Paris")).passed is True
    result = await score({"type": "contains", "all": ["refund", "7 days", "receipt"]}, "Refund within 7 days")
    assert (
        result.value == pytest.approx(1 / 3) and result.passed is False and "refund" in (result.detail or "")
    )
    folded = {"type": "contains", "all": ["refund", "7 days"], "case_sensitive": False}
    assert (await score(folded, "Refund within 7 days")).passed is True
    assert (await score({"type": "contains", "any": ["cat", "dog"]}, "a dog")).value == 1.0
    assert (await score({"type": "contains", "value": "zebra"}, "a dog")).passed is False


async def test_contains_rejects_two_needle_options() -> None:
    with pytest.raises(ConfigError, match="give one of value/all/any"):
        build_scorer({"type": "contains", "all": ["a"], "any": ["b"]})


async def test_regex_search_and_full_match() -> None:
    date = {"type": "regex", "pattern": r"\d{4}-\d{2}-\d{2}"}
    assert (await score(date, "It is 2024-05-01.")).passed is True
    assert (await score({**date, "full_match": True}, "It is 2024-05-01.")).passed is False
    assert (await score({**date, "full_match": True}, " 2024-05-01\n")).passed is True
    assert (await score({"type": "regex", "pattern": "yes", "ignore_case": True}, "YES")).passed is True


def test_regex_bad_pattern_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"pattern '\(unclosed' does not compile"):
        build_scorer({"type": "regex", "pattern": "(unclosed"})


SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "minLength": 1, "maxLength": 20},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "label": {"enum": ["billing", "shipping"]},
        "sources": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["answer", "label"],
    "additionalProperties": False,
}


async def test_json_schema_accepts_valid_output_even_in_a_code_fence() -> None:
    doc = {"answer": "ok", "confidence": 0.5, "label": "billing", "sources": [1, 2]}
    assert (await score({"type": "json_schema", "schema": SCHEMA}, json.dumps(doc))).passed is True
    fenced = f"```json\n{json.dumps(doc)}\n```"
    assert (await score({"type": "json_schema", "schema": SCHEMA}, fenced)).passed is True


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"label": "billing"}, "missing required property 'answer'"),
        ({"answer": "", "label": "billing"}, "$.answer: length 0 is below minLength 1"),
        ({"answer": "x" * 21, "label": "billing"}, "above maxLength 20"),
        ({"answer": "a", "label": "other"}, "$.label: 'other' is not one of"),
        ({"answer": "a", "label": "billing", "confidence": 1.5}, "$.confidence: 1.5 must be <= 1"),
        ({"answer": "a", "label": "billing", "confidence": -1}, "must be >= 0"),
        (
            {"answer": "a", "label": "billing", "sources": [1, "2"]},
            "$.sources[1]: expected integer, got string",
        ),
        ({"answer": "a", "label": "billing", "extra": 1}, "property 'extra' is not allowed"),
        ({"answer": True, "label": "billing"}, "$.answer: expected string, got boolean"),
        ([], "$: expected object, got array"),
    ],
)
async def test_json_schema_reports_each_violation(doc: Any, message: str) -> None:
    result = await score({"type": "json_schema", "schema": SCHEMA}, json.dumps(doc))
    assert result.passed is False and result.value == 0.0
    assert message in (result.detail or "")


async def test_json_schema_non_json_output_fails_with_the_parse_error() -> None:
    result = await score({"type": "json_schema", "schema": SCHEMA}, "Sure! {answer: 1}")
    assert result.passed is False and "output is not JSON" in (result.detail or "")


def test_json_schema_refuses_keywords_it_would_not_enforce() -> None:
    with pytest.raises(ConfigError, match="keyword 'oneOf' is not supported"):
        build_scorer({"type": "json_schema", "schema": {"oneOf": [{"type": "string"}]}})
    with pytest.raises(ConfigError, match="unknown type 'str'"):
        build_scorer(
            {"type": "json_schema", "schema": {"type": "object", "properties": {"a": {"type": "str"}}}}
        )


async def test_numeric_parses_first_number_with_tolerance() -> None:
    assert (await score({"type": "numeric"}, "The total is 1,234.50 EUR", "1234.5")).passed is True
    assert (await score({"type": "numeric", "abs_tol": 0.01}, "about 3.14159", 3.14)).passed is True
    assert (await score({"type": "numeric"}, "about 3.14159", 3.14)).passed is False
    assert (await score({"type": "numeric", "rel_tol": 0.1}, "-95", -100)).passed is True
    missing = await score({"type": "numeric"}, "no idea", "4")
    assert missing.passed is False and missing.detail == "no number in output"


class FakeEmbedder:
    """Maps known texts to fixed vectors."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.calls: list[list[str]] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self.vectors[t] for t in texts]


async def test_semantic_uses_cosine_similarity_of_the_embedder() -> None:
    embedder = FakeEmbedder(
        {"ref": [1.0, 0.0], "close": [0.9, 0.1], "far": [0.0, 1.0], "opposite": [-1.0, 0.0]}
    )
    close = await score({"type": "semantic", "threshold": 0.9}, "close", "ref", embedder=embedder)
    assert close.passed is True and close.value == pytest.approx(0.9 / (0.82**0.5))
    far = await score({"type": "semantic"}, "far", "ref", embedder=embedder)
    assert far.passed is False and far.value == 0.0
    assert (await score({"type": "semantic"}, "opposite", "ref", embedder=embedder)).value == 0.0
    assert embedder.calls[0] == ["close", "ref"]


def test_semantic_and_judge_need_their_dependency() -> None:
    with pytest.raises(ConfigError, match="needs an embedder"):
        build_scorer({"type": "semantic"})
    with pytest.raises(ConfigError, match="needs a judge model"):
        build_scorer({"type": "llm_judge", "rubric": "polite?"})


class FakeJudge:
    """Returns a scripted reply and records the messages it was sent."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.seen: list[list[dict[str, str]]] = []

    async def __call__(self, messages: list[dict[str, str]]) -> str:
        self.seen.append(messages)
        return self.reply


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"score": 0.8, "pass": true, "reason": "polite"}', Score(0.8, True, "polite")),
        (
            'Here you go:\n```json\n{"score": "0.3", "pass": "false", "reason": "rude"}\n```',
            Score(0.3, False, "rude"),
        ),
        ('I think {"note": 1} then {"score": 0.7}', Score(0.7, True, None)),
        ('{"score": 0.2, "reason": "meh"}', Score(0.2, False, "meh")),
    ],
)
async def test_llm_judge_parses_structured_verdicts(reply: str, expected: Score) -> None:
    judge = FakeJudge(reply)
    result = await score(
        {"type": "llm_judge", "rubric": "Is it polite?"}, "Thanks!", "Thank you", judge=judge
    )
    assert result == expected
    system, user = judge.seen[0]
    assert system["role"] == "system" and '"score"' in system["content"]
    assert (
        "Is it polite?" in user["content"] and "Thanks!" in user["content"] and "Thank you" in user["content"]
    )


@pytest.mark.parametrize("reply", ["I'd give it a 7/10", '{"score": 7}', '{"score": "high"}', ""])
async def test_llm_judge_unparsable_output_scores_zero_and_says_so(reply: str) -> None:
    result = await score({"type": "llm_judge", "rubric": "r"}, "out", judge=FakeJudge(reply))
    assert result.value == 0.0 and result.passed is False
    assert (result.detail or "").startswith("judge output unparsable")


@pytest.fixture
def scoring_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_scoring.py").write_text(
        textwrap.dedent(
            """
            from runwell.evals import Score

            def length_ok(case, output, limit=10):
                return len(output) <= limit

            async def half(case, output):
                return 0.5

            def detailed(case, output):
                return Score(0.25, False, "too vague")

            def broken(case, output):
                return 3

            NOT_CALLABLE = 1
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_scoring"


async def test_custom_scorer_sync_async_and_every_return_type(scoring_module: str) -> None:
    path = f"{scoring_module}:length_ok"
    assert (await score({"type": "custom", "import_path": path}, "short")) == Score(1.0, True)
    assert (
        await score({"type": "custom", "import_path": path, "options": {"limit": 2}}, "short")
    ).passed is False
    assert (await score({"type": "custom", "import_path": f"{scoring_module}:half"}, "x")) == Score(0.5)
    assert (
        await score({"type": "custom", "import_path": f"{scoring_module}:detailed"}, "x")
    ).detail == "too vague"
    with pytest.raises(ConfigError, match="returned 3; return a float in"):
        await score({"type": "custom", "import_path": f"{scoring_module}:broken"}, "x")


@pytest.mark.parametrize(
    ("import_path", "message"),
    [
        ("no_colon", "must look like 'package.module:function'"),
        ("surely_missing_module_xyz:f", "cannot import module"),
        ("my_scoring:nope", "has no 'nope'"),
        ("my_scoring:NOT_CALLABLE", "is not callable"),
    ],
)
def test_custom_scorer_import_errors(scoring_module: str, import_path: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_scorer({"type": "custom", "import_path": import_path})


async def test_canary_scorer_fails_when_the_token_leaks() -> None:
    scorer = build_scorer({"type": "canary"})
    leaked = await scorer.score(case(canary="CANARY-7F3A9C"), "sure: canary-7f3a9c")
    assert leaked.passed is False and "CANARY-7F3A9C leaked" in (leaked.detail or "")
    assert (await scorer.score(case(canary="CANARY-7F3A9C"), "I can't help with that.")).passed is True
    with pytest.raises(ConfigError, match=r"no metadata\.canary"):
        await scorer.score(case(), "x")


def test_canary_detection_ignores_zero_width_characters_and_case() -> None:
    assert canary_leaked("C\u200bANARY-7F\u200d3A9C", "CANARY-7F3A9C")
    assert canary_leaked("xx canary-7f3a9c yy", "CANARY-7F3A9C")
    # Behaviour change (issue 12): five of the six characters after CANARY- is a leak in part.
    assert canary_leaked("CANARY-7F3A9", "CANARY-7F3A9C")
    assert not canary_leaked("CANARY-123456", "CANARY-7F3A9C")


def test_unknown_type_lists_known_types_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as excinfo:
        build_scorer({"type": "regexp"})
    message = str(excinfo.value)
    assert "did you mean 'regex'?" in message
    assert all(name in message for name in scorer_types())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "exact", "case_sensitve": False}, r"unknown option\(s\) 'case_sensitve'"),
        ({"type": "exact", "case_sensitive": "no"}, "'case_sensitive' must be bool"),
        ({"type": "numeric", "abs_tol": True}, "'abs_tol' must be float"),
        ({"type": "numeric", "abs_tol": -1}, "must be >= 0"),
        ({"type": "regex"}, "missing required option 'pattern'"),
        ({"type": "semantic", "threshold": 2}, r"must be in \[0, 1\]"),
    ],
)
def test_config_mistakes_are_caught_at_construction(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_scorer(config, embedder=FakeEmbedder({}))


def test_name_defaults_to_the_type() -> None:
    assert build_scorer({"type": "exact"}).name == "exact"
    assert build_scorer({"type": "exact", "name": "answer"}).name == "answer"


def test_score_must_lie_in_the_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        Score(1.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        Score(float("nan"))

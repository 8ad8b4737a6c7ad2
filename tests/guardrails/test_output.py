"""Output checks: JSON Schema, banned patterns and PII, with reasons that are safe to log."""

from __future__ import annotations

import pytest

from runwell.errors import ConfigError
from runwell.guardrails import CheckResult, OutputChecker, OutputVerdict, PiiRedactor

SCHEMA = {
    "type": "object",
    "required": ["vendor", "total", "currency"],
    "additionalProperties": False,
    "properties": {
        "vendor": {"type": "string", "minLength": 1},
        "total": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD"]},
    },
}


def test_a_valid_completion_passes_every_check() -> None:
    checker = OutputChecker(schema=SCHEMA, banned=[r"(?i)internal use only"], pii=PiiRedactor())
    verdict = checker.check('{"vendor": "Harbor Paper", "total": 412.5, "currency": "EUR"}')
    assert verdict.passed and verdict.failed == ()
    assert [r.check for r in verdict.results] == ["json_schema", "banned_pattern", "pii"]


def test_a_fenced_json_completion_is_accepted() -> None:
    verdict = OutputChecker(schema=SCHEMA).check(
        '```json\n{"vendor": "A", "total": 1, "currency": "USD"}\n```'
    )
    assert verdict.passed


def test_invalid_json_names_the_position_not_the_text() -> None:
    result = OutputChecker(schema=SCHEMA).check("Sure! The total is 412.50 EUR.").results[0]
    assert result == CheckResult("json_schema", False, result.reason)
    assert result.reason.startswith("not valid JSON: Expecting value at line 1 column 1")
    assert "412" not in result.reason


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ('{"vendor": "A", "total": 1}', "$: missing required property 'currency'"),
        ('{"vendor": "A", "total": -5, "currency": "EUR"}', "$.total: number must be >= 0"),
        (
            '{"vendor": "A", "total": 1, "currency": "GBP-secret"}',
            "$.currency: value is not one of the allowed values",
        ),
        (
            '{"vendor": "A", "total": 1, "currency": "EUR", "ssn": "123-45-6789"}',
            "$: has a property the schema does not allow",
        ),
        ('["A", 1]', "$: expected object, got array"),
    ],
)
def test_schema_violations_have_value_free_reasons(completion: str, reason: str) -> None:
    result = OutputChecker(schema=SCHEMA).check(completion).results[0]
    assert not result.passed
    assert result.reason == reason
    assert "secret" not in result.reason and "123-45" not in result.reason


def test_several_violations_are_counted() -> None:
    result = OutputChecker(schema=SCHEMA).check('{"total": "x"}').results[0]
    assert result.reason.endswith("(and 2 more)")


def test_banned_patterns_report_their_names() -> None:
    checker = OutputChecker(banned={"internal": r"(?i)internal use only", "competitor": r"\bAcmeCorp\b"})
    verdict = checker.check("INTERNAL USE ONLY: AcmeCorp is cheaper")
    assert verdict.failed == (
        CheckResult("banned_pattern", False, "matches banned pattern(s) internal, competitor"),
    )
    listed = OutputChecker(banned=["foo", "bar"]).check("bar only")
    assert listed.failed[0].reason == "matches banned pattern(s) #2"


def test_pii_in_the_output_is_counted_by_kind() -> None:
    checker = OutputChecker(pii=PiiRedactor(kinds={"email", "phone"}))
    verdict = checker.check(
        "Write to a@example.com or b@example.com, or call +44 20 7946 0958. SSN 123-45-6789."
    )
    assert verdict.failed == (CheckResult("pii", False, "contains PII: email x2, phone x1"),)


def test_no_checks_configured_means_passed() -> None:
    assert OutputChecker().check("anything") == OutputVerdict(())
    assert OutputChecker().check("anything").passed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schema": {"type": "object", "oneOf": []}}, "keyword 'oneOf' is not supported"),
        ({"schema": {"type": "thing"}}, "unknown type 'thing'"),
        ({"banned": ["(unclosed"]}, r"banned_patterns.#1: the regex '\(unclosed' does not compile"),
        ({"banned": ["a?"]}, "matches the empty string"),
        ({"banned": "just a string"}, "got one string"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        OutputChecker(**kwargs)  # type: ignore[arg-type]

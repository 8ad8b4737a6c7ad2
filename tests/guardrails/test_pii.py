"""PII detection and redaction: each recognizer's positives and negatives, sessions, restore."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from runwell.errors import ConfigError
from runwell.guardrails import PII_KINDS, Finding, PiiRedactor, find_pii


def kinds_in(text: str, redactor: PiiRedactor | None = None) -> list[tuple[str, str]]:
    """(kind, matched text) for every finding, in order."""
    findings = (redactor or PiiRedactor()).find(text)
    return [(f.kind, text[f.start : f.end]) for f in findings]


POSITIVES = [
    ("email", "write to jane.doe+news@example.co.uk today", "jane.doe+news@example.co.uk"),
    ("email", "Contact: ops@sub.example.org.", "ops@sub.example.org"),
    ("phone", "call +44 20 7946 0958 now", "+44 20 7946 0958"),
    ("phone", "call +1 (415) 555-0132 now", "+1 (415) 555-0132"),
    ("phone", "call +33 1 23 45 67 89 now", "+33 1 23 45 67 89"),
    ("phone", "call (415) 555-0132 now", "(415) 555-0132"),
    ("phone", "call 415-555-0132 now", "415-555-0132"),
    ("phone", "call 415.555.0132 now", "415.555.0132"),
    ("phone", "whatsapp +4915112345678", "+4915112345678"),
    ("credit_card", "card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
    ("credit_card", "card 5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("credit_card", "amex 378282246310005", "378282246310005"),
    ("iban", "IBAN GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32"),
    ("iban", "to DE89370400440532013000.", "DE89370400440532013000"),
    ("iban", "NO: NO9386011117947", "NO9386011117947"),
    ("ssn", "SSN 123-45-6789 on file", "123-45-6789"),
    ("ipv4", "server at 192.168.10.254.", "192.168.10.254"),
    ("ipv4", "dns 8.8.8.8", "8.8.8.8"),
    ("ipv6", "host 2001:db8:85a3::8a2e:370:7334 down", "2001:db8:85a3::8a2e:370:7334"),
    ("ipv6", "link-local fe80::1ff:fe23:4567:890a", "fe80::1ff:fe23:4567:890a"),
]


@pytest.mark.parametrize(("kind", "text", "value"), POSITIVES)
def test_each_recognizer_finds_its_kind(kind: str, text: str, value: str) -> None:
    assert kinds_in(text) == [(kind, value)]


NEGATIVES = [
    "released on 2024-01-15 and 15.01.2024",  # dates
    "order number 123456 and ticket 987654321",  # bare numbers, order numbers
    "upgrade to version 10.15.7 or v1.2.3",  # versions
    "use v1.2.3.4 of the firmware",  # four-part version with a v
    "card 4111 1111 1111 1112",  # Luhn-invalid 16 digits
    "0000 0000 0000 0000",  # Luhn-valid but all one digit
    "GB82 WEST 1234 5698 7654 33",  # IBAN with a wrong mod-97 check
    "XX82WEST12345698765432",  # unknown country code
    "000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000",  # never-issued SSNs
    "the meeting is at 10:30:45",  # a time is not an IPv6 address
    "mac 00:1a:2b:3c:4d:5e",  # MAC address
    "999.1.1.1 and 1.2.3",  # bad octet, three parts
    "@handle and user@localhost and a@b.c",  # not emails
    "call 123-456-7890",  # area code 123 is not a North American number
    "+1 555",  # too few digits for a phone
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_are_not_pii(text: str) -> None:
    assert kinds_in(text) == []


def test_overlaps_resolve_to_the_longest_match() -> None:
    text = "reach me on +1 (415) 555-0132 or at IBAN DE89 3704 0044 0532 0130 00"
    assert kinds_in(text) == [("phone", "+1 (415) 555-0132"), ("iban", "DE89 3704 0044 0532 0130 00")]


def test_overlap_ties_go_to_the_more_specific_kind() -> None:
    redactor = PiiRedactor(extra={"account": r"\b\d{16}\b"})
    # Equally long: the built-in, checksum-validated card wins over the spec's pattern.
    assert kinds_in("id 4111111111111111", redactor) == [("credit_card", "4111111111111111")]
    assert kinds_in("id 4111111111111112", redactor) == [("account", "4111111111111112")]


def test_findings_are_ordered_and_carry_no_value() -> None:
    findings = find_pii("a@example.com then 10.0.0.1")
    assert findings == [Finding(0, 13, "email"), Finding(19, 27, "ipv4")]
    assert "example" not in repr(findings)


def test_kinds_select_recognizers_and_unknown_kinds_fail() -> None:
    only_email = PiiRedactor(kinds={"email"})
    assert kinds_in("a@example.com 10.0.0.1", only_email) == [("email", "a@example.com")]
    assert only_email.kinds == ("email",)
    with pytest.raises(ConfigError, match=r"unknown PII kind.*'passport'.*email"):
        PiiRedactor(kinds={"email", "passport"})


def test_extra_patterns_are_named_kinds() -> None:
    redactor = PiiRedactor(kinds=(), extra={"employee_id": r"EMP-\d{6}"})
    session = redactor.session()
    assert (
        session.redact_text("badge EMP-004211 and EMP-004211") == "badge <EMPLOYEE_ID_1> and <EMPLOYEE_ID_1>"
    )
    assert session.counts == {"employee_id": 1}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"employee_id": "EMP-(\\d"}, "does not compile"),
        ({"maybe": "x*"}, "matches the empty string"),
        ({"email": "foo"}, "built-in kind"),
        ({"9lives": "cat"}, "must be a letter"),
    ],
)
def test_bad_extra_patterns_fail_at_construction(extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PiiRedactor(extra=extra)


def test_placeholders_are_consistent_within_a_session_and_restore() -> None:
    session = PiiRedactor().session()
    first = session.redact_text("Mail bob@example.com or alice@example.com.")
    second = session.redact_text("Again: BOB@example.com, card 4111-1111-1111-1111 and 4111 1111 1111 1111")
    assert first == "Mail <EMAIL_1> or <EMAIL_2>."
    # Same value, other spelling (case, separators): the same placeholder.
    assert second == "Again: <EMAIL_1>, card <CREDIT_CARD_1> and <CREDIT_CARD_1>"
    assert session.counts == {"email": 2, "credit_card": 1}
    completion = "I wrote to <EMAIL_2> and charged <CREDIT_CARD_1>; <PHONE_9> is unknown."
    assert session.restore(completion) == (
        "I wrote to alice@example.com and charged 4111-1111-1111-1111; <PHONE_9> is unknown."
    )


def test_sessions_are_independent() -> None:
    redactor = PiiRedactor()
    one, two = redactor.session(), redactor.session()
    assert one.redact_text("x@example.com") == "<EMAIL_1>"
    assert two.redact_text("y@example.com") == "<EMAIL_1>"
    assert two.restore("<EMAIL_1>") == "y@example.com"
    assert one.restore("<EMAIL_1>") == "x@example.com"


def test_redact_messages_handles_strings_and_text_parts_and_leaves_input_alone() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Support bot. Escalate to help@corp.example."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "I'm at +44 20 7946 0958"},
                {"type": "image_url", "image_url": {"url": "https://img.example/a.png?user=x@example.com"}},
            ],
        },
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "user", "content": "and help@corp.example again"},
    ]
    before = copy.deepcopy(messages)
    session = PiiRedactor().session()
    out = session.redact_messages(messages)
    assert messages == before
    assert out[0]["content"] == "Support bot. Escalate to <EMAIL_1>."
    assert out[1]["content"][0] == {"type": "text", "text": "I'm at <PHONE_1>"}
    assert out[1]["content"][1] == before[1]["content"][1]  # non-text parts are not touched
    assert out[2] == before[2]
    assert out[3]["content"] == "and <EMAIL_1> again"
    out[0]["role"] = "changed"
    assert messages[0]["role"] == "system"  # the copies are new dicts


def test_nothing_meant_for_logs_contains_a_value() -> None:
    session = PiiRedactor().session()
    session.redact_text("ssn 123-45-6789, mail z@example.com")
    assert "123-45-6789" not in repr(session)
    assert "example" not in repr(session)
    assert session.counts == {"ssn": 1, "email": 1}


def test_every_built_in_kind_is_listed() -> None:
    assert set(PII_KINDS) == {"email", "phone", "credit_card", "iban", "ssn", "ipv4", "ipv6"}

"""runwell's guardrails: PII redaction, prompt-injection detection and output checks.

Pure, synchronous engines, built once from a feature's spec and called on every request::

    redactor = PiiRedactor(kinds={"email", "phone"}, extra={"employee_id": r"EMP-\\d{6}"})
    detector = InjectionDetector()                   # the shipped corpus of known attacks
    checker = OutputChecker(schema=spec_schema, banned=[r"(?i)internal use only"], pii=PiiRedactor())

    session = redactor.session()                     # one per request
    messages = session.redact_messages(request_messages)
    verdict = detector.check_messages(request_messages)
    ...                                              # call the model
    result = checker.check(completion)
    completion = session.restore(completion)         # when the spec says restore: true

Nothing these return for records or logs contains a value from the text: findings have kinds and
offsets, verdicts have rule and corpus ids, check results have reasons written to be logged.
"""

from runwell.guardrails.injection import (
    DEFAULT_THRESHOLD,
    InjectionDetector,
    InjectionVerdict,
    SyncEmbedder,
    load_corpus,
)
from runwell.guardrails.output import CheckResult, OutputChecker, OutputVerdict
from runwell.guardrails.pii import PII_KINDS, Finding, PiiRedactor, RedactionSession, find_pii

__all__ = [
    "DEFAULT_THRESHOLD",
    "PII_KINDS",
    "CheckResult",
    "Finding",
    "InjectionDetector",
    "InjectionVerdict",
    "OutputChecker",
    "OutputVerdict",
    "PiiRedactor",
    "RedactionSession",
    "SyncEmbedder",
    "find_pii",
    "load_corpus",
]

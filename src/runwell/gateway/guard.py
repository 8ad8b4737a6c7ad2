"""A feature's guardrails on the request path: built once from its spec, run on every request.

On the way in: the input size cap, PII redaction (before the template, the model and storage see
the messages) and the injection check; on the way out: the output schema, banned patterns and PII
in the answer. Each guardrail reports what it did as a short status (``passed``, ``redacted``,
``blocked``, ``flagged``, ``logged``, ``failed``, ``overridden``), which goes to the audit entry,
with details safe to store (kinds and counts, rule ids, scores; never a value it found) for the
request record. An operator's override (``runwell guardrail off``) makes a guardrail ``overridden``
until it expires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runwell.control.levers import Levers
from runwell.errors import RequestError
from runwell.guardrails import InjectionDetector, OutputChecker, PiiRedactor, RedactionSession
from runwell.spec.protection import Guardrails

__all__ = ["FeatureGuard", "GuardrailBlocked", "InputGuarded", "OutputGuarded", "detector_for"]


class GuardrailBlocked(RequestError):
    """A guardrail refused the request (400, ``code`` names the guardrail).

    ``guarded`` holds what the input guardrails had done up to the block (statuses, details and
    the redacted messages), so that the record and the audit entry of a blocked request hold
    neither a raw PII value nor a gap.
    """

    def __init__(self, message: str, *, guarded: InputGuarded, code: str) -> None:
        super().__init__(message, param="messages", code=code)
        self.guarded = guarded


@dataclass(slots=True)
class InputGuarded:
    """What the input guardrails did to one request."""

    messages: list[dict[str, Any]]
    """The client's messages as the model will see them (PII replaced by placeholders)."""
    session: RedactionSession | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class OutputGuarded:
    """What the output guardrails found in one answer."""

    ok: bool
    content: str | None
    """The answer to send (PII redacted when ``output_pii: redact``)."""
    statuses: dict[str, str] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def detector_for(threshold: float | None, cache: dict[float | None, InjectionDetector]) -> InjectionDetector:
    """One detector per threshold for the whole gateway: building one indexes the attack corpus."""
    found = cache.get(threshold)
    if found is None:
        found = cache[threshold] = (
            InjectionDetector() if threshold is None else InjectionDetector(threshold=threshold)
        )
    return found


def _text_chars(messages: Sequence[Mapping[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return total


class FeatureGuard:
    """The guardrails one feature's spec declares, ready to run."""

    def __init__(
        self, feature: str, spec: Guardrails, detectors: dict[float | None, InjectionDetector]
    ) -> None:
        self.feature = feature
        self.spec = spec
        pii = spec.pii
        self._redactor = PiiRedactor(kinds=pii.kinds, extra=pii.extra) if pii is not None else None
        self._restore = pii is not None and pii.restore
        injection = spec.injection
        self._injection = injection
        self._detector = detector_for(injection.threshold, detectors) if injection is not None else None
        self._max_chars = spec.max_input_chars
        self._output = OutputChecker(schema=spec.output_schema, banned=dict(spec.banned_patterns))
        self._output_pii = spec.output_pii
        self._output_redactor = (self._redactor or PiiRedactor()) if spec.output_pii != "off" else None

    @property
    def validates_output(self) -> bool:
        """Whether an answer must be checked before any of it reaches the client."""
        return bool(self.spec.output_schema or self.spec.banned_patterns) or self._output_pii in (
            "block",
            "redact",
        )

    @property
    def checks_output(self) -> bool:
        """Whether answers are checked at all (a flagging check included)."""
        return bool(self.spec.output_schema or self.spec.banned_patterns) or self._output_pii != "off"

    @property
    def restores_pii(self) -> bool:
        """Whether placeholders in the answer are turned back into the client's values."""
        return self._restore

    def _overridden(self, name: str, levers: Levers, now: float) -> bool:
        return levers.guardrail_off(self.feature, name, now)

    def check_input(self, messages: list[dict[str, Any]], levers: Levers, now: float) -> InputGuarded:
        """Run the input guardrails; raises :class:`GuardrailBlocked` when one refuses the request."""
        out = InputGuarded(messages)
        too_long: str | None = None
        if self._max_chars is not None:
            if self._overridden("max_input_chars", levers, now):
                out.statuses["max_input_chars"] = "overridden"
            else:
                size = _text_chars(messages)
                if size > self._max_chars:
                    out.statuses["max_input_chars"] = "blocked"
                    too_long = (
                        f"the input is {size} characters long; this feature accepts at most "
                        f"{self._max_chars} (guardrails.max_input_chars)"
                    )
                else:
                    out.statuses["max_input_chars"] = "passed"
        if self._redactor is not None:
            # Even a request refused for its size is redacted: its record keeps the prompt.
            if self._overridden("pii_redaction", levers, now):
                out.statuses["pii_redaction"] = "overridden"
            else:
                session = self._redactor.session()
                out.messages = session.redact_messages(messages)
                counts = session.counts
                out.session = session
                out.statuses["pii_redaction"] = "redacted" if counts else "passed"
                if counts:
                    out.details["pii_redaction"] = {"kinds": dict(counts)}
        if too_long is not None:
            raise GuardrailBlocked(too_long, guarded=out, code="guardrail_max_input_chars")
        if self._detector is not None and self._injection is not None:
            if self._overridden("injection_check", levers, now):
                out.statuses["injection_check"] = "overridden"
            else:
                # The detector reads the client's own words, not the redactor's placeholders: a
                # `<CREDIT_CARD_1>` is our artefact, and to a scorer trained on natural text it looks
                # like a template token. Only the verdict's score and rule leave this method.
                verdict = self._detector.check_messages(messages, roles=self._injection.roles)
                detail = {
                    "score": round(verdict.score, 3),
                    "rule": verdict.rule,
                    "match_id": verdict.match_id,
                }
                if verdict.attack:
                    mode = self._injection.mode
                    out.statuses["injection_check"] = {
                        "block": "blocked",
                        "flag": "flagged",
                        "log": "logged",
                    }[mode]
                    out.details["injection_check"] = detail
                    if mode == "block":
                        raise GuardrailBlocked(
                            "the request looks like a prompt-injection attempt and this feature blocks them "
                            f"(guardrails.injection_check; rule {verdict.rule or verdict.match_id})",
                            guarded=out,
                            code="guardrail_injection_check",
                        )
                else:
                    out.statuses["injection_check"] = "passed"
        return out

    def check_output(self, content: str | None, levers: Levers, now: float) -> OutputGuarded:
        """Check one answer; ``ok`` is false when it must not be served as it is."""
        text = content or ""
        out = OutputGuarded(ok=True, content=content)
        checks = {"json_schema": "output_schema", "banned_pattern": "banned_patterns"}
        skipped = {name for name in checks.values() if self._overridden(name, levers, now)}
        verdict = self._output.check(text)
        for result in verdict.results:
            name = checks[result.check]
            if name in skipped:
                out.statuses[name] = "overridden"
                continue
            out.statuses[name] = "passed" if result.passed else "failed"
            if not result.passed:
                out.ok = False
                out.reasons.append(f"{name}: {result.reason}")
                out.details[name] = {"reason": result.reason}
        if self._output_redactor is not None:
            if self._overridden("output_pii", levers, now):
                out.statuses["output_pii"] = "overridden"
            else:
                findings = self._output_redactor.find(text)
                if not findings:
                    out.statuses["output_pii"] = "passed"
                else:
                    kinds: dict[str, int] = {}
                    for finding in findings:
                        kinds[finding.kind] = kinds.get(finding.kind, 0) + 1
                    out.details["output_pii"] = {"kinds": kinds}
                    if self._output_pii == "block":
                        out.ok = False
                        out.statuses["output_pii"] = "failed"
                        out.reasons.append("output_pii: the answer contains " + ", ".join(sorted(kinds)))
                    elif self._output_pii == "redact":
                        session = self._output_redactor.session()
                        out.content = session.redact_text(text)
                        out.statuses["output_pii"] = "redacted"
                    else:
                        out.statuses["output_pii"] = "flagged"
        return out

"""Checks on a completion before it is served: JSON Schema, banned patterns, PII.

An :class:`OutputChecker` is built once from the spec (the schema and patterns are validated and
compiled then, so a bad spec fails at load, not on a request) and checks each completion. Every
check yields a :class:`CheckResult` whose ``reason`` is safe to log: it names paths, pattern names
and PII kinds, never a value taken from the completion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runwell.errors import ConfigError
from runwell.guardrails import _jsonschema
from runwell.guardrails.pii import PiiRedactor

__all__ = ["CheckResult", "OutputChecker", "OutputVerdict"]

_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n?```$", re.DOTALL)
# Validator messages quote values from the completion; these rewrites keep only what the schema says.
_SAFE_MESSAGES = (
    (re.compile(r"^expected ([a-z ]+), got ([a-z]+)$"), r"expected \1, got \2"),
    (re.compile(r"^.* is not one of .*$", re.DOTALL), "value is not one of the allowed values"),
    (re.compile(r"^must equal .*$", re.DOTALL), "value differs from the required constant"),
    (re.compile(r"^missing required property .*$"), None),  # the name comes from the schema: keep it
    (re.compile(r"^property .* is not allowed$", re.DOTALL), "has a property the schema does not allow"),
    (re.compile(r"^has \d+ items, (fewer|more) than (min|max)Items \d+$"), None),
    (re.compile(r"^length \d+ is (below|above) (min|max)Length \d+$"), None),
    (re.compile(r"^does not match pattern .*$", re.DOTALL), None),
    (re.compile(r"^.* must be ([<>]=?) (.*)$", re.DOTALL), r"number must be \1 \2"),
)
_MAX_PATH = 80


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One output check's outcome; ``reason`` is short and safe to log (no values from the output)."""

    check: str
    """``json_schema``, ``banned_pattern`` or ``pii``."""
    passed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OutputVerdict:
    """Every configured check's result for one completion, in a fixed order."""

    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when every check passed (and when no check is configured)."""
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that failed."""
        return tuple(r for r in self.results if not r.passed)


class OutputChecker:
    """Validates completions against a feature's output rules; build once per spec.

    ``schema``: a JSON Schema (the subset :mod:`runwell.guardrails._jsonschema` supports) the
    completion, parsed as JSON, must satisfy; a completion wrapped in a ```json fence is accepted.
    ``banned``: regexes the completion must not match, as a list (named ``#1``, ``#2``, ... in
    reasons) or as ``{name: regex}``. ``pii``: a redactor whose kinds the completion must not
    contain (``PiiRedactor()`` for all built-in kinds), or None to skip the check.
    """

    def __init__(
        self,
        *,
        schema: Mapping[str, Any] | None = None,
        banned: Sequence[str] | Mapping[str, str] = (),
        pii: PiiRedactor | None = None,
    ) -> None:
        if schema is not None:
            problems = _jsonschema.check_schema(schema)
            if problems:
                raise ConfigError(
                    "guardrails.output_schema: the schema cannot be enforced: " + "; ".join(problems)
                )
        self._schema = schema
        self._banned = _compile_banned(banned)
        self._pii = pii

    def check(self, completion: str) -> OutputVerdict:
        """Run every configured check on ``completion``."""
        results: list[CheckResult] = []
        if self._schema is not None:
            results.append(self._check_schema(completion, self._schema))
        if self._banned:
            results.append(self._check_banned(completion))
        if self._pii is not None:
            results.append(self._check_pii(completion, self._pii))
        return OutputVerdict(tuple(results))

    @staticmethod
    def _check_schema(completion: str, schema: Mapping[str, Any]) -> CheckResult:
        text = completion.strip()
        fenced = _FENCE.match(text)
        try:
            value = json.loads(fenced.group(1) if fenced else text)
        except json.JSONDecodeError as exc:
            # The decoder's message names a position, never the text.
            return CheckResult(
                "json_schema", False, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            )
        errors = list(_jsonschema.validate(value, schema))
        if not errors:
            return CheckResult("json_schema", True)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return CheckResult("json_schema", False, _safe_violation(errors[0]) + more)

    def _check_banned(self, completion: str) -> CheckResult:
        hits = [name for name, pattern in self._banned if pattern.search(completion)]
        if not hits:
            return CheckResult("banned_pattern", True)
        return CheckResult("banned_pattern", False, "matches banned pattern(s) " + ", ".join(hits))

    @staticmethod
    def _check_pii(completion: str, redactor: PiiRedactor) -> CheckResult:
        findings = redactor.find(completion)
        if not findings:
            return CheckResult("pii", True)
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        return CheckResult("pii", False, "contains PII: " + ", ".join(f"{k} x{n}" for k, n in counts.items()))


def _compile_banned(banned: Sequence[str] | Mapping[str, str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    if isinstance(banned, str):
        raise ConfigError(
            "guardrails.banned_patterns: expected a list of regexes or {name: regex}, got one string"
        )
    items = (
        list(banned.items())
        if isinstance(banned, Mapping)
        else [(f"#{i}", r) for i, r in enumerate(banned, 1)]
    )
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for name, regex in items:
        if not isinstance(regex, str):
            raise ConfigError(
                f"guardrails.banned_patterns.{name}: expected a regex string, got {type(regex).__name__}"
            )
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise ConfigError(
                f"guardrails.banned_patterns.{name}: the regex {regex!r} does not compile: {exc}; "
                "fix the pattern"
            ) from exc
        if pattern.fullmatch(""):
            raise ConfigError(
                f"guardrails.banned_patterns.{name}: the regex {regex!r} matches the empty string, "
                "so it would ban every completion; make it require text"
            )
        compiled.append((name, pattern))
    return tuple(compiled)


def _safe_violation(message: str) -> str:
    path, _, detail = message.partition(": ")
    if len(path) > _MAX_PATH:
        path = path[: _MAX_PATH - 1] + "…"
    for pattern, replacement in _SAFE_MESSAGES:
        if pattern.match(detail):
            safe = detail if replacement is None else pattern.sub(replacement, detail)
            return f"{path}: {safe}"
    return f"{path}: does not satisfy the schema"

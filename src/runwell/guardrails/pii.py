"""PII detection and reversible redaction for chat requests.

A :class:`PiiRedactor` is built once from configuration (which kinds are on, extra named
patterns from the spec) and compiled once. Each request gets its own :class:`RedactionSession`,
which replaces every value with a placeholder such as ``<EMAIL_1>`` (the same value gets the
same placeholder in every message of that request) and can :meth:`~RedactionSession.restore`
the originals in the completion when the spec asks for ``restore: true``.

Nothing this module hands out for records or logs carries a raw value: a :class:`Finding` has a
kind and offsets, and a session reports counts per kind. The values live only inside the
session, for the duration of the request.

Built-in kinds: ``email``, ``phone``, ``credit_card`` (Luhn-checked), ``iban`` (mod-97 and
registered length), ``ssn`` (US, never-issued ranges excluded), ``ipv4``, ``ipv6``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from runwell.errors import ConfigError
from runwell.guardrails._recognizers import BUILTIN, Recognizer

__all__ = ["PII_KINDS", "Finding", "PiiRedactor", "RedactionSession", "find_pii"]

PII_KINDS: tuple[str, ...] = tuple(r.kind for r in BUILTIN)
"""The built-in PII kinds, most specific first."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*_[1-9][0-9]*)>")


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One PII value found in a text: its kind and ``text[start:end]``; never the value itself."""

    start: int
    end: int
    kind: str


class PiiRedactor:
    """Finds PII of the configured kinds; build once per spec, then call :meth:`session` per request.

    ``kinds`` picks built-in kinds (default: all of :data:`PII_KINDS`); ``extra`` maps a name to a
    regex for values only the feature knows about (``{"employee_id": r"EMP-\\d{6}"}``), redacted as
    ``<EMPLOYEE_ID_1>``. Where matches overlap, the longest wins; between equally long ones the
    more specific kind (the order of :data:`PII_KINDS`, then the extra patterns in their given
    order) wins, so the outcome never depends on dict ordering or chance.
    """

    def __init__(
        self, *, kinds: Collection[str] | None = None, extra: Mapping[str, str] | None = None
    ) -> None:
        wanted = PII_KINDS if kinds is None else tuple(kinds)
        unknown = sorted(set(wanted) - set(PII_KINDS))
        if unknown:
            raise ConfigError(
                f"guardrails.pii: unknown PII kind(s) {', '.join(map(repr, unknown))}; "
                f"the built-in kinds are {', '.join(PII_KINDS)} (use `extra` for your own patterns)"
            )
        recognizers = [r for r in BUILTIN if r.kind in wanted]
        for i, (name, regex) in enumerate((extra or {}).items()):
            recognizers.append(_extra_recognizer(name, regex, rank=len(BUILTIN) + i))
        self._recognizers = tuple(recognizers)
        self._canonicals = {r.kind: r.canonical for r in recognizers}

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every kind this redactor looks for, built-in and extra, in tie-break order."""
        return tuple(r.kind for r in self._recognizers)

    def find(self, text: str) -> list[Finding]:
        """Every PII value in ``text``, without overlaps, in order of position."""
        candidates: list[tuple[int, int, int, str]] = []
        for recognizer in self._recognizers:
            if recognizer.needs is not None and recognizer.needs not in text:
                continue
            for match in recognizer.pattern.finditer(text):
                start, end = match.span()
                if end > start and recognizer.validate(match.group()):
                    candidates.append((start, end, recognizer.rank, recognizer.kind))
        if len(candidates) < 2:
            return [Finding(s, e, kind) for s, e, _, kind in candidates]
        return _resolve_overlaps(candidates)

    def session(self) -> RedactionSession:
        """A fresh per-request session: its own placeholders, counts and values."""
        return RedactionSession(self)

    def _canonical(self, kind: str, value: str) -> str:
        return self._canonicals[kind](value)

    def __repr__(self) -> str:
        return f"PiiRedactor(kinds={list(self.kinds)!r})"


def _resolve_overlaps(candidates: list[tuple[int, int, int, str]]) -> list[Finding]:
    # Longest first, then most specific, then leftmost: a greedy pick in that order is deterministic
    # and keeps "+1 (415) 555-0132" whole rather than the national number inside it.
    candidates.sort(key=lambda c: (c[0] - c[1], c[2], c[0]))
    kept: list[tuple[int, int, int, str]] = []
    for cand in candidates:
        if all(cand[1] <= k[0] or cand[0] >= k[1] for k in kept):
            kept.append(cand)
    kept.sort()
    return [Finding(s, e, kind) for s, e, _, kind in kept]


def _extra_recognizer(name: str, regex: str, *, rank: int) -> Recognizer:
    where = f"guardrails.pii.extra.{name}"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: a pattern name must be a letter then letters, digits or '_' (at most 40), "
            f"got {name!r}; it becomes the placeholder, e.g. <EMPLOYEE_ID_1>"
        )
    kind = name.lower()
    if kind in PII_KINDS:
        raise ConfigError(f"{where}: {name!r} is a built-in kind; pick another name for your pattern")
    if not isinstance(regex, str):
        raise ConfigError(f"{where}: the pattern must be a regex string, got {type(regex).__name__}")
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise ConfigError(f"{where}: the regex {regex!r} does not compile: {exc}; fix the pattern") from exc
    if pattern.fullmatch(""):
        raise ConfigError(f"{where}: the regex {regex!r} matches the empty string; make it require text")
    return Recognizer(kind, pattern, lambda _: True, str, rank=rank)


class RedactionSession:
    """The redactions of one request: consistent placeholders, a reverse map and counts.

    Not shared between requests (placeholders are numbered per session) and not thread-safe; a
    request uses its own session from one task.
    """

    __slots__ = ("_by_key", "_counts", "_redactor", "_values")

    def __init__(self, redactor: PiiRedactor) -> None:
        self._redactor = redactor
        self._by_key: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def redact_text(self, text: str) -> str:
        """``text`` with every PII value replaced by its placeholder."""
        findings = self._redactor.find(text)
        if not findings:
            return text
        parts: list[str] = []
        cursor = 0
        for f in findings:
            parts.append(text[cursor : f.start])
            parts.append(self._placeholder(f.kind, text[f.start : f.end]))
            cursor = f.end
        parts.append(text[cursor:])
        return "".join(parts)

    def redact_messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A redacted copy of OpenAI-style chat messages; ``messages`` itself is left untouched.

        String ``content`` and ``{"type": "text"}`` parts are redacted; other parts (images,
        audio, files) and other fields are kept as they are. Messages and content lists are new
        objects; untouched nested values (an image part, ``tool_calls``) are shared, not copied.
        """
        out: list[dict[str, Any]] = []
        for message in messages:
            copied = dict(message)  # always a new dict, so editing the result never edits the input
            content = message.get("content")
            if isinstance(content, str):
                copied["content"] = self.redact_text(content)
            elif isinstance(content, list):
                copied["content"] = [self._redact_part(part) for part in content]
            out.append(copied)
        return out

    def _redact_part(self, part: Any) -> Any:
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
            return {**part, "text": self.redact_text(part["text"])}
        return part

    def restore(self, text: str) -> str:
        """``text`` with this session's placeholders replaced by the original values.

        Placeholders this session did not issue are left as they are.
        """
        if not self._values or "<" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self._values.get(m.group(1), m.group()), text)

    @property
    def counts(self) -> dict[str, int]:
        """How many distinct values of each kind were redacted (safe to record and log)."""
        return dict(self._counts)

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, self._redactor._canonical(kind, value))
        token = self._by_key.get(key)
        if token is None:
            n = self._counts.get(kind, 0) + 1
            self._counts[kind] = n
            token = f"{kind.upper()}_{n}"
            self._by_key[key] = token
            self._values[token] = value
        return f"<{token}>"

    def __repr__(self) -> str:
        return f"RedactionSession(counts={self._counts!r})"


@functools.cache
def _default_redactor() -> PiiRedactor:
    return PiiRedactor()


def find_pii(text: str) -> list[Finding]:
    """Every built-in PII value in ``text`` (all kinds), for detectors such as the eval leak scorer."""
    return _default_redactor().find(text)

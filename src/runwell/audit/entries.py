"""The shape of an audit entry, and its leaf bytes.

Two kinds of entry share one log:

* ``decision`` — one per model decision that touches a customer: which feature, variant,
  provider, model, spec and prompt versions decided; which guardrails and flags were in force;
  what the outcome was. The request and response content are *not* in the entry, only their
  SHA-256, so content can be erased (retention, GDPR) without breaking a single proof.
* ``change`` — one per state change: spec deploys, API keys, flags, kill switch, guardrails,
  budgets, rollout steps; who did it, why, and the value before and after.

Leaf bytes are the RFC 8785 canonical JSON of the entry's dict, which always carries
``"v": 1`` (format version), ``"type"`` and ``"index"`` (its position in the log, so that a
removed, inserted or reordered entry is visible in the entry itself).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, get_args

import orjson

from runwell.audit.errors import AuditError
from runwell.audit.jcs import canonicalize

__all__ = [
    "ENTRY_VERSION",
    "KNOWN_CHANGE_KINDS",
    "AuditEntry",
    "ChangeEntry",
    "DecisionEntry",
    "Outcome",
    "entry_leaf",
    "format_time",
    "parse_leaf",
    "pseudonymize_user",
    "sha256_hex",
]

ENTRY_VERSION = 1
"""Format version stamped on every entry as ``"v"``; bump it when the shape changes."""

Outcome = Literal["served", "shadow", "fallback", "degraded", "blocked", "error"]
_OUTCOMES = frozenset(get_args(Outcome))

KNOWN_CHANGE_KINDS = frozenset(
    {
        "spec_deployed",
        "api_key_created",
        "api_key_revoked",
        "flag_changed",
        "kill_switch",
        "guardrail_switched",
        "budget_changed",
        "rollout_step",
    }
)
"""Change kinds runwell itself records; others are allowed if they are snake_case words."""

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_KIND = re.compile(r"[a-z][a-z0-9_]*")


def format_time(timestamp: float) -> str:
    """RFC 3339 UTC time with milliseconds and a ``Z``: ``2026-11-22T04:23:00.123Z``."""
    seconds = math.floor(timestamp)
    millis = int((timestamp - seconds) * 1000)
    t = time.gmtime(seconds)
    # Built by hand: datetime plus strftime cost 7 us, once per audited request.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031  (faster than the f-string here)
        t.tm_year,
        t.tm_mon,
        t.tm_mday,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        millis,
    )


def sha256_hex(data: bytes | str) -> str:
    """Lower-case hex SHA-256 of ``data`` (str is hashed as UTF-8): the content digests."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def pseudonymize_user(user_id: str, key: bytes) -> str:
    """Keyed hash of a user id, ``hmac-sha256:<hex>``, for specs that ask not to log raw ids.

    Keyed (not a plain hash) so that nobody without the key can test guesses of user ids
    against the log; the same user always maps to the same value, so per-user audits still work.
    """
    return "hmac-sha256:" + hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def change_key(kind: str, subject: str) -> str:
    """The lookup key under which change entries of ``kind`` on ``subject`` are indexed."""
    return f"change:{kind}:{subject}"


def _need(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise AuditError(f"audit entry field {where}: {message}")


def _check_time(value: str) -> None:
    if not _TIME.fullmatch(value):
        _need(False, "time", f"{value!r} is not an RFC 3339 UTC time ending in Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionEntry:
    """One model decision: what served (or refused) a request, and under which rules."""

    TYPE: ClassVar[str] = "decision"

    time: str
    request_id: str
    feature: str
    variant: str
    provider: str
    model: str
    spec_version: str
    prompt_version: str
    outcome: Outcome
    input_sha256: str
    output_sha256: str | None = None
    http_status: int | None = None
    user: str | None = None
    guardrails: Mapping[str, str] = field(default_factory=dict)
    flags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Messages are built only when a check fails: this runs once per audited request.
        _check_time(self.time)
        if not self.request_id:
            _need(False, "request_id", "must not be empty")
        if self.outcome not in _OUTCOMES:
            _need(False, "outcome", f"{self.outcome!r} is not one of {sorted(_OUTCOMES)}")
        if not _SHA256_HEX.fullmatch(self.input_sha256):
            _need(False, "input_sha256", "must be 64 lower-case hex digits")
        if self.output_sha256 is not None and not _SHA256_HEX.fullmatch(self.output_sha256):
            _need(False, "output_sha256", "must be 64 lower-case hex digits or None")
        if self.http_status is not None and not 100 <= self.http_status <= 599:
            _need(False, "http_status", f"{self.http_status} is not an HTTP status (100-599) or None")

    def to_dict(self, index: int) -> dict[str, Any]:
        """The entry as the dict whose canonical JSON is the leaf, at log position ``index``."""
        return {
            "v": ENTRY_VERSION,
            "type": self.TYPE,
            "index": index,
            "time": self.time,
            "request_id": self.request_id,
            "feature": self.feature,
            "variant": self.variant,
            "provider": self.provider,
            "model": self.model,
            "spec_version": self.spec_version,
            "prompt_version": self.prompt_version,
            "user": self.user,
            "guardrails": dict(self.guardrails),
            "flags": dict(self.flags),
            "outcome": self.outcome,
            "http_status": self.http_status,
            "input_sha256": self.input_sha256,
            "output_sha256": self.output_sha256,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeEntry:
    """One state change: who changed what, why, and the value before and after."""

    TYPE: ClassVar[str] = "change"

    time: str
    kind: str
    actor: str
    subject: str
    reason: str = ""
    before: Any = None
    after: Any = None

    def __post_init__(self) -> None:
        _check_time(self.time)
        _need(bool(_KIND.fullmatch(self.kind)), "kind", f"{self.kind!r} is not a snake_case word")
        _need(bool(self.actor), "actor", "must name who made the change")
        _need(bool(self.subject), "subject", "must name what was changed")

    @property
    def request_id(self) -> str:
        """The lookup key stored in the log's request-id column (not part of the leaf):
        ``change:<kind>:<subject>``, so the latest change of one subject is an index lookup."""
        return change_key(self.kind, self.subject)

    def to_dict(self, index: int) -> dict[str, Any]:
        """The entry as the dict whose canonical JSON is the leaf, at log position ``index``."""
        return {
            "v": ENTRY_VERSION,
            "type": self.TYPE,
            "index": index,
            "time": self.time,
            "kind": self.kind,
            "actor": self.actor,
            "reason": self.reason,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
        }


AuditEntry = DecisionEntry | ChangeEntry
"""Anything :meth:`runwell.audit.log.AuditLog.append` accepts."""


def entry_leaf(entry: AuditEntry, index: int) -> bytes:
    """The leaf bytes of ``entry`` placed at ``index``: RFC 8785 canonical JSON of its dict."""
    try:
        return canonicalize(entry.to_dict(index))
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit entry for {entry.TYPE} cannot be canonicalized: {exc}") from None


def parse_leaf(leaf: bytes) -> dict[str, Any]:
    """Decode a leaf back into its dict (does not check canonical form; see ``verify``)."""
    try:
        value = orjson.loads(leaf)
    except orjson.JSONDecodeError as exc:
        raise AuditError(f"audit leaf is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise AuditError(f"audit leaf is a JSON {type(value).__name__}, not an object")
    return value

"""One model decision, as the gateway knows it, and the audit entry it becomes.

The gateway fills a :class:`Decision` from its request context (on the event loop: no hashing,
no canonical JSON there) and hands it to the audit writer thread, which calls :meth:`Decision.entry`
to compute the content digests and build the :class:`~runwell.audit.entries.DecisionEntry`.
The user id is already in the form every sink stores (a keyed pseudonym when the feature's spec
asks for one): it is decided once, for records, audit entries and spans alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runwell.audit.entries import DecisionEntry, Outcome, format_time, sha256_hex
from runwell.audit.jcs import canonicalize

__all__ = ["Decision", "input_digest", "output_digest"]


def input_digest(messages: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of the RFC 8785 canonical JSON of the messages the model saw.

    An auditor recomputes it from the prompt stored with the request record.
    """
    return sha256_hex(canonicalize(messages))


def output_digest(
    completion: str | None, tool_calls: Sequence[Mapping[str, Any]] | None = None
) -> str | None:
    """SHA-256 of what the model answered: the completion text, or, when it called tools, the RFC
    8785 canonical JSON of ``{"content": ..., "tool_calls": [...]}`` (a tool call is a decision too)."""
    if tool_calls:
        answer = {"content": completion, "tool_calls": list(tool_calls)}
        return sha256_hex(canonicalize(answer))
    return None if completion is None else sha256_hex(completion)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What decided one request and how it ended; see :class:`~runwell.audit.entries.DecisionEntry`."""

    request_id: str
    started_at: float
    feature: str
    variant: str
    provider: str
    model: str
    spec_version: str
    prompt_version: str
    outcome: Outcome
    http_status: int
    prompt: Sequence[Mapping[str, Any]]
    completion: str | None
    tool_calls: Sequence[Mapping[str, Any]] | None = None
    user: str | None = None
    guardrails: Mapping[str, str] = field(default_factory=dict)
    flags: Mapping[str, Any] = field(default_factory=dict)

    def entry(self) -> DecisionEntry:
        """The audit entry (digests computed here: call it off the event loop)."""
        return DecisionEntry(
            time=format_time(self.started_at),
            request_id=self.request_id,
            feature=self.feature,
            variant=self.variant,
            provider=self.provider,
            model=self.model,
            spec_version=self.spec_version,
            prompt_version=self.prompt_version,
            outcome=self.outcome,
            input_sha256=input_digest(self.prompt),
            output_sha256=output_digest(self.completion, self.tool_calls),
            http_status=self.http_status,
            user=self.user,
            guardrails=self.guardrails,
            flags=self.flags,
        )

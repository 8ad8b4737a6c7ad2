"""The request record: one per request the gateway answered, whatever the outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["RECORD_FIELDS", "RequestRecord"]


@dataclass(slots=True)
class RequestRecord:
    """Everything runwell keeps about one request.

    Times are Unix epoch seconds (``started_at``) and milliseconds (durations). ``cost_usd`` is
    ``None`` when the model has no price (``priced`` is then ``False``): unpriced is never $0.
    ``prompt``/``completion`` are ``None`` when content capture is off for the feature.
    ``provider`` is the provider's name in the spec, ``provider_kind`` its adapter (``openai``,
    ``anthropic``, ``local``, ``sim``). ``status`` is ``"ok"`` or ``"error"``; ``http_status`` is
    what the client received. ``recovered`` marks a record rebuilt from the audit log after an
    unclean shutdown; ``note`` says what runwell had to do with the record (content it could not
    store, a rebuild, a degradation), ``None`` when nothing. ``tool_calls`` holds the tool calls the
    model answered with (OpenAI's shape), captured like the completion. ``outcome`` is the
    decision's outcome (``served``, ``fallback``, ``degraded``, ``blocked``, ``error``), ``served_by``
    the variant that answered or ``degraded:<mode>``, ``guardrails`` what each guardrail did
    (``{name: {"status": ..., ...}}``: never the values it found), ``attempts`` each provider
    call tried, in order, ``arm`` the rollout arm that served it (``baseline``/``candidate``), and
    ``shadow_of`` the request a shadow call copied (its outcome is ``shadow``).
    """

    request_id: str
    trace_id: str
    started_at: float
    feature: str | None
    variant: str | None
    provider: str | None
    provider_kind: str | None
    model: str | None
    spec_version: str | None
    prompt_version: str | None
    user_id: str | None
    api_key_id: str | None
    status: str
    http_status: int
    error_class: str | None = None
    error_message: str | None = None
    stream: bool = False
    latency_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    priced: bool = False
    finish_reason: str | None = None
    response_model: str | None = None
    prompt: list[dict[str, Any]] | None = None
    completion: str | None = None
    parent_span_id: str | None = None
    recovered: bool = False
    note: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    outcome: str | None = None
    served_by: str | None = None
    guardrails: dict[str, Any] | None = None
    attempts: list[dict[str, Any]] | None = None
    arm: str | None = None
    shadow_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of every field (for JSON output)."""
        return asdict(self)


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RequestRecord))

"""Graceful degradation: what a client gets when no variant may or can answer.

The spec's ``fallbacks.degradation`` picks the mode:

- ``static``: ``200`` with the spec's fixed, non-AI message;
- ``queued``: ``202`` with a ticket; the request is answered later (``gateway.queue``);
- ``maintenance``: ``503`` with the message and ``Retry-After``.

A degraded answer is never presented as model output: the ``x-runwell-served-by`` header says
``degraded:<mode>``, the body carries ``"runwell": {"served_by": ..., "outcome": "degraded",
"reason": ...}``, its ``model`` is ``<feature>@degraded:<mode>``, and the record and the audit entry
carry the outcome ``degraded``. Without a degradation mode, the failure itself is the answer (502/504
naming the provider), as before.
"""

from __future__ import annotations

import orjson

from runwell.gateway.asgi import Send, error_body, send_json
from runwell.gateway.responses import SSE_HEADERS
from runwell.spec.protection import Degradation

__all__ = ["DegradationReason", "send_degraded", "served_by"]

DegradationReason = str
"""Why the request was degraded: ``killed``, ``traffic_cut``, ``all_variants_failed``, ``budget``..."""


def served_by(degradation: Degradation) -> str:
    """The ``x-runwell-served-by`` value of a degraded answer."""
    return f"degraded:{degradation.mode}"


async def send_degraded(
    send: Send,
    degradation: Degradation,
    *,
    feature: str,
    request_id: str,
    created: int,
    reason: DegradationReason,
    stream: bool,
    ticket: str | None = None,
) -> int:
    """Send the degraded answer; returns the HTTP status sent."""
    label = served_by(degradation)
    marker = {"served_by": label, "outcome": "degraded", "reason": reason}
    headers = [
        (b"x-request-id", request_id.encode()),
        (b"x-runwell-feature", feature.encode()),
        (b"x-runwell-served-by", label.encode()),
    ]
    if degradation.mode == "maintenance":
        body = error_body(degradation.message, type="service_unavailable", request_id=request_id, code=reason)
        body["runwell"] = marker
        await send_json(
            send, 503, body, [*headers, (b"retry-after", str(degradation.retry_after_s).encode())]
        )
        return 503
    if degradation.mode == "queued":
        assert ticket is not None
        body = {
            "id": ticket,
            "object": "runwell.queued_request",
            "status": "queued",
            "message": degradation.message,
            "retrieve": f"/v1/queued/{ticket}",
            "runwell": marker,
        }
        await send_json(send, 202, body, [*headers, (b"location", f"/v1/queued/{ticket}".encode())])
        return 202
    model = f"{feature}@{label}"
    if not stream:
        payload = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": degradation.message},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "runwell": marker,
        }
        await send_json(send, 200, payload, headers)
        return 200
    base = {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    events = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": degradation.message},
                              "finish_reason": None, "logprobs": None}], "runwell": marker},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}]},
    ]  # fmt: skip
    await send({"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *headers]})
    sse = b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events) + b"data: [DONE]\n\n"
    await send({"type": "http.response.body", "body": sse, "more_body": False})
    return 200

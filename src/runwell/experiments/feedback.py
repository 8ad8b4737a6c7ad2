"""User feedback on an answer: validated, stored with the request it is about, counted as a metric.

``POST /v1/feedback`` takes ``{"request_id", "score"?, "label"?, "comment"?}`` with a client key:

- ``request_id``: the answer's id (the ``x-request-id`` header, or the response's ``id`` without
  its ``chatcmpl-`` prefix); it must be a request this deployment answered, not a shadow copy;
- ``score``: a number from 0 (bad) to 1 (good), and/or ``label``: ``positive``/``up``/``good`` (1)
  or ``negative``/``down``/``bad`` (0), or any other short label (then a score is required);
- ``comment``: free text, at most 2,000 characters.

The ``feedback`` metric of a rollout is the share of negative feedback (score below 0.5) per arm.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from runwell.errors import NotFoundError, RequestError
from runwell.store import Database

__all__ = ["Feedback", "parse_feedback", "store_feedback"]

_POSITIVE = frozenset({"positive", "up", "good", "thumbs_up"})
_NEGATIVE = frozenset({"negative", "down", "bad", "thumbs_down"})
_MAX_COMMENT = 2000
_MAX_LABEL = 64
_COMPLETION_PREFIX = "chatcmpl-"


@dataclass(frozen=True, slots=True)
class Feedback:
    """One validated piece of feedback, before it is matched to its request."""

    request_id: str
    score: float
    label: str | None
    comment: str | None


def parse_feedback(body: dict[str, Any]) -> Feedback:
    """Validate a feedback body; RequestError (400) names the field and what to send."""
    unknown = sorted(set(body) - {"request_id", "score", "label", "comment"})
    if unknown:
        raise RequestError(
            f"unknown field(s) {', '.join(unknown)}; feedback takes request_id, score, label and comment",
            param=unknown[0],
        )
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip():
        raise RequestError(
            "'request_id' must be the answered request's id (its x-request-id)", param="request_id"
        )
    request_id = request_id.strip().removeprefix(_COMPLETION_PREFIX)
    score = body.get("score")
    if score is not None and (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not math.isfinite(score)
        or not 0 <= score <= 1
    ):
        raise RequestError(f"'score' must be a number from 0 (bad) to 1 (good), got {score!r}", param="score")
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip() or len(label) > _MAX_LABEL):
        raise RequestError(
            f"'label' must be a non-empty string of at most {_MAX_LABEL} characters", param="label"
        )
    if score is None:
        folded = label.strip().lower() if isinstance(label, str) else None
        if folded in _POSITIVE:
            score = 1.0
        elif folded in _NEGATIVE:
            score = 0.0
        else:
            raise RequestError(
                "give 'score' (0 to 1), or 'label' positive or negative; another label needs a score too",
                param="score",
            )
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > _MAX_COMMENT):
        raise RequestError(
            f"'comment' must be a string of at most {_MAX_COMMENT} characters", param="comment"
        )
    return Feedback(request_id, float(score), label.strip() if isinstance(label, str) else None, comment)


def store_feedback(db: Database, feedback: Feedback, *, api_key_id: str | None) -> dict[str, Any]:
    """Store feedback on a known request; NotFoundError (404) when there is no such answer. Blocking."""
    row = db.query_one(
        "SELECT feature, variant, outcome FROM requests WHERE request_id = ?",
        (feedback.request_id,),
        action="find the request the feedback is about",
    )
    if row is None or row[2] == "shadow":
        raise NotFoundError(
            f"no answered request {feedback.request_id!r}; send the id of an answer this deployment served "
            "(its x-request-id header)",
            param="request_id",
            code="request_not_found",
        )
    feature, variant = row[0], row[1]
    feedback_id = "fb_" + os.urandom(12).hex()
    created = time.time()
    with db.transaction("store feedback") as tx:
        tx.execute(
            "INSERT INTO feedback (id, request_id, feature, variant, score, label, comment, api_key_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                feedback_id,
                feedback.request_id,
                feature,
                variant,
                feedback.score,
                feedback.label,
                feedback.comment,
                api_key_id,
                created,
            ),
        )
    return {
        "id": feedback_id,
        "object": "feedback",
        "request_id": feedback.request_id,
        "feature": feature,
        "variant": variant,
        "score": feedback.score,
        "label": feedback.label,
        "created_at": created,
    }

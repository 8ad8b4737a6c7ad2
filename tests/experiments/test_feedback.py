"""Feedback bodies are validated field by field; feedback attaches only to answered requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runwell.errors import NotFoundError, RequestError
from runwell.experiments.feedback import Feedback, parse_feedback, store_feedback
from runwell.store import Store
from runwell.telemetry.record import RequestRecord


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"request_id": "abc", "score": 0.25}, Feedback("abc", 0.25, None, None)),
        ({"request_id": "chatcmpl-abc", "label": "Positive"}, Feedback("abc", 1.0, "Positive", None)),
        (
            {"request_id": "abc", "label": "thumbs_down", "comment": "rude"},
            Feedback("abc", 0.0, "thumbs_down", "rude"),
        ),
        ({"request_id": "abc", "label": "too long", "score": 1}, Feedback("abc", 1.0, "too long", None)),
    ],
)
def test_good_bodies(body: dict, expected: Feedback) -> None:
    assert parse_feedback(body) == expected


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"score": 1}, "request_id", "the answered request's id"),
        ({"request_id": "abc", "score": 1.5}, "score", "from 0 (bad) to 1 (good), got 1.5"),
        ({"request_id": "abc", "score": True}, "score", "got True"),
        ({"request_id": "abc", "score": "1"}, "score", "got '1'"),
        ({"request_id": "abc"}, "score", "give 'score'"),
        ({"request_id": "abc", "label": "meh"}, "score", "another label needs a score"),
        ({"request_id": "abc", "score": 1, "label": "x" * 65}, "label", "at most 64"),
        ({"request_id": "abc", "score": 1, "comment": "x" * 2001}, "comment", "at most 2000"),
        ({"request_id": "abc", "score": 1, "rating": 5}, "rating", "unknown field(s) rating"),
    ],
)
def test_bad_bodies_name_the_field(body: dict, param: str, message: str) -> None:
    with pytest.raises(RequestError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        parse_feedback(body)
    assert caught.value.param == param and caught.value.status == 400


def test_feedback_attaches_to_an_answer_never_to_a_shadow_copy(
    store: Store, make_record: Callable[..., RequestRecord]
) -> None:
    served = make_record(feature="support", variant="v1", outcome="served")
    shadow = make_record(feature="support", variant="v2", outcome="shadow", shadow_of=served.request_id)
    store.write_records([served, shadow])
    stored = store_feedback(store.db, Feedback(served.request_id, 0.0, "bad", None), api_key_id="key_1")
    assert (stored["feature"], stored["variant"], stored["score"]) == ("support", "v1", 0.0)
    row = store.db.query_one("SELECT request_id, api_key_id, label FROM feedback", action="read")
    assert row == (served.request_id, "key_1", "bad")
    for missing in (shadow.request_id, "nope"):
        with pytest.raises(NotFoundError, match=f"no answered request '{missing}'") as caught:
            store_feedback(store.db, Feedback(missing, 1.0, None, None), api_key_id=None)
        assert caught.value.status == 404 and caught.value.param == "request_id"

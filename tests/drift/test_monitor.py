"""One drift assessment: the reference and live texts, the tests on them, the report."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from runwell.drift import (
    DriftSettings,
    LiveInput,
    assess,
    live_inputs,
    local_embedder,
    reference_texts,
    render_report,
    scalar_features,
    user_text,
)
from runwell.errors import ConfigError
from runwell.spec.loader import load_spec
from runwell.store import Store, open_store
from runwell.telemetry.record import RequestRecord

TOPICS = {"refund": 0, "delivery": 1, "cooking": 2, "weather": 3}


def _embed(texts: list[str]) -> list[list[float]]:
    """A stand-in embedder: a unit vector near the axis of the text's topic (its first word)."""
    out = []
    for text in texts:
        rng = random.Random(text)
        axis = TOPICS[text.split()[0]]
        vector = [rng.gauss(0, 0.15) for _ in range(8)]
        vector[axis] += 1.0
        norm = math.sqrt(sum(v * v for v in vector))
        out.append([v / norm for v in vector])
    return out


def _live(texts: list[str]) -> list[LiveInput]:
    return [LiveInput(f"req-{i}", 1000.0 + i, text) for i, text in enumerate(texts)]


REFERENCE = [
    f"{topic} question number {i} {'x' * (i % 7)}" for i in range(60) for topic in ("refund", "delivery")
]


def test_live_inputs_from_the_reference_distribution_are_stable() -> None:
    live = _live(
        [
            f"{topic} question number {i} {'x' * (i % 7)}"
            for i in range(60, 100)
            for topic in ("refund", "delivery")
        ]
    )
    report = assess("support", REFERENCE, live, DriftSettings(), _embed)
    assert report.verdict == "stable" and report.reasons == ()
    assert report.embedding is not None and report.embedding["p_value"] > 0.01
    assert all(values["psi"] < 0.25 and 2 <= values["bins"] <= 10 for values in report.scalars.values())


def test_a_new_topic_is_drift_and_its_inputs_come_first_listed_once() -> None:
    live = _live(
        [f"refund question number {i}" for i in range(30)]
        + ["cooking pasta tonight"] * 5
        + ["weather in paris today"] * 3
    )
    settings = DriftSettings(top=3, min_live=20)
    report = assess("support", REFERENCE, live, settings, _embed)
    assert report.drifted and any("MMD permutation p" in r for r in report.reasons)
    assert {item["text"] for item in report.least_like[:2]} == {
        "cooking pasta tonight",
        "weather in paris today",
    }
    counts = {item["text"]: item["count"] for item in report.least_like}
    assert counts["cooking pasta tonight"] == 5 and counts["weather in paris today"] == 3
    assert len(report.least_like) == 3 and report.least_like[0]["similarity"] < 0.5
    classifier = assess("support", REFERENCE, live, DriftSettings(method="classifier", min_live=20), _embed)
    assert classifier.drifted and classifier.embedding["auc"] >= 0.75  # type: ignore[index]
    text = render_report(report)
    assert text.startswith("support: DRIFT — 38 live inputs against 120 eval-set inputs")
    assert "(x5)" in text and "candidates to add to it" in text


def test_longer_inputs_are_drift_on_psi_even_without_embeddings() -> None:
    live = _live([f"refund {'very long question ' * 20} {i}" for i in range(60)])
    report = assess("support", REFERENCE, live, DriftSettings(), None, note="no embeddings here")
    assert report.drifted and report.embedding is None and report.least_like == []
    assert any(r.startswith("input_chars: PSI") for r in report.reasons)
    assert "note: no embeddings here" in render_report(report)


def test_too_few_inputs_give_no_verdict() -> None:
    report = assess("support", REFERENCE, _live(["refund a"] * 5), DriftSettings(min_live=50), _embed)
    assert report.verdict == "insufficient" and "5 live inputs (need 50)" in report.reasons[0]


def test_the_text_compared_is_the_user_turns() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "image_url"}]},
    ]
    assert user_text(messages) == "first\n\nsecond"
    assert scalar_features(["a bb", "ccc"]) == {"input_chars": [4.0, 3.0], "input_words": [2.0, 1.0]}


def test_the_reference_is_the_eval_set_through_the_serving_template(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "t.yaml").write_text("system: Be brief.\nuser: 'Ticket: {{ input }}'\n")
    (tmp_path / "cases.jsonl").write_text('{"input": "where is my refund"}\n{"input": "late parcel"}\n')
    spec = tmp_path / "runwell.yaml"
    spec.write_text(
        "spec_version: 1\nfeature: {name: support, purpose: p, owners: [{name: A, email: a@b.co}]}\n"
        "providers: {s: {kind: sim}}\nvariants: {main: {provider: s, model: m, prompt: {file: prompts/t.yaml, version: '1'}}}\n"
        "evals: {suites: [{name: core, dataset: cases.jsonl, scorers: [{type: contains}]}]}\n"
    )
    assert reference_texts(load_spec(spec)) == ["Ticket: where is my refund", "Ticket: late parcel"]
    spec.write_text(spec.read_text().split("evals:")[0])
    with pytest.raises(ConfigError, match=r"evals\.suites is empty, so there is no eval set"):
        reference_texts(load_spec(spec))


def test_live_inputs_are_the_latest_captured_served_prompts(
    tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> None:
    store: Store = open_store(None, base_dir=tmp_path)
    try:
        store.write_records(
            [
                make_record(feature="support", started_at=10.0, prompt=[{"role": "user", "content": "old"}]),
                make_record(feature="support", started_at=20.0, prompt=[{"role": "user", "content": "new"}]),
                make_record(feature="support", started_at=30.0, prompt=None),
                make_record(
                    feature="support",
                    started_at=40.0,
                    outcome="shadow",
                    prompt=[{"role": "user", "content": "copy"}],
                ),
                make_record(
                    feature="other", started_at=50.0, prompt=[{"role": "user", "content": "elsewhere"}]
                ),
            ]
        )
        assert [i.text for i in live_inputs(store.db, "support", limit=10)] == ["new", "old"]
        assert [i.text for i in live_inputs(store.db, "support", limit=1)] == ["new"]
        assert [i.text for i in live_inputs(store.db, "support", limit=10, since=15.0)] == ["new"]
    finally:
        store.close()


def test_the_local_embedder_is_minilm() -> None:
    embed, note = local_embedder()
    assert embed is not None and note is None
    [a, b, c] = embed(
        ["Where is my refund?", "When will I get my money back?", "Roast the chicken for an hour."]
    )
    cosine = lambda x, y: sum(p * q for p, q in zip(x, y, strict=True))  # noqa: E731 - unit vectors
    assert len(a) == 384 and cosine(a, b) > cosine(a, c)


@pytest.mark.parametrize("package", ["numpy", "onnxruntime", "tokenizers"])
def test_without_the_embeddings_extra_one_line_names_it(
    package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, package, None)  # as if not installed: importing it fails
    embed, note = local_embedder()
    assert embed is None and note is not None
    assert "\n" not in note and "pip install 'runwell[embeddings]'" in note
    live = [LiveInput(f"r{i}", float(i), "refund " + "word " * (i % 5)) for i in range(60)]
    report = assess("f", [f"refund {i}" for i in range(40)], live, DriftSettings(), embed, note=note)
    assert report.embedding is None and set(report.scalars) and report.note == note
    assert "pip install 'runwell[embeddings]'" in render_report(report)

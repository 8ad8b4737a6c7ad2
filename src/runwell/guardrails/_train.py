"""Offline training of the learned injection scorer's weights (never imported on the request path).

    python -m runwell.guardrails._train --train T.jsonl ... [--attacks CORPUS.jsonl ...] \\
        --dev DEV.jsonl --out src/runwell/guardrails/data/injection_weights.json

``--train`` files are JSONL rows with ``text`` and either ``attack`` (bool) or ``label``
(``"attack"``/``"benign"``); ``--attacks`` files are rows with ``text`` only, all attacks (the
corpus). ``--dev`` is labelled like ``--train`` and is used for one thing: choosing the logit
threshold at which the scorer alone flags a text, the lowest one that flags at most
``--dev-fpr`` of the dev set's benign texts. No held-out file may be passed here.

The model is L2-free logistic regression fitted by AdaGrad SGD over the features of
:mod:`runwell.guardrails._scorer`, in pure Python and deterministic for a given seed, so the
shipped weights can be rebuilt bit for bit without numpy. Long texts are scored in windows at
inference, so they are trained in windows too: every window of a benign text is a benign example
(no part of it may look like an attack), and an attack counts through its highest-scoring window,
re-chosen each epoch (the instruction is somewhere; the rest of the document is not evidence).
Features whose weight stays under ``--prune`` are dropped, which keeps the file small.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runwell.guardrails._normalize import normalize, words
from runwell.guardrails._scorer import FORMAT, LearnedScorer, features, sigmoid, windows

__all__ = ["Example", "average", "choose_threshold", "fit", "main", "read_examples"]

Example = tuple[list[tuple[str, ...]], bool]
"""A text's per-position features and whether it is an attack."""


def read_examples(path: Path, *, all_attacks: bool = False) -> list[tuple[str, bool]]:
    """``(text, attack)`` rows of a JSONL file (every row an attack when ``all_attacks``)."""
    rows: list[tuple[str, bool]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise SystemExit(f"{path}:{n}: each row needs a string 'text'")
        if all_attacks:
            rows.append((row["text"], True))
        elif isinstance(row.get("attack"), bool):
            rows.append((row["text"], row["attack"]))
        elif row.get("label") in ("attack", "benign"):
            rows.append((row["text"], row["label"] == "attack"))
        else:
            raise SystemExit(f"{path}:{n}: needs 'attack': true/false or 'label': 'attack'/'benign'")
    return rows


def _featurize(text: str) -> list[tuple[str, ...]]:
    return features(words(normalize(text)))


def _windowed(rows: Sequence[tuple[str, bool]]) -> list[Example]:
    """Benign texts split into their scoring windows; attacks kept whole (see the module doc)."""
    out: list[Example] = []
    for text, attack in rows:
        feats = _featurize(text)
        spans = windows(len(feats))
        if attack or len(spans) == 1:
            out.append((feats, attack))
        else:
            out.extend((feats[s:e], False) for s, e in spans)
    return out


def fit(
    examples: Sequence[Example], *, epochs: int = 12, rate: float = 0.2, seed: int = 0
) -> tuple[dict[str, float], float]:
    """Fit weights and a bias by AdaGrad SGD on the logistic loss; deterministic for a seed."""
    weights: dict[str, float] = {}
    squares: dict[str, float] = {}
    bias, bias_square = 0.0, 1e-8
    order = list(range(len(examples)))
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            feats, attack = examples[i]
            names = _best_window(feats, weights) if attack else feats
            z = bias + sum(weights.get(name, 0.0) for position in names for name in position)
            grad = sigmoid(z) - (1.0 if attack else 0.0)
            bias_square += grad * grad
            bias -= rate * grad / math.sqrt(bias_square)
            step = grad * grad
            for position in names:
                for name in position:
                    square = squares.get(name, 1e-8) + step
                    squares[name] = square
                    weights[name] = weights.get(name, 0.0) - rate * grad / math.sqrt(square)
    return weights, bias


def average(models: Sequence[tuple[dict[str, float], float]]) -> tuple[dict[str, float], float]:
    """The mean of several fits' weights and biases (a feature missing from a fit counts as 0 there).

    Fits that differ only in the order they saw the examples disagree most on the features few
    examples hold; averaging shrinks those, the rare template artefacts, and keeps what all agree on.
    """
    names = sorted(set().union(*(weights for weights, _ in models)))
    n = len(models)
    mean = {name: math.fsum(weights.get(name, 0.0) for weights, _ in models) / n for name in names}
    return mean, math.fsum(bias for _, bias in models) / n


def _best_window(feats: list[tuple[str, ...]], weights: dict[str, float]) -> list[tuple[str, ...]]:
    spans = windows(len(feats))
    if len(spans) == 1:
        return feats

    def logit(span: tuple[int, int]) -> float:
        return sum(weights.get(name, 0.0) for position in feats[span[0] : span[1]] for name in position)

    start, end = max(spans, key=logit)
    return feats[start:end]


def choose_threshold(scorer: LearnedScorer, dev: Sequence[tuple[str, bool]], max_fpr: float) -> float:
    """The lowest logit threshold that flags at most ``max_fpr`` of the dev set's benign texts."""
    benign = sorted((scorer.logit(words(normalize(t))) for t, attack in dev if not attack), reverse=True)
    if not benign:
        raise SystemExit("the dev set has no benign texts to choose a threshold on")
    allowed = int(max_fpr * len(benign))
    # Just above the highest benign logit that must not be flagged.
    return round(benign[allowed] + 1e-3, 4) if allowed < len(benign) else benign[-1]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dev_report(scorer: LearnedScorer, dev: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    flagged = [(scorer.logit(words(normalize(t))) >= scorer.threshold, attack) for t, attack in dev]
    attacks = sum(1 for _, attack in flagged if attack)
    benign = len(flagged) - attacks
    return {
        "recall": f"{sum(1 for f, a in flagged if f and a)}/{attacks}",
        "false_positives": f"{sum(1 for f, a in flagged if f and not a)}/{benign}",
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Train, choose the threshold on the dev set, and write the weights file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, nargs="+", required=True)
    parser.add_argument("--attacks", type=Path, nargs="*", default=[])
    parser.add_argument("--dev", type=Path, nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dev-fpr", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--prune", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--average", type=int, default=1, help="fit this many models (seed, seed+1, ...) and average"
    )
    args = parser.parse_args(argv)
    rows = [row for path in args.train for row in read_examples(path)]
    rows += [row for path in args.attacks for row in read_examples(path, all_attacks=True)]
    dev = [row for path in args.dev for row in read_examples(path)]
    overlap = {normalize(t) for t, _ in rows} & {normalize(t) for t, _ in dev}
    if overlap:
        raise SystemExit(f"{len(overlap)} dev texts are also training texts; keep the sets apart")
    examples = _windowed(rows)
    weights, bias = average(
        [fit(examples, epochs=args.epochs, rate=args.rate, seed=args.seed + i) for i in range(args.average)]
    )
    kept = {k: round(v, 3) for k, v in sorted(weights.items()) if abs(v) >= args.prune}
    scorer = LearnedScorer(kept, round(bias, 4), 0.0)
    scorer.threshold = choose_threshold(scorer, dev, args.dev_fpr)
    sources = [*args.train, *args.attacks]
    doc = {
        "format": FORMAT,
        "bias": scorer.bias,
        "threshold": scorer.threshold,
        "trained_on": [{"file": p.as_posix(), "sha256": _sha256(p)} for p in sources],
        "threshold_chosen_on": {
            "files": [{"file": p.as_posix(), "sha256": _sha256(p)} for p in args.dev],
            "max_fpr": args.dev_fpr,
        },
        "params": {
            "epochs": args.epochs,
            "rate": args.rate,
            "prune": args.prune,
            "seed": args.seed,
            "average": args.average,
        },
        "examples": {"attack": sum(1 for _, a in rows if a), "benign": sum(1 for _, a in rows if not a)},
        "dev": _dev_report(scorer, dev),
        "weights": kept,
    }
    args.out.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    size = args.out.stat().st_size
    print(f"{len(kept)} features ({len(weights)} before pruning), {size / 1024:.0f} KiB; dev {doc['dev']}")


if __name__ == "__main__":
    main()

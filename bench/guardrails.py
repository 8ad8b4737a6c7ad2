"""Guardrails benchmark: injection detection on a held-out set, and the cost of every guardrail.

    python bench/guardrails.py [--no-embeddings] [--out PATH]

Reported, and written to bench/results/guardrails.json, all measured in the same run:

- injection detection on the held-out set ``bench/data/guardrails_heldout_v5.jsonl`` (how it was
  kept apart: ``bench/data/README.md``): attack recall and benign false-positive rate, each with
  a 95 % Wilson interval, per category, for the rules with word-shingle similarity alone, for the
  default detector (those plus the learned scorer) and, when the local model is installed, with
  MiniLM embedding similarity on top (targets: recall >= 90 %, false positives <= 2 %); and, for
  the default detector, the same two rates at other thresholds than the default 0.5 (the
  trade-off an operator makes with ``injection_check.threshold``, measured on held-out data; a
  threshold chosen from this table is tuned on it). The same figures on the dev sets (v2 and v3,
  which chose the scorer's threshold and were read while tuning, the probe written while tuning,
  and v4, read after its one run) are reported beside them, marked as dev: they show tuning, not
  generalisation;
- the cost per request of PII redaction (a session redacting one user message), the injection
  check and the output checks (JSON Schema + two banned patterns + PII), and of the three in a
  row, in microseconds at p50 and p99, on short (100 characters), typical (500) and long (8,000)
  inputs cut from a support ticket that is rich in the words the injection rules are gated on (a
  hard case for the check), plus the injection check on a plain 500-character prompt without
  them, with and without the learned scorer; and the cost of building a detector.

Before anything is measured, the script refuses to run when a held-out text also occurs in, or
nearly copies, any text the detector was built or tuned on: the corpus, every file under
``tests/guardrails/data/`` (training, dev) and every file the shipped weights were trained on.

Caveat: the rules, the corpus, the training data and every set were written by the same author,
so they share blind spots; a set written by someone else would be the stronger test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from runwell.evals.stats import wilson_interval  # noqa: E402
from runwell.guardrails import InjectionDetector, OutputChecker, PiiRedactor, load_corpus  # noqa: E402
from runwell.guardrails._normalize import normalize, words  # noqa: E402
from runwell.guardrails._rules import RULES  # noqa: E402
from runwell.guardrails._scorer import WEIGHTS_FILE  # noqa: E402
from runwell.guardrails._similarity import shingles  # noqa: E402

HELDOUT = ROOT / "bench" / "data" / "guardrails_heldout_v5.jsonl"
DEVELOPMENT = ROOT / "tests" / "guardrails" / "data"  # training and dev sets: every *.jsonl here
# Dev sets, reported beside the held-out figures and marked as such: v2 and v3 chose the scorer's
# threshold and were read while tuning; the probe was written and read while tuning too; v4 was the
# held-out set before v5 and was read after its one run.
DEV_SETS = tuple(
    DEVELOPMENT / name
    for name in (
        "injection_dev_v2.jsonl",
        "injection_dev_v3.jsonl",
        "injection_dev_probe.jsonl",
        "injection_dev_v4.jsonl",
    )
)
WEIGHTS = ROOT / "src" / "runwell" / "guardrails" / "data" / WEIGHTS_FILE
NEAR_COPY = 0.8  # shared word bigrams over the larger text's: above this, a held-out text is a copy
TARGET_RECALL, TARGET_FPR = 0.90, 0.02
SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # thresholds the trade-off table shows (0.5: the default)
SIZES = {"short": 100, "typical": 500, "long": 8000}

PARAGRAPH = (
    "Hi, I'm Dana from the Leipzig office. Our order 55012 of office chairs arrived with two broken "
    "armrests, and the delivery note lists a different model than the invoice. Could you check whether "
    "the replacement parts are covered by the warranty, and how long a swap usually takes? You can reach "
    "me at dana.k@example.com or +49 341 555 0187 during the week. The invoice was paid by card ending "
    "in 0004, on the 3rd of March. Also, please let me know if we should keep the packaging for the "
    "courier, since our storage room is small and we'd rather recycle it soon. Thanks a lot! "
)
# A typical prompt with none of the words the rules are gated on: the injection check's usual cost.
PLAIN = (
    "I'm planning a trip to Lisbon in October with my partner. We like food markets, old trams and quiet "
    "viewpoints, and we'd rather avoid the busiest tourist traps. Could you suggest a three-day itinerary "
    "with a rough budget per day, including where to eat and which neighbourhood to stay in? We arrive on "
    "a Thursday evening and leave Sunday night. Also, is the Lisboa Card worth it for us, given we walk a "
    "lot? And one more thing: are the trams still running late at night in the Alfama district? Thanks!"
)[:500]
SCHEMA = {
    "type": "object",
    "required": ["answer", "category"],
    "properties": {
        "answer": {"type": "string", "maxLength": 20000},
        "category": {"enum": ["billing", "shipping", "warranty", "other"]},
    },
}


def _text(length: int) -> str:
    return (PARAGRAPH * (length // len(PARAGRAPH) + 1))[:length]


def _completion(length: int) -> str:
    shell = json.dumps({"answer": "", "category": "warranty"})
    return json.dumps({"answer": _text(max(1, length - len(shell))), "category": "warranty"})


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _is_attack(row: dict[str, Any]) -> bool:
    """The label: v4 and the training files say ``attack: true/false``, v1-v3 ``label: attack/benign``."""
    attack = row["attack"] if "attack" in row else row["label"] == "attack"
    if not isinstance(attack, bool):
        raise SystemExit(f"row {row.get('id')!r}: 'attack' must be true or false")
    return attack


def _development_texts() -> list[str]:
    """Every text the detector was built or tuned on: corpus, training and dev files, weights' sources."""
    paths = set(DEVELOPMENT.glob("*.jsonl"))
    weights = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    for entry in [*weights["trained_on"], *weights["threshold_chosen_on"]["files"]]:
        paths.add(ROOT / entry["file"])
    if HELDOUT.resolve() in {p.resolve() for p in paths}:
        raise SystemExit(f"{HELDOUT.name} was used to train or tune the learned scorer: it is not held out")
    texts = list(load_corpus().values())
    for path in sorted(paths):
        texts += [r["text"] for r in _rows(path)]
    return texts


def _not_apart(heldout: list[dict[str, Any]]) -> list[str]:
    """Ids of held-out texts that also occur in, or nearly copy, a development text.

    They are not held out, so they are left out of the held-out figures (and listed in the results).
    """
    seen = _development_texts()
    exact = {normalize(t) for t in seen}
    clashes = [r["id"] for r in heldout if normalize(r["text"]) in exact]
    # Near copies: an inverted index from word bigram to the development texts that hold it.
    sets = [shingles(words(normalize(t))) for t in seen]
    postings: dict[tuple[str, str], list[int]] = {}
    for i, features in enumerate(sets):
        for feature in features:
            postings.setdefault(feature, []).append(i)
    near = []
    for row in heldout:
        features = shingles(words(normalize(row["text"])))
        shared: dict[int, int] = {}
        for feature in features:
            for i in postings.get(feature, ()):
                shared[i] = shared.get(i, 0) + 1
        if any(n >= NEAR_COPY * max(len(features), len(sets[i])) for i, n in shared.items()):
            near.append(row["id"])
    return sorted({*clashes, *near})


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for rule in RULES:
        digest.update(f"{rule.id}\0{rule.weight}\0{rule.pattern.pattern}\0".encode())
    for key, text in sorted(load_corpus().items()):
        digest.update(f"{key}\0{text}\0".encode())
    digest.update(WEIGHTS.read_bytes())
    return digest.hexdigest()[:16]


def _rate(hits: int, total: int) -> dict[str, Any]:
    low, high = wilson_interval(hits, total)
    return {
        "count": hits,
        "of": total,
        "rate": round(hits / total, 4),
        "ci95": [round(low, 4), round(high, 4)],
    }


def _quality(detector: InjectionDetector, rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_category: dict[str, list[int]] = {}
    attacks = flagged_attacks = benign = flagged_benign = 0
    for row in rows:
        flagged = detector.check(row["text"]).attack
        attack = _is_attack(row)
        key = f"{'attack' if attack else 'benign'}/{row['category']}"
        counts = by_category.setdefault(key, [0, 0])
        counts[0] += flagged
        counts[1] += 1
        if attack:
            attacks += 1
            flagged_attacks += flagged
        else:
            benign += 1
            flagged_benign += flagged
    recall, fpr = _rate(flagged_attacks, attacks), _rate(flagged_benign, benign)
    return {
        "recall": recall,
        "false_positive_rate": fpr,
        "recall_target_met": recall["rate"] >= TARGET_RECALL,
        "fpr_target_met": fpr["rate"] <= TARGET_FPR,
        "flagged_by_category": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_category.items())},
    }


def _sweep(detector: InjectionDetector, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recall and false positives at each threshold of :data:`SWEEP` (one check per text)."""
    scored = [(detector.check(row["text"]).score, _is_attack(row)) for row in rows]
    attacks = sum(1 for _, attack in scored if attack)
    out = []
    for threshold in SWEEP:
        caught = sum(1 for score, attack in scored if attack and score >= threshold)
        flagged = sum(1 for score, attack in scored if not attack and score >= threshold)
        out.append(
            {
                "threshold": threshold,
                "recall": _rate(caught, attacks),
                "false_positive_rate": _rate(flagged, len(scored) - attacks),
            }
        )
    return out


def _timing(call: Callable[[], object], runs: int) -> dict[str, float]:
    for _ in range(min(200, runs)):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000.0)
    samples.sort()
    return {
        "p50_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1),
    }


def _costs(
    detector: InjectionDetector, rules_only: InjectionDetector, redactor: PiiRedactor, checker: OutputChecker
) -> dict[str, Any]:
    costs: dict[str, Any] = {}
    for size, length in SIZES.items():
        text, completion = _text(length), _completion(length)
        runs = 300 if size == "long" else 3000
        message = [{"role": "user", "content": text}]

        def pipeline(m: list[dict[str, str]] = message, t: str = text, c: str = completion) -> None:
            redactor.session().redact_messages(m)
            detector.check(t)
            checker.check(c)

        costs[size] = {
            "chars": length,
            "pii_redaction": _timing(lambda m=message: redactor.session().redact_messages(m), runs),
            "injection_check": _timing(lambda t=text: detector.check(t), runs),
            "injection_check_without_learned_scorer": _timing(lambda t=text: rules_only.check(t), runs),
            "output_checks": _timing(lambda c=completion: checker.check(c), runs),
            "all_three": _timing(pipeline, runs),
        }
    costs["typical_plain"] = {
        "chars": len(PLAIN),
        "injection_check": _timing(lambda: detector.check(PLAIN), 3000),
        "injection_check_without_learned_scorer": _timing(lambda: rules_only.check(PLAIN), 3000),
    }
    return costs


def _construction_ms(runs: int = 5) -> float:
    """Median time to build a default detector (corpus index and weights), in milliseconds."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        InjectionDetector()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 1)


def _embedding_detector() -> tuple[InjectionDetector | None, str]:
    try:
        from runwell.evals.embeddings import LocalMiniLM

        return InjectionDetector(embedder=LocalMiniLM(threads=1)), "all-MiniLM-L6-v2 int8, 1 thread"
    except Exception as exc:  # the extra is optional: report why it was not measured
        return None, f"not measured: {exc}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-embeddings", action="store_true", help="skip the MiniLM variant")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "guardrails.json")
    args = parser.parse_args()
    heldout = _rows(HELDOUT)
    not_apart = _not_apart(heldout)
    if not_apart:
        print(f"left out of the held-out figures, as copies of development texts: {', '.join(not_apart)}")
    heldout = [r for r in heldout if r["id"] not in set(not_apart)]
    devs = {path: _rows(path) for path in DEV_SETS}
    load_before = os.getloadavg()
    detector = InjectionDetector()
    rules_only = InjectionDetector(learned=False)
    redactor = PiiRedactor()
    checker = OutputChecker(
        schema=SCHEMA, banned=[r"(?i)internal use only", r"\bCANARY-[0-9A-F]{6}\b"], pii=redactor
    )
    quality = {
        "rules_and_shingles": _quality(rules_only, heldout),
        "with_learned_scorer": _quality(detector, heldout),
    }
    dev_quality = {
        str(path.relative_to(ROOT)): {
            "rules_and_shingles": _quality(rules_only, rows),
            "with_learned_scorer": _quality(detector, rows),
        }
        for path, rows in devs.items()
    }
    costs = _costs(detector, rules_only, redactor, checker)
    embedding_note = "skipped (--no-embeddings)"
    if not args.no_embeddings:
        embedded, embedding_note = _embedding_detector()
        if embedded is not None:
            quality["with_minilm_embeddings"] = _quality(embedded, heldout)
            quality["with_minilm_embeddings"]["check_typical_500_chars"] = _timing(
                lambda: embedded.check(_text(500)), 100
            )
    attacks = sum(1 for r in heldout if _is_attack(r))
    result = {
        "heldout": {
            "file": str(HELDOUT.relative_to(ROOT)),
            "sha256": hashlib.sha256(HELDOUT.read_bytes()).hexdigest(),
            "left_out_as_copies_of_development_texts": not_apart,
            "attacks": attacks,
            "benign": len(heldout) - attacks,
        },
        "targets": {"recall_min": TARGET_RECALL, "false_positive_rate_max": TARGET_FPR},
        "detection": quality,
        "default_detector_by_threshold": _sweep(detector, heldout),
        "dev_sets_not_held_out": dev_quality,
        "embeddings": embedding_note,
        "cost_per_request": costs,
        "construction_ms_p50": _construction_ms(),
        "detector": {
            "rules": len(RULES),
            "corpus": detector.corpus_size,
            "learned_features": len(json.loads(WEIGHTS.read_text(encoding="utf-8"))["weights"]),
            "fingerprint": _fingerprint(),
        },
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _print(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def _print_quality(title: str, detection: dict[str, Any]) -> None:
    print(title)
    for name, q in detection.items():
        r, f = q["recall"], q["false_positive_rate"]
        print(
            f"  {name:<24} recall {r['count']}/{r['of']} = {r['rate']:.1%} (95% CI {r['ci95'][0]:.1%}-"
            f"{r['ci95'][1]:.1%}) {'MET' if q['recall_target_met'] else 'MISSED'} | false positives "
            f"{f['count']}/{f['of']} = {f['rate']:.1%} (95% CI {f['ci95'][0]:.1%}-{f['ci95'][1]:.1%}) "
            f"{'MET' if q['fpr_target_met'] else 'MISSED'}"
        )


def _print(result: dict[str, Any]) -> None:
    held = result["heldout"]
    _print_quality(
        f"held-out: {held['file']} ({held['attacks']} attacks, {held['benign']} benign look-alikes)",
        result["detection"],
    )
    print("  default detector at other thresholds (held-out; the default is 0.5):")
    for row in result["default_detector_by_threshold"]:
        r, f = row["recall"], row["false_positive_rate"]
        print(
            f"    threshold {row['threshold']:<5} recall {r['count']}/{r['of']} = {r['rate']:.1%} | "
            f"false positives {f['count']}/{f['of']} = {f['rate']:.1%}"
        )
    for name, detection in result["dev_sets_not_held_out"].items():
        _print_quality(f"dev set, NOT held out (it tuned the detector): {name}", detection)
    print(f"  embeddings: {result['embeddings']}")
    print(f"  building a detector: {result['construction_ms_p50']} ms (p50)")
    print(f"\ncost per request, microseconds (p50 / p99), load avg {result['load_average_before_after']}")
    columns = ("pii_redaction", "injection_check", "injection_check_without_learned_scorer", "output_checks")
    columns += ("all_three",)
    heads = ("PII redaction", "injection check", "  (rules only)", "output checks", "all three")
    print(f"  {'input':<16}" + "".join(f"{h:>22}" for h in heads))
    for size, row in result["cost_per_request"].items():
        if size == "typical_plain":
            plain, rules = row["injection_check"], row["injection_check_without_learned_scorer"]
            print(
                f"  plain prompt ({row['chars']}, no rule words): injection check "
                f"{plain['p50_us']} / {plain['p99_us']} (rules only {rules['p50_us']} / {rules['p99_us']})"
            )
            continue
        cells = [f"{row[k]['p50_us']:>9.1f} / {row[k]['p99_us']:<9.1f}" for k in columns]
        print(f"  {size + ' (' + str(row['chars']) + ')':<16}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()

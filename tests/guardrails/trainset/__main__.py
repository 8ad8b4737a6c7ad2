"""Rebuild ``tests/guardrails/data/injection_train_v2.jsonl`` (see the package docstring)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tests.guardrails.trainset import _benign, _direct, _hand, _indirect, _languages, _mixed, _roleplay
from tests.guardrails.trainset._build import write

DATA = Path(__file__).resolve().parent.parent / "data"
BUILTIN = Path(__file__).resolve().parents[3] / "src" / "runwell" / "evals" / "builtin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DATA / "injection_train_v2.jsonl")
    args = parser.parse_args()
    # Never a dev text (the trainer refuses the overlap, and dev figures should not measure copies),
    # nor a text of the built-in eval suites, which measure the gateway's guardrails independently.
    dev = [
        json.loads(line)["text"]
        for name in ("injection_dev_v2.jsonl", "injection_dev_v3.jsonl")
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    for suite in ("prompt-injection", "jailbreak"):
        for line in (BUILTIN / f"{suite}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                dev += [
                    m["content"] for m in json.loads(line)["messages"] if isinstance(m.get("content"), str)
                ]
    rows = [
        *_indirect.rows(),
        *_direct.rows(),
        *_benign.rows(),
        *_languages.rows(),
        *_mixed.rows(),
        *_roleplay.rows(),
    ]
    rows += _hand.rows()
    count, dropped = write(rows, args.out, avoid=dev)
    print(f"{count} rows -> {args.out} ({dropped} left out as copies of dev or eval-suite texts)")


if __name__ == "__main__":
    main()

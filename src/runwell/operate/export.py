"""Reviewed production answers appended to the feature's eval set as regression cases.

Every labelled review item not exported yet becomes one JSONL case in the dataset of an eval suite
(the first one by default), tagged ``regression`` and with its source: ``source:review`` for an
answer a rule selected, ``source:incident`` plus ``incident:<id>`` for an input of a resolved
incident. So the eval gate learns from production: the next prompt or model change is checked
against what went wrong.

* The case's input is the client's messages, recovered from the stored prompt: the template's
  system message is dropped and the user template is peeled off the last user message (when it
  has no variable but ``{{ input }}``). The prompt is stored PII-redacted, so the case is too.
* The reference is the reviewer's correction; an item labelled ``good`` without one keeps the
  answer it got. An item with neither is not exported (a case must say what is right).
* A request whose content was not captured (``capture.content: false``) cannot be exported.

Appending is idempotent per item: an exported item is marked and never written twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runwell.errors import ConfigError
from runwell.operate.review import ReviewItem, list_items
from runwell.spec.loader import LoadedSpec
from runwell.spec.prompts import PromptTemplate
from runwell.store import Store

__all__ = ["ExportResult", "client_messages", "export_cases"]

_GOOD = frozenset({"good", "ok", "correct", "pass"})


@dataclass
class ExportResult:
    """What an export did."""

    dataset: Path
    written: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    waiting: int = 0
    """Items still pending a label (not exported)."""


def client_messages(prompt: list[dict[str, Any]], template: PromptTemplate | None) -> list[dict[str, Any]]:
    """The messages the client sent, recovered from the prompt the provider received."""
    messages = [dict(m) for m in prompt]
    if template is None:
        return [m for m in messages if m.get("role") != "system"]
    if template.system is not None and messages and messages[0].get("role") == "system":
        messages = messages[1:]
    user = template.user
    if user is not None and user.names == ("input",):
        for m in reversed(messages):
            content = m.get("content")
            if m.get("role") != "user" or not isinstance(content, str):
                continue
            head, tail = user.literals
            if content.startswith(head) and content.endswith(tail) and len(content) >= len(head) + len(tail):
                m["content"] = content[len(head) : len(content) - len(tail)]
            break
    return messages


def export_cases(
    store: Store,
    loaded: LoadedSpec,
    *,
    suite: str | None = None,
    clock: Callable[[], float] = time.time,
) -> ExportResult:
    """Append every labelled, unexported item of the feature to the suite's dataset."""
    suites = loaded.spec.evals.suites
    if not suites:
        raise ConfigError(
            f"{loaded.path}: the feature has no eval suite; add evals.suites with a dataset first"
        )
    chosen = next((s for s in suites if s.name == suite), None) if suite is not None else suites[0]
    if chosen is None:
        raise ConfigError(f"no eval suite {suite!r}; the suites are {', '.join(s.name for s in suites)}")
    dataset = loaded.base_dir / chosen.dataset
    result = ExportResult(dataset)
    db = store.db
    result.waiting = len(list_items(db, feature=loaded.name, state="pending", limit=100_000))
    lines: list[str] = []
    done: list[str] = []
    for item in list_items(db, feature=loaded.name, state="labelled", limit=100_000):
        case, why = _case(store, loaded, item)
        if case is None:
            result.skipped[item.id] = why
            continue
        lines.append(json.dumps(case, ensure_ascii=False, sort_keys=True))
        done.append(item.id)
        result.written.append(str(case["id"]))
    if not lines:
        return result
    dataset.parent.mkdir(parents=True, exist_ok=True)
    existing = dataset.read_text(encoding="utf-8") if dataset.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    with dataset.open("a", encoding="utf-8") as out:
        out.write(separator + "\n".join(lines) + "\n")
    now = clock()
    with db.transaction("mark review items exported") as tx:
        for item_id in done:
            tx.execute(
                "UPDATE review_items SET state = 'exported', exported_at = ? WHERE id = ?", (now, item_id)
            )
    return result


def _case(store: Store, loaded: LoadedSpec, item: ReviewItem) -> tuple[dict[str, Any] | None, str]:
    record = store.get_record(item.request_id)
    if record is None:
        return None, "its request record is gone (retention?)"
    if not record.prompt:
        return None, "its content was not captured (capture.content: false)"
    reference = item.correction
    if reference is None and (item.label or "").lower() in _GOOD:
        reference = record.completion
    if reference is None:
        return None, "no correction: label it with --correction 'the right answer' (or --label good)"
    template = loaded.prompts.get(record.variant or "") if record.variant else None
    tags = ["regression", f"source:{item.source}", f"label:{item.label}"]
    if item.source == "incident":
        tags.append(item.reason)
    case = {
        "id": f"{item.source}-{item.id}",
        "messages": client_messages(record.prompt, template),
        "reference": reference,
        "tags": tags,
        "metadata": {
            "source": item.source,
            "reason": item.reason,
            "review_id": item.id,
            "request_id": item.request_id,
            "reviewer": item.reviewer,
            "label": item.label,
            "variant": record.variant,
        },
    }
    return case, ""

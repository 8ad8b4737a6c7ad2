"""``runwell audit explain``: why did the model decide this, with proof.

Gathers the decision entry, an inclusion proof against a signed checkpoint (checked here), the
spec and prompt template that applied, and the stored request and response, whose digests are
recomputed and compared with the ones the log signed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from runwell.audit.decision import output_digest
from runwell.audit.entries import sha256_hex
from runwell.audit.jcs import canonicalize
from runwell.audit.log import AuditLog
from runwell.audit.merkle import leaf_hash, verify_inclusion
from runwell.audit.note import Checkpoint, open_note
from runwell.errors import SpecError

__all__ = ["explain_request", "render_text"]


class _Records(Protocol):
    def get_record(self, request_id: str) -> Any: ...


def _prompt_template(spec_path: Path, variant: str, prompt_version: str) -> dict[str, Any]:
    from runwell.spec.loader import load_spec

    if not spec_path.exists():
        return {"status": "spec not found", "path": str(spec_path)}
    try:
        loaded = load_spec(spec_path)
    except SpecError as exc:
        return {"status": "spec invalid", "error": str(exc)}
    current = loaded.prompt_versions.get(variant)
    if current is None:
        return {"status": "variant no longer in the spec", "variant": variant}
    template = loaded.prompts[variant]
    if current != prompt_version:
        return {
            "status": "template changed since",
            "decided_with": prompt_version,
            "current": current,
            "file": template.source,
        }
    return {"status": "matches", "version": current, "file": template.source, "text": template.text}


def _content(record: Any, entry: dict[str, Any]) -> dict[str, Any]:
    if record is None:
        return {"status": "no request record (erased or never stored)"}
    out: dict[str, Any] = {
        "latency_ms": record.latency_ms,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cost_usd": record.cost_usd,
        "status": record.status,
        "http_status": record.http_status,
    }
    if record.prompt is None:
        # Say why there is no content: the record's note (content the store refused, a record
        # rebuilt after an unclean shutdown) comes before the capture setting.
        note = getattr(record, "note", None)
        out["content"] = (
            f"not stored: {note}" if note else "not captured (capture.content is off for this feature)"
        )
        return out
    digest_in = sha256_hex(canonicalize(record.prompt))
    out.update(
        prompt=record.prompt,
        completion=record.completion,
        input_digest_matches=digest_in == entry["input_sha256"],
        tool_calls=record.tool_calls,
        output_digest_matches=output_digest(record.completion, record.tool_calls) == entry["output_sha256"],
    )
    return out


def explain_request(
    log: AuditLog, records: _Records, request_id: str, spec_path: Path
) -> dict[str, Any] | None:
    """Everything known about one request's decision, or ``None`` if the log has no entry."""
    indices = log.find_request(request_id)
    if not indices:
        return None
    index = max(indices)
    leaf = log.leaf(index)
    entry = log.entry(index)
    note = log.latest_checkpoint()
    if note is None or Checkpoint.parse(open_note(note, [log.vkey])).size <= index:
        note = log.checkpoint_now()  # the entry is newer than every checkpoint: sign one now
    checkpoint = Checkpoint.parse(open_note(note, [log.vkey]))
    proof = log.inclusion_proof(index, checkpoint.size)
    verified = verify_inclusion(leaf_hash(leaf), index, checkpoint.size, proof, checkpoint.root_hash)
    return {
        "request_id": request_id,
        "index": index,
        "entry": entry,
        "checkpoint": note,
        "inclusion_proof": {
            "size": checkpoint.size,
            "root": checkpoint.root_hash.hex(),
            "proof": [h.hex() for h in proof],
            "verified": verified,
        },
        "prompt_template": _prompt_template(spec_path, entry["variant"], entry["prompt_version"]),
        "record": _content(records.get_record(request_id), entry),
    }


def render_text(report: dict[str, Any]) -> str:
    """A readable account of :func:`explain_request`'s report."""
    e, p, t, r = report["entry"], report["inclusion_proof"], report["prompt_template"], report["record"]
    lines = [
        f"Request {report['request_id']}: audit entry #{report['index']} ({e['time']})",
        f"  decision: {e['outcome']} (HTTP {e['http_status']}) by {e['feature']}@{e['variant']} "
        f"on {e['provider']}/{e['model']}",
        f"  spec version {e['spec_version']}, prompt version {e['prompt_version']}",
        f"  user: {e['user']}",
        f"  guardrails: {e['guardrails'] or '{}'}; flags: {e['flags'] or '{}'}",
        f"  input sha256 {e['input_sha256']}",
        f"  output sha256 {e['output_sha256']}",
        "",
        f"Proof: inclusion in the signed tree of {p['size']} entries, root {p['root']}: "
        + ("VERIFIED" if p["verified"] else "FAILED"),
        *("  " + line for line in report["checkpoint"].rstrip("\n").splitlines()),
        "",
        f"Prompt template: {t['status']}" + (f" ({t.get('file')})" if t.get("file") else ""),
    ]
    if t.get("text"):
        lines += ["  " + line for line in t["text"].splitlines()]
    lines.append("")
    if "prompt" in r:
        lines.append(
            "Stored exchange (digests recomputed: input "
            + ("matches" if r["input_digest_matches"] else "DOES NOT MATCH")
            + ", output "
            + ("matches" if r["output_digest_matches"] else "DOES NOT MATCH")
            + "):"
        )
        for message in r["prompt"]:
            lines.append(f"  [{message.get('role')}] {message.get('content')}")
        lines.append(f"  [completion] {r['completion']}")
    else:
        lines.append(f"Stored exchange: {r.get('content') or r.get('status')}")
    return "\n".join(lines)

"""One request: its trace (prompt and completion, guardrails, attempts and fallbacks, timings) and
its audit entry, with the inclusion proof checked against the signed checkpoint.

The proof is checked here with runwell's own verifier (``runwell audit explain``'s code: the
checkpoint's signature, then the leaf's path to its root), and the page shows everything needed to
check it again: the leaf, the proof hashes, the signed checkpoint. A small inline script re-checks
the Merkle path in the browser with Web Crypto, so a reader need not trust the server's word.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from runwell.audit.explain import explain_request
from runwell.audit.merkle import leaf_hash
from runwell.console.html import (
    Child,
    Safe,
    badge,
    el,
    fmt_ms,
    fmt_num,
    fmt_time,
    fmt_usd,
    join,
    kv,
    layout,
    table,
)
from runwell.console.view import Response, View, html_response
from runwell.telemetry.record import RequestRecord

__all__ = ["PROOF_SCRIPT", "render"]

PROOF_SCRIPT = """
(async () => {
  const box = document.getElementById("proof");
  const out = document.getElementById("browser-check");
  if (!box || !out) return;
  if (!(window.crypto && crypto.subtle)) {
    out.textContent = "not available: browsers give Web Crypto only to https pages and localhost";
    return;
  }
  const fromHex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
  const toHex = (b) => Array.from(b).map((x) => x.toString(16).padStart(2, "0")).join("");
  const hash = async (prefix, ...parts) => {
    const buf = new Uint8Array(1 + parts.reduce((n, p) => n + p.length, 0));
    buf[0] = prefix;
    let at = 1;
    for (const p of parts) { buf.set(p, at); at += p.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  };
  const leaf = Uint8Array.from(atob(box.dataset.leaf), (c) => c.charCodeAt(0));
  const proof = box.dataset.proof ? box.dataset.proof.split(",").map(fromHex) : [];
  let fn = Number(box.dataset.index), sn = Number(box.dataset.size) - 1;
  let r = await hash(0, leaf);
  const leafOk = toHex(r) === box.dataset.leafHash;
  let ok = leafOk;
  for (const p of proof) {
    if (sn === 0) { ok = false; break; }
    if (fn % 2 === 1 || fn === sn) {
      r = await hash(1, p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await hash(1, r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  ok = ok && sn === 0 && toHex(r) === box.dataset.root;
  out.textContent = ok
    ? "verified: this browser recomputed the leaf hash and its path to root "
      + box.dataset.root.slice(0, 16) + "…"
    : "FAILED: the recomputed root does not match the signed checkpoint";
  out.dataset.result = ok ? "verified" : "failed";
})();
"""


def _summary(r: RequestRecord) -> Safe:
    tokens = f"{fmt_num(r.input_tokens)} in / {fmt_num(r.output_tokens)} out" + (
        f" ({fmt_num(r.cached_tokens)} cached)" if r.cached_tokens else ""
    )
    shadow: Child = el("a", r.shadow_of, href=f"/console/requests/{r.shadow_of}") if r.shadow_of else None
    return kv(
        [
            ("request id", r.request_id),
            ("trace id", r.trace_id),
            ("time", fmt_time(r.started_at)),
            ("feature / variant", f"{r.feature} / {r.variant}"),
            ("served by", r.served_by or "—"),
            (
                "provider / model",
                f"{r.provider} ({r.provider_kind}) / {r.model}"
                + (f" → {r.response_model}" if r.response_model else ""),
            ),
            (
                "status",
                join(
                    badge(f"{r.status} {r.http_status}", "ok" if r.status == "ok" else "bad"),
                    f" {r.error_class}: {r.error_message}" if r.error_class else "",
                ),
            ),
            ("outcome", r.outcome or "—"),
            ("user / API key", f"{r.user_id or '—'} / {r.api_key_id or '—'}"),
            ("spec / prompt version", f"{r.spec_version} / {r.prompt_version}"),
            ("latency", fmt_ms(r.latency_ms)),
            ("time to first token", fmt_ms(r.ttft_ms) + (" (stream)" if r.stream else "")),
            ("tokens", tokens),
            ("cost", fmt_usd(r.cost_usd)),
            ("finish reason", r.finish_reason or "—"),
            ("rollout arm", r.arm or "—"),
            ("shadow of", shadow or "—"),
            ("note", r.note or "—"),
        ]
    )


def _guardrails(r: RequestRecord) -> Safe:
    rows = []
    for name, decision in sorted((r.guardrails or {}).items()):
        if isinstance(decision, dict):
            status = str(decision.get("status", "?"))
            detail = ", ".join(f"{k}={v}" for k, v in decision.items() if k != "status")
        else:
            status, detail = str(decision), ""
        tone = {
            "passed": "ok",
            "blocked": "bad",
            "failed": "bad",
            "overridden": "warn",
            "flagged": "warn",
        }.get(status, "info")
        rows.append([name, badge(status, tone), detail])
    return table(
        "Guardrail decisions (kinds and counts, never the values found)",
        ["guardrail", "decision", "detail"],
        rows,
    )


def _attempts(r: RequestRecord) -> Safe:
    attempts: list[dict[str, Any]] = r.attempts or []
    keys: list[str] = []
    for attempt in attempts:
        keys += [k for k in attempt if k not in keys]
    rows = [[str(i + 1), *(str(a.get(k, "")) for k in keys)] for i, a in enumerate(attempts)]
    return table("Provider calls in order: retries, fallbacks and their timings", ["#", *keys], rows)


def _content(view: View, r: RequestRecord) -> Safe:
    if not view.may_see_content(r.feature):
        capture = view.capture_on(r.feature)
        why = (
            "content capture is off for this feature in its spec"
            if capture is False
            else "your sign-in may not read captured content"
        )
        return el("p", f"Prompt and completion hidden: {why}.", class_="muted")
    if r.prompt is None:
        return el("p", r.note or "Not captured for this request.", class_="muted")
    messages = [
        el(
            "div",
            el("div", str(m.get("role", "?")), class_="role"),
            el("pre", str(m.get("content", ""))),
            class_="message",
        )
        for m in r.prompt
    ]
    answer: list[Child] = [
        el("div", el("div", "completion", class_="role"), el("pre", r.completion or ""), class_="message")
    ]
    if r.tool_calls:
        answer.append(
            el("div", el("div", "tool calls", class_="role"), el("pre", str(r.tool_calls)), class_="message")
        )
    return join(el("h3", "Prompt, as the model saw it"), messages, el("h3", "Answer"), answer)


def _audit(view: View, report: dict[str, Any] | None, leaf: bytes | None) -> Safe:
    if report is None or leaf is None:
        return el(
            "p",
            "No audit entry names this request (a client error before any decision is not audited).",
            class_="muted",
        )
    entry, proof = report["entry"], report["inclusion_proof"]
    record = report["record"]
    digests = []
    for key, label in (("input_digest_matches", "input"), ("output_digest_matches", "output")):
        if key in record:
            digests.append(
                badge(
                    f"{label} digest {'matches' if record[key] else 'DOES NOT MATCH'}",
                    "ok" if record[key] else "bad",
                )
            )
    verdict = (
        badge("inclusion proof VERIFIED", "ok")
        if proof["verified"]
        else badge("inclusion proof FAILED", "bad")
    )
    box = el(
        "div",
        el("p", "Browser re-check: ", el("output", "checking…", id="browser-check", aria_live="polite")),
        id="proof",
        data_leaf=base64.b64encode(leaf).decode(),
        data_leaf_hash=leaf_hash(leaf).hex(),
        data_index=report["index"],
        data_size=proof["size"],
        data_root=proof["root"],
        data_proof=",".join(proof["proof"]),
    )
    entry_rows = [[k, str(v)] for k, v in sorted(entry.items())]
    template = report["prompt_template"]
    return join(
        el(
            "p",
            verdict,
            " ",
            digests,
            f" Entry #{report['index']} in the signed tree of {proof['size']} entries.",
        ),
        box,
        table("The audit entry as signed", ["field", "value"], entry_rows),
        el("h3", "Inclusion proof"),
        kv(
            [("leaf hash", leaf_hash(leaf).hex()), ("root", proof["root"]), ("tree size", str(proof["size"]))]
        ),
        el(
            "ol",
            [el("li", el("code", h)) for h in proof["proof"]]
            or el("li", "(the tree has one entry: no sibling hashes)"),
        ),
        el("h3", "Signed checkpoint"),
        el("pre", report["checkpoint"]),
        el("h3", "Leaf (RFC 8785 canonical JSON, as hashed)"),
        el("pre", leaf.decode("utf-8", "replace")),
        el(
            "p",
            f"Prompt template: {template.get('status')}"
            + (f" ({template.get('file')})" if template.get("file") else ""),
            class_="muted",
        ),
    )


def _explain(view: View, record: RequestRecord) -> tuple[dict[str, Any] | None, bytes | None]:
    log = view.sources.log
    loaded = view.sources.specs.get(record.feature or "")
    spec_path = loaded.path if loaded is not None else Path("/nonexistent/runwell.yaml")
    report = explain_request(log, view.sources.store, record.request_id, spec_path)
    if report is None:
        return None, None
    return report, log.leaf(report["index"])


async def render(view: View, request_id: str) -> Response:
    """``GET /console/requests/{id}``."""
    record = await view.run(lambda: view.sources.store.get_record(request_id))
    if record is None:
        body = el("p", f"No request {request_id!r} in this store.")
        return html_response(layout("Request not found", body, view.frame("requests")), 404)
    report, leaf = await view.run(lambda: _explain(view, record))
    body = join(
        el(
            "p",
            el(
                "a",
                "← all requests of this feature",
                href=view.link("/console/requests", feature=record.feature),
            ),
        ),
        el("section", el("h2", "Trace"), _summary(record), aria_label="Trace"),
        el("section", el("h2", "Guardrails"), _guardrails(record), aria_label="Guardrails"),
        el("section", el("h2", "Attempts and fallbacks"), _attempts(record), aria_label="Attempts"),
        el("section", el("h2", "Prompt and completion"), _content(view, record), aria_label="Content"),
        el(
            "section",
            el("h2", "Audit entry"),
            _audit(view, report, leaf),
            aria_label="Audit entry",
            id="audit",
        ),
    )
    script = PROOF_SCRIPT if report is not None else None
    return html_response(
        layout(f"Request {record.request_id[:12]}", body, view.frame("requests"), script=script)
    )

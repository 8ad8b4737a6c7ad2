"""Live evidence from a running gateway, gathered once before the checks read it.

- ``/readyz`` as the admin sees it (every check's detail);
- one probe request: is a model loaded and answering, and which spec version served it (its signed
  audit entry says);
- the kill switch probe: switch the feature off through the admin API, send a probe request, see it
  answered by the degradation with no model traffic (no tokens counted in ``/metrics`` while the
  probe's degraded answer is), switch it back on. Both switches are audited state changes (actor
  ``admin-api:readiness-check``). A feature that was already killed is left killed and not probed;
- the signed audit log, rebuilt from ``/audit/entries`` and checked against the signed checkpoint
  (and against a trusted checkpoint, when one is given).

Chat probes need an API key: ``$RUNWELL_API_KEY``, or else a key created for the check through the
admin API and revoked at the end (both audited).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from runwell.errors import RunwellError
from runwell.readiness.http import Answer, GatewayClient, metric_sum

__all__ = ["KillProbe", "LiveFacts", "gather_live"]

_REASON = "runwell check: kill switch probe"


@dataclass
class KillProbe:
    """What the kill switch probe saw."""

    ok: bool = False
    steps: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class LiveFacts:
    """Everything read from the gateway (``error`` set when it could not be reached at all)."""

    url: str
    error: str | None = None
    admin: bool = False
    readyz_status: int | None = None
    readyz: dict[str, Any] = field(default_factory=dict)
    answer: Answer | None = None
    answer_error: str | None = None
    answer_entry: dict[str, Any] | None = None
    kill: KillProbe = field(default_factory=KillProbe)
    audit_ok: bool | None = None
    audit_detail: str = ""
    key_note: str = ""


def _entries(client: GatewayClient, last: int) -> list[dict[str, Any]]:
    head = client.get("/audit/entries?start=0&end=0")
    if head.status != 200 or not isinstance(head.body, dict):
        return []
    size = int(head.body.get("size") or 0)
    page = client.get(f"/audit/entries?start={max(0, size - last)}&end={size}")
    if page.status != 200 or not isinstance(page.body, dict):
        return []
    return [orjson.loads(text) for text in page.body.get("entries", [])]


def _entry_for(client: GatewayClient, request_id: str, wait_s: float = 5.0) -> dict[str, Any] | None:
    deadline = time.monotonic() + wait_s
    while True:
        for entry in reversed(_entries(client, 200)):
            if entry.get("request_id") == request_id:
                return dict(entry)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def _tokens(client: GatewayClient, feature: str) -> tuple[float, float]:
    text = client.get("/metrics", admin=False).body
    text = text if isinstance(text, str) else ""
    return (
        metric_sum(text, "runwell_tokens_total", feature=feature),
        metric_sum(text, "runwell_outcomes_total", feature=feature, outcome="degraded"),
    )


def _settled(client: GatewayClient, feature: str, wait_s: float = 10.0) -> tuple[float, float]:
    """The metrics once two reads half a second apart agree (or after ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    last = _tokens(client, feature)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _tokens(client, feature)
        if now == last:
            return now
        last = now
    return last


def _degraded(answer: Answer) -> str | None:
    """Why the answer was not a model's (``None`` when a model answered)."""
    body = answer.body if isinstance(answer.body, dict) else {}
    marker = body.get("runwell")
    if isinstance(marker, dict) and marker.get("outcome") == "degraded":
        return str(marker.get("reason"))
    error = body.get("error")
    if isinstance(error, dict) and str(error.get("code", "")).startswith("feature_"):
        return str(error["code"]).removeprefix("feature_")
    return None


def _kill_probe(client: GatewayClient, feature: str) -> KillProbe:
    probe = KillProbe()
    switched = client.admin("POST", "/admin/kill", {"feature": feature, "reason": _REASON})
    if switched.status != 200:
        probe.error = f"POST /admin/kill answered {switched.status}: {_message(switched)}"
        return probe
    if not switched.body.get("changed"):
        probe.error = "the feature was already killed; left as it was, not probed"
        return probe
    probe.steps.append("kill switch on (POST /admin/kill, audited)")
    try:
        # The baseline is taken once the kill is in force and the metrics settled: requests that
        # were in flight (or not yet recorded) before it must not count against the probe.
        before_tokens, before_degraded = _settled(client, feature)
        answer = client.chat(feature, "readiness probe: the kill switch is on")
        reason = _degraded(answer)
        served = answer.headers.get("x-runwell-served-by", "-")
        probe.steps.append(f"probe answered {answer.status}, served by {served}, reason {reason or '-'}")
        deadline = time.monotonic() + 10.0
        tokens, degraded = _tokens(client, feature)
        while degraded <= before_degraded and time.monotonic() < deadline:
            time.sleep(0.2)
            tokens, degraded = _tokens(client, feature)
        counted = degraded > before_degraded
        no_traffic = counted and tokens == before_tokens
        probe.steps.append(
            f"/metrics: degraded answers {before_degraded:g} -> {degraded:g}, "
            f"model tokens {before_tokens:g} -> {tokens:g}"
        )
        probe.ok = reason == "killed" and no_traffic
        if reason != "killed":
            probe.error = "the probe was not answered by the kill switch's degradation"
        elif not no_traffic:
            probe.error = "model tokens were counted while the kill switch was on"
    finally:
        back = client.admin("POST", "/admin/unkill", {"feature": feature, "reason": _REASON})
        if back.status == 200:
            probe.steps.append("kill switch off again (POST /admin/unkill, audited)")
        else:
            probe.ok = False
            probe.error = f"could not switch the feature back on: {back.status} {_message(back)}"
    return probe


def _message(answer: Answer) -> str:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message"))
    return str(body)[:200]


def _audit(client: GatewayClient, vkey: str | None, trusted: str | None) -> tuple[bool | None, str]:
    from runwell.audit.errors import AuditError
    from runwell.audit.merkle import MerkleTree, leaf_hash
    from runwell.audit.note import Checkpoint, open_note

    if vkey is None:
        return False, "no verifier key to check the gateway's checkpoint with (give --vkey)"
    note = client.get("/audit/checkpoint")
    if note.status != 200 or not isinstance(note.body, str):
        return False, f"GET /audit/checkpoint answered {note.status}"
    try:
        checkpoint = Checkpoint.parse(open_note(note.body, [vkey]))
        pinned = Checkpoint.parse(open_note(trusted, [vkey])) if trusted else None
    except AuditError as exc:
        return False, f"a checkpoint does not verify with the key: {exc}"
    tree = MerkleTree()
    start = 0
    while start < checkpoint.size:
        end = min(checkpoint.size, start + 1000)
        page = client.get(f"/audit/entries?start={start}&end={end}")
        if page.status != 200 or not isinstance(page.body, dict):
            return False, f"GET /audit/entries answered {page.status}"
        tree.extend(leaf_hash(text.encode()) for text in page.body["entries"])
        start = end
    if tree.root(checkpoint.size) != checkpoint.root_hash:
        return False, f"the entries do not rebuild the signed root of size {checkpoint.size}: tampered"
    detail = f"{checkpoint.size} entries rebuild the signed checkpoint's root"
    if pinned is not None:
        if pinned.size > checkpoint.size or tree.root(pinned.size) != pinned.root_hash:
            return False, f"the log does not extend the trusted checkpoint of size {pinned.size}"
        detail += f"; it extends the trusted checkpoint of size {pinned.size}"
    return True, detail


def _ensure_key(client: GatewayClient, facts: LiveFacts) -> str | None:
    """The API key's id when one was created for the check (to revoke at the end)."""
    env = os.environ.get("RUNWELL_API_KEY")
    if env:
        client.api_key, facts.key_note = env, "API key from $RUNWELL_API_KEY"
        return None
    made = client.admin(
        "POST", "/admin/keys", {"name": f"readiness-probe-{os.urandom(3).hex()}", "reason": _REASON}
    )
    if made.status != 201 or not isinstance(made.body, dict):
        facts.key_note = f"no API key: $RUNWELL_API_KEY is unset and POST /admin/keys answered {made.status}"
        return None
    client.api_key, facts.key_note = str(made.body["secret"]), "a probe API key created and revoked"
    return str(made.body["id"])


def gather_live(
    url: str,
    feature: str,
    *,
    admin_token: str | None,
    vkey: str | None = None,
    trusted_checkpoint: str | None = None,
    kill_probe: bool = True,
) -> LiveFacts:
    """Read the gateway at ``url`` about ``feature`` (see the module docstring)."""
    facts = LiveFacts(url=url, admin=bool(admin_token))
    client = GatewayClient(url, admin_token=admin_token)
    try:
        ready = client.get(f"/readyz?feature={quote(feature)}")
        facts.readyz_status = ready.status
        facts.readyz = ready.body if isinstance(ready.body, dict) else {}
        if not admin_token:
            facts.answer_error = "RUNWELL_ADMIN_TOKEN is not set: the live probes need the admin token"
            facts.kill.error = facts.answer_error
            facts.audit_ok, facts.audit_detail = False, facts.answer_error
            return facts
        created = _ensure_key(client, facts)
        try:
            if client.api_key is None:
                facts.answer_error = facts.kill.error = facts.key_note
            else:
                facts.answer = client.chat(feature, "readiness probe: say OK")
                rid = facts.answer.headers.get("x-request-id")
                if rid:
                    facts.answer_entry = _entry_for(client, rid)
                if kill_probe:
                    facts.kill = _kill_probe(client, feature)
        finally:
            if created is not None:
                client.admin("DELETE", f"/admin/keys/{created}?reason={quote(_REASON)}")
        facts.audit_ok, facts.audit_detail = _audit(client, vkey, trusted_checkpoint)
    except RunwellError as exc:
        facts.error = str(exc)
    return facts

"""The signed audit log, end to end: entries per decision, state changes, proofs over HTTP,
tampering caught by `runwell audit verify`, and nothing answered lost to `kill -9`."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from runwell.audit import Checkpoint, leaf_hash, open_note, verify_consistency, verify_inclusion
from tests.gateway.conftest import ADMIN_TOKEN, Gateway, runwell, start_gateway, stop_gateway

MSG = [{"role": "user", "content": "hello"}]


def entries(root: Path, db: str | None = None) -> list[dict]:
    args = ["audit", "export", "--dir", str(root)] + (["--db", db] if db else [])
    return [json.loads(line) for line in runwell(*args, cwd=root).stdout.splitlines()]


def vkey(root: Path) -> str:
    return (root / ".runwell" / "audit.vkey").read_text().strip()


def get(gw: Gateway, path: str, auth: str | None = "key") -> tuple[int, bytes]:
    headers = {}
    if auth == "key":
        headers["Authorization"] = f"Bearer {gw.key}"
    elif auth:
        headers["Authorization"] = auth
    try:
        with urllib.request.urlopen(urllib.request.Request(gw.url + path, headers=headers), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_each_model_decision_has_one_signed_entry_and_bad_input_has_none(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    served = client.chat.completions.with_raw_response.create(model="support", messages=MSG, user="u-1")
    streamed = list(client.chat.completions.create(model="support", messages=MSG, stream=True))
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="support@err500", messages=MSG)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=MSG)
    ids = {served.headers["x-request-id"]: "served", streamed[0].id.removeprefix("chatcmpl-"): "served"}
    time.sleep(0.2)
    by_request = {}
    for e in entries(gateway.root):
        if e["type"] == "decision":
            by_request.setdefault(e["request_id"], []).append(e)
    for rid, outcome in ids.items():
        (entry,) = by_request[rid]
        assert entry["outcome"] == outcome and entry["feature"] == "support" and entry["variant"] == "main"
        assert entry["spec_version"] == gateway.record(rid)["spec_version"]
    assert by_request[served.headers["x-request-id"]][0]["user"] == "u-1"
    errors = [e for es in by_request.values() for e in es if e["outcome"] == "error"]
    assert any(
        e["variant"] == "err500" and e["http_status"] == 502 and e["output_sha256"] is None for e in errors
    )
    assert not any(e["feature"] == "nope" for es in by_request.values() for e in es)


def test_explain_proves_the_entry_and_rechecks_the_stored_content(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="support@templated", messages=MSG, extra_body={"variables": {"company": "Acme"}}
    )
    rid = raw.headers["x-request-id"]
    out = runwell("audit", "explain", rid, "--json", "--dir", str(gateway.root), cwd=gateway.root)
    report = json.loads(out.stdout)
    assert report["inclusion_proof"]["verified"] is True
    assert report["record"]["input_digest_matches"] is True
    assert report["record"]["output_digest_matches"] is True
    assert report["prompt_template"]["status"] == "matches"
    assert "support assistant of {{ company }}" in report["prompt_template"]["text"]
    assert report["entry"]["prompt_version"].startswith("3+")
    text = runwell("audit", "explain", rid, "--dir", str(gateway.root), cwd=gateway.root).stdout
    assert "VERIFIED" in text and "input matches, output matches" in text
    missing = runwell(
        "audit", "explain", "no-such-request", "--dir", str(gateway.root), cwd=gateway.root, check=False
    )
    assert missing.returncode == 1 and "no audit entry" in missing.stderr


def test_http_checkpoint_and_proofs_verify_independently(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model="support", messages=MSG)
    status, note = get(gateway, "/audit/checkpoint")
    assert status == 200
    checkpoint = Checkpoint.parse(open_note(note.decode(), [vkey(gateway.root)]))
    size = checkpoint.size
    status, body = get(gateway, f"/audit/entries?start=0&end={size}", auth=f"Bearer {ADMIN_TOKEN}")
    leaves = json.loads(body)["entries"]
    assert status == 200 and len(leaves) == size
    index = size - 1
    status, body = get(gateway, f"/audit/proof/inclusion?index={index}&size={size}")
    proof = json.loads(body)
    assert proof["leaf_hash"] == leaf_hash(leaves[index].encode()).hex()
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        index,
        size,
        [bytes.fromhex(h) for h in proof["proof"]],
        checkpoint.root_hash,
    )
    client.chat.completions.create(model="support", messages=MSG)
    status, body = get(gateway, f"/audit/proof/consistency?from={size}&to={size + 1}")
    cons = json.loads(body)
    assert cons["old_root"] == checkpoint.root_hash.hex()
    assert verify_consistency(
        size,
        size + 1,
        checkpoint.root_hash,
        bytes.fromhex(cons["new_root"]),
        [bytes.fromhex(h) for h in cons["proof"]],
    )


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/audit/proof/inclusion?size=1", "index"),
        ("/audit/proof/inclusion?index=abc", "index"),
        ("/audit/proof/inclusion?index=999999", "index"),
        ("/audit/proof/inclusion?index=0&size=999999", "size"),
        ("/audit/proof/consistency?from=5&to=999999", "size"),
        ("/audit/entries?start=0&end=999999", "end"),
    ],
)
def test_bad_audit_queries_get_400_naming_the_parameter(gateway: Gateway, path: str, param: str) -> None:
    status, body = get(gateway, path, auth=f"Bearer {ADMIN_TOKEN}")
    assert status == 400 and json.loads(body)["error"]["param"] == param


def test_audit_endpoints_need_a_key_or_the_admin_token(gateway: Gateway) -> None:
    assert get(gateway, "/audit/checkpoint", auth=None)[0] == 401
    assert get(gateway, "/audit/entries", auth=None)[0] == 401
    assert get(gateway, "/audit/checkpoint", auth=f"Bearer {ADMIN_TOKEN}")[0] == 200


def test_only_the_admin_token_reads_entries_which_name_every_clients_users(gateway: Gateway) -> None:
    # A client key may check proofs and the checkpoint, but entries hold other clients' user ids.
    status, body = get(gateway, "/audit/entries?start=0&end=1")
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_admin_token"
    assert get(gateway, "/audit/entries?start=0&end=1", auth=f"Bearer {ADMIN_TOKEN}")[0] == 200


def test_state_changes_are_logged_with_actor_reason_and_before_after(gateway: Gateway) -> None:
    root = gateway.root
    out = runwell(
        "keys",
        "create",
        "auditor-test",
        "--reason",
        "ticket OPS-12",
        "--dir",
        str(root),
        cwd=root,
        env={"RUNWELL_ACTOR": "ada@example.com"},
    )
    key_id = next(e for e in entries(root)[::-1] if e["type"] == "change")["subject"]
    runwell(
        "keys",
        "revoke",
        "auditor-test",
        "--reason",
        "offboarded",
        "--dir",
        str(root),
        cwd=root,
        env={"RUNWELL_ACTOR": "ada@example.com"},
    )
    _got, created, _ = _admin_create(gateway, "api-made")
    changes = [e for e in entries(root) if e["type"] == "change"]
    made = next(e for e in changes if e["kind"] == "api_key_created" and e["subject"] == key_id)
    assert made["actor"] == "ada@example.com" and made["reason"] == "ticket OPS-12"
    assert made["after"]["name"] == "auditor-test" and "rw-" not in json.dumps(made)
    revoked = next(e for e in changes if e["kind"] == "api_key_revoked" and e["subject"] == key_id)
    assert revoked["before"] == {"revoked": False} and revoked["after"] == {"revoked": True}
    assert revoked["reason"] == "offboarded"
    assert any(
        e["kind"] == "api_key_created" and e["subject"] == created["id"] and e["actor"] == "admin-api"
        for e in changes
    )
    assert out.stdout.startswith("rw-")


def _admin_create(gw: Gateway, name: str) -> tuple[int, dict, None]:
    req = urllib.request.Request(
        f"{gw.url}/admin/keys",
        data=json.dumps({"name": name}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read()), None


def test_spec_deploys_are_logged_once_per_version(tmp_path: Path) -> None:
    root = tmp_path / "f"
    runwell("init", "helpdesk", "--provider", "sim", "--dir", str(root), cwd=tmp_path)
    stop_gateway(start_gateway(root, specs=("runwell.yaml",)))
    stop_gateway(start_gateway(root, specs=("runwell.yaml",)))  # same spec: no new deploy entry
    spec = root / "runwell.yaml"
    spec.write_text(spec.read_text().replace("request_s: 30", "request_s: 20"))
    stop_gateway(start_gateway(root, specs=("runwell.yaml",)))
    deploys = [e for e in entries(root) if e["type"] == "change" and e["kind"] == "spec_deployed"]
    assert len(deploys) == 2
    assert deploys[0]["before"] is None and deploys[1]["before"] == deploys[0]["after"]
    assert deploys[1]["after"] != deploys[0]["after"] and deploys[1]["after"].startswith("nogit+")


def test_keygen_writes_a_private_key_once(tmp_path: Path) -> None:
    out = runwell("audit", "keygen", "--dir", str(tmp_path), cwd=tmp_path)
    key = tmp_path / ".runwell" / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert out.stdout.strip() == vkey(tmp_path)
    assert re.fullmatch(r"runwell\.[\w.-]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*", out.stdout.strip())
    again = runwell("audit", "keygen", "--dir", str(tmp_path), cwd=tmp_path, check=False)
    assert again.returncode == 2 and "never overwrites" in again.stderr


def _tamper(db: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")  # a database owner can; the tree still catches it
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def test_verify_names_the_first_tampered_index(tmp_path: Path) -> None:
    root = tmp_path / "f"
    runwell("init", "helpdesk", "--provider", "sim", "--dir", str(root), cwd=tmp_path)
    gw = start_gateway(root, specs=("runwell.yaml",))
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
    for _ in range(5):
        client.chat.completions.create(model="helpdesk", messages=MSG)
    stop_gateway(gw)  # signs a final checkpoint
    ok = runwell("audit", "verify", "--dir", str(root), cwd=root)
    assert ok.stdout.startswith("OK: 7 entries")
    trusted = tmp_path / "trusted.note"
    trusted.write_text(runwell("audit", "checkpoint", "--dir", str(root), cwd=root).stdout)
    assert (
        runwell(
            "audit", "verify", "--trusted-checkpoint", str(trusted), "--dir", str(root), cwd=root
        ).returncode
        == 0
    )

    db = root / ".runwell" / "runwell.db"
    leaf = sqlite3.connect(db).execute("SELECT leaf FROM audit_entries WHERE idx = 4").fetchone()[0]
    _tamper(
        db,
        "UPDATE audit_entries SET leaf = ? WHERE idx = 4",
        leaf.replace(b'"outcome":"served"', b'"outcome":"blocked"'),
    )
    bad = runwell("audit", "verify", "--dir", str(root), cwd=root, check=False)
    assert bad.returncode == 1 and "first bad index 4" in bad.stdout
    _tamper(db, "UPDATE audit_entries SET leaf = ? WHERE idx = 4", leaf)
    _tamper(db, "DELETE FROM audit_entries WHERE idx = 3")
    bad = runwell("audit", "verify", "--dir", str(root), cwd=root, check=False)
    assert bad.returncode == 1 and "first bad index 3" in bad.stdout


def test_kill_9_under_load_loses_no_answered_decision(tmp_path: Path) -> None:
    root = tmp_path / "f"
    runwell("init", "helpdesk", "--provider", "sim", "--dir", str(root), cwd=tmp_path)
    gw = start_gateway(root, specs=("runwell.yaml",))
    answered: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0, timeout=5)
        while not stop.is_set():
            try:
                raw = client.chat.completions.with_raw_response.create(model="helpdesk", messages=MSG)
                raw.parse()
                answered.append(raw.headers["x-request-id"])
            except openai.APIError:
                return  # the gateway is gone

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    # Under load for 2 s and at least 60 answers, however slow the machine (up to 30 s).
    started = time.monotonic()
    while (len(answered) < 60 or time.monotonic() < started + 2) and time.monotonic() < started + 30:
        time.sleep(0.05)
    os.kill(gw.proc.pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    gw.proc.wait(timeout=10)
    assert len(answered) > 50
    report = runwell("audit", "verify", "--dir", str(root), cwd=root, check=False)
    assert report.returncode == 0, report.stdout + report.stderr
    logged = {e["request_id"] for e in entries(root) if e["type"] == "decision"}
    missing = [rid for rid in answered if rid not in logged]
    assert not missing, f"{len(missing)} answered requests have no audit entry"
    # Restarting reopens the log (its tree is rebuilt and checked against the last checkpoint)
    # and rebuilds any request record the kill cut off from its audit entry: nothing answered is
    # left without a record.
    stop_gateway(start_gateway(root, specs=("runwell.yaml",)))
    with sqlite3.connect(root / ".runwell" / "runwell.db") as db:
        stored = {rid for (rid,) in db.execute("SELECT request_id FROM requests")}
    assert not [rid for rid in answered if rid not in stored]


@pytest.mark.postgres
def test_two_gateways_on_one_postgres_keep_one_linear_log(tmp_path: Path, pg_url: str) -> None:
    root = tmp_path / "f"
    runwell("init", "helpdesk", "--provider", "sim", "--dir", str(root), cwd=tmp_path)
    first = start_gateway(root, db=pg_url, specs=("runwell.yaml",))
    second = start_gateway(root, db=pg_url, specs=("runwell.yaml",))
    try:

        def burst(gw: Gateway) -> None:
            client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
            for _ in range(30):
                client.chat.completions.create(model="helpdesk", messages=MSG)

        threads = [threading.Thread(target=burst, args=(gw,)) for gw in (first, second, first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop_gateway(first)
        stop_gateway(second)
    logged = entries(root, pg_url)
    assert [e["index"] for e in logged] == list(range(len(logged)))
    assert sum(e["type"] == "decision" for e in logged) == 120
    report = runwell("audit", "verify", "--db", pg_url, "--dir", str(root), cwd=root)
    assert report.stdout.startswith(f"OK: {len(logged)} entries")


def test_user_ids_are_keyed_hashes_when_the_spec_asks(tmp_path: Path) -> None:
    root = tmp_path / "f"
    runwell("init", "helpdesk", "--provider", "sim", "--dir", str(root), cwd=tmp_path)
    spec = root / "runwell.yaml"
    spec.write_text(spec.read_text().replace("hash: false", "hash: true"))
    gw = start_gateway(root, specs=("runwell.yaml",))
    try:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
        client.chat.completions.create(model="helpdesk", messages=MSG, user="alice@example.com")
        client.chat.completions.create(model="helpdesk", messages=MSG, user="alice@example.com")
    finally:
        stop_gateway(gw)
    users = [e["user"] for e in entries(root) if e["type"] == "decision"]
    assert len(users) == 2 and users[0] == users[1]
    assert users[0].startswith("hmac-sha256:") and "alice" not in users[0]


def test_checkpoint_policy_is_configurable(tmp_path: Path) -> None:
    root = tmp_path / "f"
    runwell("init", "helpdesk", "--provider", "sim", "--dir", str(root), cwd=tmp_path)
    gw = start_gateway(
        root, specs=("runwell.yaml",), extra_args=("--checkpoint-every", "2", "--checkpoint-seconds", "3600")
    )
    try:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=gw.key, max_retries=0)
        for _ in range(4):
            client.chat.completions.create(model="helpdesk", messages=MSG)
    finally:
        stop_gateway(gw)
    report = runwell("audit", "verify", "--dir", str(root), cwd=root).stdout
    checkpoints = int(re.search(r"(\d+) checkpoints verified", report).group(1))
    # 6 entries (key, deploy, 4 decisions) signed every 2 entries: at least 3 checkpoints, where
    # the default policy (100 entries / 10 s) would leave only the one signed at shutdown.
    assert checkpoints >= 3, report


def test_prove_and_consistency_cli_print_checked_hex_proofs(gateway: Gateway) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.key, max_retries=0)
    client.chat.completions.create(model="support", messages=MSG)
    size = len(entries(gateway.root))
    where = ("--dir", str(gateway.root))
    proof = json.loads(runwell("audit", "prove", "0", "--size", str(size), *where, cwd=gateway.root).stdout)
    assert proof["verified"] is True and proof["size"] == size
    assert all(len(h) == 64 for h in proof["proof"])
    cons = json.loads(runwell("audit", "consistency", "1", str(size), *where, cwd=gateway.root).stdout)
    assert cons["verified"] is True and cons["from"] == 1 and cons["to"] == size
    bad = runwell("audit", "prove", str(size + 5), *where, cwd=gateway.root, check=False)
    assert bad.returncode == 2 and "INDEX < SIZE" in bad.stderr
    bad = runwell("audit", "consistency", "3", "2", *where, cwd=gateway.root, check=False)
    assert bad.returncode == 2 and "FROM <= TO" in bad.stderr

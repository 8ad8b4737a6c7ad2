"""The console in process (its ASGI app over a real SQLite store and audit log): sign-in, sessions,
CSRF, roles, what a viewer may read, and the palette's contrast."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from runwell.audit.open import open_audit_log
from runwell.console import ConsoleApp, ConsoleSettings, ConsoleSources
from runwell.console.html import el
from runwell.console.sessions import SessionSigner
from runwell.console.theme import GRAPHIC_COLOURS, PALETTE, TEXT_PAIRS, contrast_ratio
from runwell.control import levers
from runwell.errors import ConfigError
from runwell.spec.loader import load_spec
from runwell.store import Store, open_store
from runwell.telemetry.record import RequestRecord
from tests.console.project import write_project

ADMIN = "admin-token-for-unit-tests-0001"
VIEWER = "viewer-token-for-unit-tests-0001"


def _settings(**env: str) -> ConsoleSettings:
    environ = {
        "RUNWELL_CONSOLE": "on",
        "RUNWELL_ADMIN_TOKEN": ADMIN,
        "RUNWELL_CONSOLE_VIEWER_TOKEN": VIEWER,
        **env,
    }
    return ConsoleSettings.from_env(environ, derive_from=b"k" * 32)


@pytest.fixture
def project(
    tmp_path: Path, make_record: Callable[..., RequestRecord]
) -> Iterator[tuple[Store, ConsoleSources]]:
    support, notes = write_project(tmp_path, "http://127.0.0.1:9")
    store = open_store(None, base_dir=tmp_path)
    handle = open_audit_log(tmp_path, db=store.db)
    specs = {s.name: s for s in (load_spec(support), load_spec(notes))}
    now = time.time()
    store.write_records(
        [
            make_record(
                request_id="a" * 24, feature="support", started_at=now - 60, completion="SUPPORT-ANSWER"
            ),
            make_record(request_id="b" * 24, feature="notes", started_at=now - 30, completion="NOTES-ANSWER"),
        ]
    )
    yield store, ConsoleSources(store=store, log=handle.log, specs=specs, where="standalone")
    handle.close()
    store.close()


def _client(app: ConsoleApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def _sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    page = await client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    return await client.post(
        "/console/login", data={"csrf": csrf.group(1), "token": token, "next": "/console"}
    )


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_off_unless_configured_every_console_path_is_a_one_line_404() -> None:
    settings = ConsoleSettings.from_env({}, derive_from=b"k" * 32)
    assert not settings.enabled
    async with _client(ConsoleApp(settings, None)) as client:
        for path in ("/console", "/console/requests", "/console/login"):
            answer = await client.get(path)
            assert answer.status_code == 404
            assert answer.text.count("\n") == 1 and "RUNWELL_CONSOLE=on" in answer.text


def test_a_short_token_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        ConsoleSettings.from_env({"RUNWELL_CONSOLE_VIEWER_TOKEN": "short"}, derive_from=b"k")


async def test_pages_need_a_sign_in_and_a_wrong_token_is_refused(
    project: tuple[Store, ConsoleSources],
) -> None:
    async with _client(ConsoleApp(_settings(), project[1])) as client:
        answer = await client.get("/console/requests")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")
        refused = await _sign_in(client, "not-the-token-at-all-000000")
        assert refused.status_code == 401 and "not-the-token" not in refused.text
        assert (await client.get("/console")).status_code == 303


async def test_every_page_carries_the_security_headers(project: tuple[Store, ConsoleSources]) -> None:
    async with _client(ConsoleApp(_settings(), project[1])) as client:
        signed = await _sign_in(client, VIEWER)
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
        page = await client.get("/console/requests")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        nonce = re.search(r"'nonce-([^']+)'", csp)
        assert nonce and f'nonce="{nonce.group(1)}"' in page.text
        assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"


async def test_a_viewer_reads_no_captured_content_and_pulls_no_lever(
    project: tuple[Store, ConsoleSources],
) -> None:
    async with _client(ConsoleApp(_settings(), project[1])) as client:
        await _sign_in(client, VIEWER)
        page = await client.get("/console/requests/" + "a" * 24)
        assert page.status_code == 200 and "SUPPORT-ANSWER" not in page.text and "hidden" in page.text
        assert ADMIN not in page.text and VIEWER not in page.text
        levers_page = await client.get("/console/levers")
        assert levers_page.status_code == 403
        posted = await client.post(
            "/console/levers/kill",
            data={"csrf": _csrf(page.text), "feature": "support", "reason": "x", "confirm": "yes"},
        )
        assert posted.status_code == 403
    assert levers.list_levers(project[0].db) == []


async def test_a_viewer_may_read_content_when_allowed_but_never_where_capture_is_off(
    project: tuple[Store, ConsoleSources],
) -> None:
    async with _client(ConsoleApp(_settings(RUNWELL_CONSOLE_VIEWER_CONTENT="on"), project[1])) as client:
        await _sign_in(client, VIEWER)
        assert "SUPPORT-ANSWER" in (await client.get("/console/requests/" + "a" * 24)).text
        notes = await client.get("/console/requests/" + "b" * 24)
        assert "NOTES-ANSWER" not in notes.text and "capture is off" in notes.text


async def test_a_lever_needs_the_csrf_token_a_confirmation_and_is_audited(
    project: tuple[Store, ConsoleSources],
) -> None:
    store, sources = project
    async with _client(ConsoleApp(_settings(), sources)) as client:
        await _sign_in(client, ADMIN)
        page = await client.get("/console/levers?feature=support")
        form = {"feature": "support", "reason": "unit test", "variant": "", "operator": "ada"}
        assert (await client.post("/console/levers/kill", data={**form, "csrf": "forged"})).status_code == 403
        foreign = await client.post(
            "/console/levers/kill",
            data={**form, "csrf": _csrf(page.text)},
            headers={"origin": "http://evil.test"},
        )
        assert foreign.status_code == 403
        confirm = await client.post("/console/levers/kill", data={**form, "csrf": _csrf(page.text)})
        assert confirm.status_code == 200 and "Kill support" in confirm.text
        assert levers.list_levers(store.db) == []  # nothing happens before the confirmation
        done = await client.post(
            "/console/levers/kill", data={**form, "csrf": _csrf(page.text), "confirm": "yes"}
        )
        assert done.status_code == 303 and "done=kill" in done.headers["location"]
        no_reason = await client.post(
            "/console/levers/guardrail_off",
            data={"feature": "support", "guardrail": "pii_redaction", "reason": "", "csrf": _csrf(page.text)},
        )
        assert no_reason.status_code == 400 and "reason is required" in no_reason.text
        no_expiry = await client.post(
            "/console/levers/guardrail_off",
            data={
                "feature": "support",
                "guardrail": "pii_redaction",
                "reason": "r",
                "csrf": _csrf(page.text),
            },
        )
        assert no_expiry.status_code == 400 and "expiry is required" in no_expiry.text
    (row,) = levers.list_levers(store.db)
    assert (row.kind, row.subject, row.actor, row.reason) == (
        "kill",
        "support",
        "console-admin:ada",
        "unit test",
    )
    entry = sources.log.entry(sources.log.size - 1)
    assert entry["kind"] == "kill_switch" and entry["actor"] == "console-admin:ada"


def test_sessions_end_when_forged_expired_or_the_token_rotates() -> None:
    clock = [1000.0]
    signer = SessionSigner(_settings(), clock=lambda: clock[0])
    session, cookie = signer.issue("viewer")
    assert signer.read(cookie) == session
    _role, expires, nonce, sig = cookie.split(".")
    assert signer.read(f"admin.{expires}.{nonce}.{sig}") is None  # the role cannot be edited
    rotated = SessionSigner(
        ConsoleSettings.from_env(
            {"RUNWELL_CONSOLE_VIEWER_TOKEN": "a-brand-new-viewer-token-0000", "RUNWELL_ADMIN_TOKEN": ADMIN},
            derive_from=b"k" * 32,
        ),
        clock=lambda: clock[0],
    )
    assert rotated.read(cookie) is None
    clock[0] += 13 * 3600
    assert signer.read(cookie) is None
    assert not signer.csrf_ok(session, None) and signer.csrf_ok(session, session.csrf)


def test_markup_is_escaped_unless_built_as_markup() -> None:
    assert el("p", "<script>x</script>") == "<p>&lt;script&gt;x&lt;/script&gt;</p>"
    assert el("a", "x", href='" onclick="y') == '<a href="&quot; onclick=&quot;y">x</a>'


def test_every_text_colour_meets_wcag_aa_and_every_graphic_3_to_1() -> None:
    for fg, bg in TEXT_PAIRS:
        assert contrast_ratio(PALETTE[fg], PALETTE[bg]) >= 4.5, (fg, bg)
    for fg, bg in GRAPHIC_COLOURS:
        assert contrast_ratio(PALETTE[fg], PALETTE[bg]) >= 3.0, (fg, bg)
    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0


def test_runwell_console_serves_the_pages_standalone_over_the_database(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import urllib.request

    from tests.gateway.conftest import free_port, wait_http

    write_project(tmp_path, "http://127.0.0.1:9")
    store = open_store(None, base_dir=tmp_path)
    open_audit_log(tmp_path, db=store.db).close()  # the project's audit key, as runwell serve makes it
    store.close()
    port = free_port()
    env = {**os.environ, "RUNWELL_CONSOLE_VIEWER_TOKEN": VIEWER}
    env.pop("RUNWELL_ADMIN_TOKEN", None)
    args = [sys.executable, "-m", "runwell", "console", "--dir", str(tmp_path), "--port", str(port)]
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/login") as answer:
            page = answer.read().decode()
        assert "the viewer token" in page and "the admin token" not in page  # read-only: no admin token set
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert b"read-only" in (proc.stderr.read() if proc.stderr else b"")

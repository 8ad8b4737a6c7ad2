"""The console in headless Chromium: sign in, walk every page, follow a request to its verified audit
entry, pull the kill switch and see the next request degraded, label a review item; screenshots of
every page go to tests/console/artifacts/ and every page passes axe-core's WCAG A/AA rules."""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.console.conftest import ADMIN_TOKEN, ARTIFACTS, VIEWER_TOKEN, ConsoleProject, wait_for_records
from tests.console.project import DEGRADED

pytestmark = pytest.mark.slow

PAGES = ["/console", "/console/requests", "/console/evals", "/console/rollouts", "/console/operations"]
WCAG = {"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}


def _sign_in(page: Any, base: str, token: str, target: str = "/console") -> None:
    page.goto(base + target)
    assert "/console/login" in page.url  # every page needs a sign-in
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(base + target) + r"(\?.*)?$"))


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _accessible(page: Any, where: str) -> None:
    results = Axe().run(page)
    violations = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. {v['nodes'][0]['html'][:120]})"
        for v in results.response["violations"]
        if WCAG & set(v["tags"])
    ]
    assert violations == [], f"{where}: {violations}"
    # Every form control has a label; every plot has a text alternative.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
               .map(e => e.outerHTML)"""
    )
    assert unlabelled == [], where
    plots = page.evaluate(
        """() => [...document.querySelectorAll('svg')].map(s => [s.getAttribute('role'),
               (s.querySelector('title') || {}).textContent, (s.querySelector('desc') || {}).textContent])"""
    )
    for role, title, desc in plots:
        assert role == "img" and title and desc, (where, plots)


def test_viewer_walks_every_page_read_only_and_sees_no_content_or_secret(
    console_project: ConsoleProject, browser: Any
) -> None:
    base = console_project.gw.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked: list[str] = []
    page.on("request", lambda r: blocked.append(r.url) if not r.url.startswith(base) else None)
    _sign_in(page, base, VIEWER_TOKEN)
    for path in PAGES:
        page.goto(base + path + "?feature=support")
        html = page.content()
        assert ADMIN_TOKEN not in html and VIEWER_TOKEN not in html and console_project.gw.key not in html
        assert (
            "Levers" not in page.get_by_role("navigation", name="Sections").inner_text()
        )  # no levers for a viewer
    page.goto(f"{base}/console/requests/{console_project.request_ids[0]}")
    text = page.inner_text("main")
    assert "Ticket 0" not in text and "hidden" in text  # the viewer may not read captured content
    assert "inclusion proof VERIFIED" in text
    page.goto(f"{base}/console/levers")
    assert "Admin only" in page.inner_text("main")
    cookie = next(c for c in context.cookies() if c["name"] == "rw_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert blocked == []  # nothing fetched from anywhere but the gateway
    context.close()


def test_admin_walks_every_page_follows_a_request_to_its_verified_entry_and_kills_the_feature(
    console_project: ConsoleProject, browser: Any
) -> None:
    base = console_project.gw.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
    _sign_in(page, base, ADMIN_TOKEN)

    for path, name in zip(PAGES, ["overview", "requests", "evals", "rollouts", "operations"], strict=True):
        page.goto(base + path + "?feature=support")
        assert page.locator("h1").inner_text()
        _accessible(page, path)
        _shot(page, name)
    page.goto(base + "/console?feature=support")
    main = page.inner_text("main")
    assert "high-error-rate" in main and "Grace Oncall" not in main  # alerts here, on-call on operations
    assert "canary alt vs main: step 2 of 4 (25% on the candidate)" in main
    assert "daily_usd" in main and "monthly_usd" in main

    # The request list leads to the request, whose audit entry the page and the browser both verify.
    page.goto(base + "/console/requests?feature=support")
    page.get_by_role("link", name=f"request {console_project.request_ids[-1]}").click()
    page.wait_for_selector("#browser-check[data-result]")
    assert page.get_attribute("#browser-check", "data-result") == "verified"
    text = page.inner_text("main")
    assert "inclusion proof VERIFIED" in text and "input digest matches" in text
    assert "Ticket 3: my order <b>broke</b>" in text  # the admin reads content, escaped, never run
    assert "<EMAIL_1>" in text  # as the model saw it: redacted
    _accessible(page, "request")
    _shot(page, "request")

    # A feature without content capture shows none, even to the admin.
    page.goto(f"{base}/console/requests/{console_project.notes_request_id}")
    assert "SECRET-NOTE-TEXT" not in page.content()
    assert "capture is off" in page.inner_text("main")

    # Evals: compare the two runs; the gate's verdict and both plots render.
    page.goto(base + "/console/evals?feature=support")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_selector("text=GATE")
    assert page.locator("figure svg[role=img]").count() == 2
    _shot(page, "evals-compare")

    # Operations: the incident timeline, and a review item labelled from the page.
    page.goto(f"{base}/console/incidents/{console_project.incident_id}")
    assert "paged" in page.inner_text("main")
    _shot(page, "incident")
    page.goto(base + "/console/operations?feature=support")
    assert "Grace Oncall" in page.inner_text("main") or "Linus Next" in page.inner_text("main")
    page.get_by_role("combobox", name="Label").select_option("bad")
    page.get_by_role("button", name="Save label").click()
    page.wait_for_selector("text=Review item labelled.")
    assert "bad by console-admin" in page.inner_text("#review")

    # Levers: the kill switch, confirmed, then the next request through the SDK is degraded.
    page.goto(base + "/console/levers?feature=support")
    _accessible(page, "levers")
    _shot(page, "levers")
    kill = page.get_by_role("form", name="Kill switch on")
    kill.get_by_label("Reason (required, audited)").fill("browser test: upstream is misbehaving")
    kill.get_by_role("button", name="Kill…").click()
    assert "Kill support" in page.inner_text("main")
    _shot(page, "levers-confirm")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=Kill switch on: the feature answers with its degradation.")
    assert "KILLED" in page.inner_text("main")
    raw = console_project.client.chat.completions.with_raw_response.create(
        model="support", messages=[{"role": "user", "content": "still there?"}]
    )
    assert raw.headers["x-runwell-served-by"] == "degraded:static"
    assert raw.parse().choices[0].message.content == DEGRADED
    wait_for_records(console_project.db_path, [raw.headers["x-request-id"]])
    page.goto(base + "/console/requests?feature=support&outcome=degraded")
    assert page.locator("tbody tr").count() >= 1 and "degraded" in page.inner_text("tbody")

    page.goto(base + "/console/levers?feature=support")
    serve = page.get_by_role("form", name="Kill switch off")
    serve.get_by_label("Reason (required, audited)").fill("browser test: back to normal")
    serve.get_by_role("button", name="Serve again…").click()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=Kill switch off: the feature serves again.")
    done = console_project.client.chat.completions.create(
        model="support", messages=[{"role": "user", "content": "back?"}]
    )
    assert done.choices[0].message.content != DEGRADED
    assert outside == []
    context.close()


def test_every_lever_is_reachable_by_keyboard_with_a_visible_focus(
    console_project: ConsoleProject, browser: Any
) -> None:
    base = console_project.gw.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, base, ADMIN_TOKEN, "/console/levers")
    page.goto(base + "/console/levers?feature=support")
    buttons = page.evaluate("() => [...document.querySelectorAll('main button')].map(b => b.textContent)")
    assert {
        "Kill…",
        "Serve again…",
        "Switch off…",
        "Switch back on…",
        "Pause rollout…",
        "Abort rollout…",
    } <= set(buttons)
    reached: set[str] = set()
    for _ in range(120):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
                       return [e.tagName, e.textContent, s.outlineStyle, s.outlineWidth]; }"""
        )
        tag, label, outline, width = focused
        if tag == "BUTTON":
            reached.add(label)
        if tag in ("BUTTON", "A", "INPUT", "SELECT", "TEXTAREA"):
            assert outline != "none" and width != "0px", focused  # the focus ring shows
    assert set(buttons) <= reached
    # The first Tab lands on the skip link, which moves focus to the content.
    page.goto(base + "/console/levers?feature=support")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    context.close()

"""The Monday morning test: could a new operator take this feature over today?"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from runwell.readiness import git
from runwell.readiness.context import CheckContext, comment_at
from runwell.readiness.items import Item
from runwell.readiness.placeholders import placeholder_in

__all__ = ["MONDAY", "find_ci_gate"]

_S = "monday"
_GATE = re.compile(r"runwell\s+eval\s+compare\b[^\n]*--gate")
_PR = re.compile(r"\bpull_request\b|\bmerge_request|\bpull-request\b|\bpr:")


def spec_versioned(ctx: CheckContext) -> Item:
    """The spec is tracked, committed and clean in the code's repository."""
    title = "Spec versioned in the same git repository as the code (tracked, committed, clean)"
    if ctx.repo is None:
        return Item(
            "mon.spec_versioned",
            _S,
            title,
            "fail",
            f"{ctx.path} is not in a git work tree.",
            "keep the feature directory in the code's git repository and commit it",
        )
    if not git.is_tracked(ctx.path):
        return Item(
            "mon.spec_versioned",
            _S,
            title,
            "fail",
            f"git does not track {ctx.path.name}.",
            f"git add {ctx.path.name} and commit it",
        )
    untracked = [
        p
        for p in (ctx.base / v.prompt.file for v in ctx.loaded.spec.variants.values())
        if not git.is_tracked(p)
    ]
    if untracked:
        return Item(
            "mon.spec_versioned",
            _S,
            title,
            "fail",
            f"prompts not tracked: {', '.join(p.name for p in untracked)}.",
            "git add the prompt files",
        )
    version = ctx.loaded.version
    if version.startswith("uncommitted"):
        return Item(
            "mon.spec_versioned", _S, title, "fail", "tracked but never committed.", f"commit {ctx.path.name}"
        )
    if "-dirty+" in version:
        return Item(
            "mon.spec_versioned",
            _S,
            title,
            "fail",
            f"{version}: changes not committed.",
            f"commit (or revert) the changes to {ctx.path.name}",
        )
    return Item(
        "mon.spec_versioned", _S, title, "pass", f"{version} in {ctx.repo}; prompts tracked.", automated=True
    )


def find_ci_gate(repo: Path) -> tuple[Path | None, list[str]]:
    """The CI file that runs the eval gate on pull requests, and what was looked at."""
    candidates = sorted((repo / ".github" / "workflows").glob("*.y*ml"))
    candidates += [p for p in (repo / ".gitlab-ci.yml", repo / "azure-pipelines.yml") if p.is_file()]
    looked = []
    for path in candidates:
        text = path.read_text(encoding="utf-8", errors="replace")
        gate, pr = bool(_GATE.search(text)), bool(_PR.search(text))
        looked.append(
            f"{path.relative_to(repo)} (gate {'yes' if gate else 'no'}, on PRs {'yes' if pr else 'no'})"
        )
        if gate and pr:
            return path, looked
    return None, looked


def eval_ci(ctx: CheckContext) -> Item:
    """An eval harness runs in CI on pull requests with a regression gate."""
    title = "Eval harness in CI on every pull request, with a regression gate"
    fix = (
        "add a CI workflow that runs `runwell eval compare ... --gate` on pull_request "
        "(docs/readiness.md has one)"
    )
    if ctx.repo is None:
        return Item("mon.eval_ci", _S, title, "fail", "no git repository, so no CI.", fix)
    found, looked = find_ci_gate(ctx.repo)
    if found is None:
        return Item(
            "mon.eval_ci", _S, title, "fail", f"looked at: {', '.join(looked) or 'no CI files'}.", fix
        )
    return Item(
        "mon.eval_ci",
        _S,
        title,
        "pass",
        f"{found.relative_to(ctx.repo)} runs runwell eval compare --gate on pull requests.",
        automated=True,
    )


def audit(ctx: CheckContext) -> Item:
    """The signed audit log verifies."""
    title = "Signed audit log verifies"
    fix = (
        "serve through the gateway (it signs every decision), keep .runwell/audit.vkey, "
        "then runwell audit verify"
    )
    if ctx.live is not None:
        if ctx.live.error:
            return Item("mon.audit", _S, title, "fail", ctx.live.error, fix)
        ok = bool(ctx.live.audit_ok)
        return Item(
            "mon.audit",
            _S,
            title,
            "pass" if ok else "fail",
            f"live: {ctx.live.audit_detail}.",
            "" if ok else "run runwell audit verify against the store and find the first bad index",
            automated=ok,
        )
    if ctx.db is None or ctx.vkey is None:
        return Item(
            "mon.audit",
            _S,
            title,
            "fail",
            f"no audit log or verifier key {ctx.store_note}".strip() + ".",
            fix,
        )
    from runwell.audit.open import open_audit_storage
    from runwell.audit.verify import verify_log

    storage = open_audit_storage(None, ctx.base, db=ctx.db)
    size = storage.size()
    if size == 0:
        return Item("mon.audit", _S, title, "fail", "the audit log is empty.", fix)
    report = verify_log(storage, ctx.vkey)
    if not report.ok:
        return Item(
            "mon.audit",
            _S,
            title,
            "fail",
            report.summary(),
            "treat it as an incident: the log was changed; runwell audit verify names the first bad index",
        )
    return Item("mon.audit", _S, title, "pass", f"{size} entries verify: {report.summary()}", automated=True)


def oncall(ctx: CheckContext) -> Item:
    """An on-call rotation of real people."""
    rotation = ctx.loaded.spec.oncall.rotation
    title = "On-call rotation of real people"
    if rotation is None:
        return Item(
            "mon.oncall",
            _S,
            title,
            "fail",
            "oncall.rotation is not set.",
            "add oncall.rotation with at least two people",
        )
    fake = [
        f"{m.name} <{m.contact}>"
        for m in rotation.members
        if placeholder_in(m.name) or placeholder_in(m.contact)
    ]
    if fake:
        return Item(
            "mon.oncall",
            _S,
            title,
            "fail",
            f"placeholder members: {', '.join(fake)}.",
            "put real people (name and contact) in oncall.rotation.members",
        )
    if len(rotation.members) < 2:
        return Item(
            "mon.oncall",
            _S,
            title,
            "fail",
            f"only {rotation.members[0].name}: nobody covers them.",
            "add a second person to oncall.rotation.members",
        )
    names = ", ".join(m.name for m in rotation.members)
    return Item(
        "mon.oncall",
        _S,
        title,
        "pass",
        f"{names}; {rotation.shift_days}-day shifts from {rotation.start}, handoff {rotation.handoff} "
        f"{rotation.time_zone}.",
    )


def pickup(ctx: CheckContext) -> Item:
    """Every page links a runbook a new operator can open."""
    spec = ctx.loaded.spec
    title = "Every page links a runbook (a new operator can pick it up)"
    modes = {m.name: m for m in spec.failure_modes}
    paging = [a for a in spec.alerts if a.severity == "page" or a.kind == "burn_rate"]
    if not paging:
        return Item(
            "mon.pickup",
            _S,
            title,
            "fail",
            "no alert pages anyone.",
            "make at least one alert severity: page (or a burn_rate SLO alert)",
        )
    bare = []
    for alert in paging:
        runbook = alert.runbook or (
            modes[alert.failure_mode].runbook if alert.failure_mode in modes else None
        )
        if runbook is None or not (
            runbook.startswith(("http://", "https://")) or (ctx.base / runbook).is_file()
        ):
            bare.append(alert.name)
    if bare:
        return Item(
            "mon.pickup",
            _S,
            title,
            "fail",
            f"pages without a runbook: {', '.join(bare)}.",
            "give each paging alert a failure_mode (whose runbook the page links) or a runbook:",
        )
    return Item(
        "mon.pickup",
        _S,
        title,
        "pass",
        f"{len(paging)} paging alerts, each linking its runbook.",
        automated=True,
    )


def handoff(ctx: CheckContext) -> Item:
    """The authors' handoff window is set and has not lapsed without a handover."""
    oncall, owners = ctx.loaded.spec.oncall, ctx.loaded.spec.feature.owners
    title = "Handoff window set, not lapsed without a handover"
    if oncall.handoff is None:
        return Item(
            "mon.handoff",
            _S,
            title,
            "fail",
            "oncall.handoff is not set.",
            "set oncall.handoff.cutover (and days, 90 by default): the authors are paged that long",
        )
    window = oncall.handoff
    note = comment_at(ctx.text, ("oncall", "handoff", "cutover"))
    if placeholder_in(note):
        return Item(
            "mon.handoff",
            _S,
            title,
            "fail",
            f"the cutover date is marked as a placeholder ({note!r}).",
            "set oncall.handoff.cutover to the real cutover day and remove the TODO",
        )
    end = window.cutover + dt.timedelta(days=window.days)
    today = dt.datetime.fromtimestamp(ctx.now, dt.UTC).date()
    evidence = f"cutover {window.cutover}, {window.days} days, until {end}"
    if today <= end:
        return Item("mon.handoff", _S, title, "pass", f"{evidence}: {(end - today).days} days left.")
    owner_ids = {o.name.lower() for o in owners} | {o.email.lower() for o in owners}
    takers = [
        m.name
        for m in (oncall.rotation.members if oncall.rotation else [])
        if m.name.lower() not in owner_ids and m.contact.lower() not in owner_ids
    ]
    if not takers:
        return Item(
            "mon.handoff",
            _S,
            title,
            "fail",
            f"{evidence}: over, and only the authors are on call (no handover).",
            "hand over: put the operating team in oncall.rotation",
        )
    return Item("mon.handoff", _S, title, "pass", f"{evidence}: over; handed over to {', '.join(takers)}.")


def drill(ctx: CheckContext) -> Item:
    """A drill passed recently."""
    days = ctx.thresholds.drill_days
    title = f"A drill passed within the last {days:g} days"
    rows = ctx.query(
        "SELECT max(started_at) FROM drills WHERE feature = ? AND passed = ?",
        (ctx.loaded.name, True),
        "find the last passed drill",
    )
    last = rows[0][0] if rows else None
    fix = f"run runwell drill {ctx.loaded.name} FAILURE_MODE --gateway URL against a staging gateway"
    if last is None:
        return Item("mon.drill", _S, title, "fail", f"no passed drill {ctx.store_note}".strip() + ".", fix)
    age = (ctx.now - float(last)) / 86400
    if age > days:
        return Item("mon.drill", _S, title, "fail", f"the last passed drill was {age:.0f} days ago.", fix)
    return Item("mon.drill", _S, title, "pass", f"last passed drill {age:.0f} days ago.", automated=True)


MONDAY: tuple[Callable[[CheckContext], Item], ...] = (
    spec_versioned,
    eval_ci,
    audit,
    oncall,
    pickup,
    handoff,
    drill,
)
"""The Monday morning test's checks, in report order."""

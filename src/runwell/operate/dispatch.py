"""Sending the pages the outbox holds (see :mod:`runwell.operate.incidents`) over the channels.

Pages of one incident and channel are sent in order (a PagerDuty ``resolve`` must not overtake
its ``trigger``, or it is dropped and the alert stays open); different channels and incidents go in
parallel. Each send retries with backoff inside the notifier; a page that still fails is marked
``failed`` on the timeline, and the escalation policy's next level is the fallback.

The notification a channel gets: ``dedup_key`` ``runwell/<feature>/<incident>`` on every event
of an incident, the severity (SEV-1 and SEV-2 are ``critical``), the failure mode, the runbook,
the people paged (the handoff window's owners marked), and the signed acknowledge and resolve
links when the gateway knows its public URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from runwell.operate.channels import Channels
from runwell.operate.incidents import (
    TICKET_PREFIX,
    Incident,
    PageRow,
    claim_pages,
    finish_page,
    get_incident,
)
from runwell.operate.links import LinkSigner
from runwell.operate.oncall_plan import OnCallPlan
from runwell.operate.rules import Rule
from runwell.ops.notify import Event, Link, Notification, Severity
from runwell.store import Database

__all__ = ["Dispatcher", "FeatureChannels", "dedup_key", "pd_severity"]


_log = logging.getLogger("runwell.operate")
_EVENTS: dict[str, Event] = {"trigger": "trigger", "acknowledge": "acknowledge", "resolve": "resolve"}
_SEVERITY: dict[str, Severity] = {
    "SEV-1": "critical",
    "SEV-2": "critical",
    "SEV-3": "error",
    "SEV-4": "warning",
}


def pd_severity(severity: str) -> Severity:
    """PagerDuty's severity for an incident severity label."""
    return _SEVERITY.get(severity, "info")


def dedup_key(feature: str, incident_id: str) -> str:
    """The key tying an incident's trigger, acknowledge and resolve together on every channel."""
    return f"runwell/{feature}/{incident_id}"


@dataclass
class FeatureChannels:
    """What the dispatcher needs of one feature."""

    channels: Channels
    plan: OnCallPlan
    rules: Mapping[str, Rule]


class Dispatcher:
    """Claims pending pages and sends them; see the module docstring."""

    def __init__(
        self,
        db: Database,
        features: Mapping[str, FeatureChannels],
        links: LinkSigner,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._features = features
        self._links = links
        self._clock = clock

    async def tick(self, features: Collection[str] | None = None) -> int:
        """Send what is pending for ``features`` (all by default); returns how many pages were
        handled."""
        claimed = await asyncio.to_thread(claim_pages, self._db, self._clock(), features=features)
        if not claimed:
            return 0
        groups: dict[tuple[str, str], list[PageRow]] = {}
        for page in claimed:
            groups.setdefault((page.incident_id, page.channel), []).append(page)
        await asyncio.gather(*(self._send_in_order(pages) for pages in groups.values()))
        return len(claimed)

    async def _send_in_order(self, pages: list[PageRow]) -> None:
        for page in pages:
            try:
                await self._send(page)
            except Exception:  # one bad page must not stop the others; it is marked failed
                _log.exception("sending page %s failed", page.id)
                await asyncio.to_thread(
                    finish_page,
                    self._db,
                    page,
                    ok=False,
                    attempts=0,
                    error="internal error while sending; see the gateway log",
                    now=self._clock(),
                    detail=_detail(page, None),
                )

    async def _send(self, page: PageRow) -> None:
        if page.incident_id.startswith(TICKET_PREFIX):
            feature, _, rule_name = page.incident_id[len(TICKET_PREFIX) :].partition(":")
            incident = None
        else:
            incident = await asyncio.to_thread(get_incident, self._db, page.incident_id)
            feature, rule_name = incident.feature, ""
        fc = self._features.get(feature)
        if fc is None:
            await asyncio.to_thread(
                finish_page, self._db, page, ok=False, attempts=0,
                error=f"feature {feature!r} is not served by this gateway", now=self._clock(),
                detail=_detail(page, None),
            )  # fmt: skip
            return
        n = self._notification(page, fc, incident, rule_name)
        emails = await asyncio.to_thread(self._emails, fc, page)
        delivery = await fc.channels.send(page.channel, n, emails)
        if not delivery.ok:
            _log.error("page %s over %s failed: %s", page.id, page.channel, delivery.error)
        await asyncio.to_thread(
            finish_page,
            self._db,
            page,
            ok=delivery.ok,
            attempts=delivery.attempts,
            error=delivery.error,
            now=self._clock(),
            detail=_detail(page, delivery.error),
        )

    def _emails(self, fc: FeatureChannels, page: PageRow) -> list[str]:
        """The email addresses of the people a page names; a follow-up (acknowledge, resolve)
        goes to everyone the incident's triggers reached over the channel."""
        if page.action == "trigger":
            return [c.email for p in page.people if (c := fc.plan.directory.get(p)) and c.email]
        rows = self._db.query(
            "SELECT target FROM pages WHERE incident_id = ? AND channel = ? AND action = 'trigger'",
            (page.incident_id, page.channel),
            action="find who was paged",
        )
        people = {p for (target,) in rows for p in str(target).split(", ")}
        return [c.email for p in sorted(people) if (c := fc.plan.directory.get(p)) and c.email]

    def _notification(
        self, page: PageRow, fc: FeatureChannels, incident: Incident | None, rule_name: str
    ) -> Notification:
        event = _EVENTS[page.action]
        if incident is None:
            rule = fc.rules.get(rule_name)
            summary = rule.summary if rule else f"{rule_name} on {fc.plan.feature}"
            return Notification(
                event=event,
                dedup_key=f"runwell/{fc.plan.feature}/alert/{rule_name}",
                summary=("[ticket] " if event == "trigger" else f"[{event}d] ") + summary,
                severity="warning",
                source=f"runwell:{fc.plan.feature}",
                feature=fc.plan.feature,
                failure_mode=rule.failure_mode if rule else None,
                runbook=rule.runbook if rule else None,
                details={"alert": rule_name, "condition": rule.describe() if rule else ""},
            )
        details: dict[str, Any] = {
            "incident": incident.id,
            "severity": incident.severity,
            "escalation_level": page.level,
        }
        summary = f"[{incident.severity}] {incident.title}"
        if event == "trigger":
            people = page.people
            details["paged"] = people
            summary += f" (paging {', '.join(people)})" if people else ""
            owners = fc.plan.handoff.owners if fc.plan.handoff else ()
            handoff = [p for p in people if p in owners]
            if handoff:
                details["handoff_owners"] = handoff
        elif event == "acknowledge":
            summary = f"acknowledged by {incident.acked_by}: {incident.title}"
        else:
            summary = f"resolved by {incident.resolved_by}: {incident.title}"
        links = []
        resolve_url = self._links.url(incident.id, "resolve")
        if resolve_url and event != "resolve":
            links.append(Link(resolve_url, "Resolve"))
        return Notification(
            event=event,
            dedup_key=dedup_key(incident.feature, incident.id),
            summary=summary,
            severity=pd_severity(incident.severity),
            source=f"runwell:{incident.feature}",
            feature=incident.feature,
            failure_mode=incident.failure_mode,
            runbook=incident.runbook,
            ack_url=self._links.url(incident.id, "ack") if event == "trigger" else None,
            links=tuple(links),
            details=details,
        )


def _detail(page: PageRow, error: str | None) -> dict[str, Any]:
    return {
        "page": page.id,
        "action": page.action,
        "channel": page.channel,
        "level": page.level,
        "target": page.target,
        **({"error": error} if error else {}),
    }

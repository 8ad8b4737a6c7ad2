"""Running a drill against a live gateway: validate the fix, and time detection and mitigation.

``runwell drill FEATURE SCENARIO`` (recovery's "validate the fix") does, over HTTP only:

1. arms the scenario (``POST /admin/drills``): the drill's own user is pinned to the variant that
   reproduces the failure; real users are untouched;
2. sends traffic as that user (``--rate`` requests a second; a replayed incident's inputs when the
   scenario is an incident) from ``t0``;
3. waits for the alert to open an incident for the failure mode (**time to detect**), checks that
   its runbook is linked and that a page reached the person on call (**time to page**), and
   acknowledges it;
4. applies the failure mode's mitigation (the kill switch, or killing the failing variant; with
   ``mitigation: none`` it waits for an operator) and waits until requests stop failing
   (**time to mitigate**, three answers in a row that are not failures) and the alert clears;
5. undoes the mitigation, resolves the incident, disarms the drill and stores the report.

A request *fails* when the model path failed: a 5xx, or a degradation answer whose reason is
``all_variants_failed``. A degradation because of the kill switch is the mitigation working.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from runwell.errors import ConfigError, RunwellError

__all__ = ["Check", "DrillClient", "DrillReport", "Probe", "run_drill"]

_OK_STREAK = 3


@dataclass(frozen=True, slots=True)
class Probe:
    """One drill request: when it was sent and whether it failed."""

    at: float
    status: int
    failed: bool


@dataclass(frozen=True, slots=True)
class Check:
    """One thing the drill verifies."""

    name: str
    ok: bool
    detail: str


@dataclass
class DrillReport:
    """What a drill found; times are seconds from the start of the fault (``t0``)."""

    drill_id: str
    feature: str
    scenario: str
    failure_mode: str
    incident: str | None = None
    time_to_detect_s: float | None = None
    time_to_page_s: float | None = None
    time_to_acknowledge_s: float | None = None
    time_to_mitigate_s: float | None = None
    time_to_clear_s: float | None = None
    checks: list[Check] = field(default_factory=list)
    requests: int = 0
    failed: int = 0

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "drill": self.drill_id,
            "feature": self.feature,
            "scenario": self.scenario,
            "failure_mode": self.failure_mode,
            "incident": self.incident,
            "passed": self.passed,
            "time_to_detect_s": self.time_to_detect_s,
            "time_to_page_s": self.time_to_page_s,
            "time_to_acknowledge_s": self.time_to_acknowledge_s,
            "time_to_mitigate_s": self.time_to_mitigate_s,
            "time_to_clear_s": self.time_to_clear_s,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
            "requests": self.requests,
            "failed_requests": self.failed,
        }


class DrillClient:
    """The HTTP calls a drill makes to the gateway (urllib: the CLI needs no event loop)."""

    def __init__(self, base_url: str, *, admin_token: str, api_key: str, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._admin = admin_token
        self._key = api_key
        self._timeout = timeout_s

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the admin API; RunwellError with the gateway's message on an error status."""
        return self._call(method, path, body, self._admin, {"x-runwell-actor": "drill"})[1]

    def chat(self, feature: str, user: str, messages: list[dict[str, Any]]) -> tuple[int, Any]:
        """One chat request as the drill user; ``(status, body)`` whatever the status."""
        body = {"model": feature, "user": user, "messages": messages}
        try:
            return self._call("POST", "/v1/chat/completions", body, self._key, {})
        except _HttpError as exc:
            return exc.status, exc.body

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, token: str, extra: dict[str, str]
    ) -> tuple[int, Any]:
        data = None if body is None else orjson.dumps(body)
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json", **extra}
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                raw = resp.read()
                return resp.status, orjson.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                parsed = raw.decode("utf-8", "replace")
            raise _HttpError(exc.code, parsed, f"{method} {path}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RunwellError(
                f"cannot reach the gateway at {self.base_url} ({exc}); is it running?"
            ) from None


class _HttpError(RunwellError):
    def __init__(self, status: int, body: Any, what: str) -> None:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else body
        super().__init__(f"{what} answered {status}: {message}")
        self.status = status
        self.body = body


def _failed(status: int, body: Any) -> bool:
    if status >= 500:
        return True
    marker = body.get("runwell") if isinstance(body, dict) else None
    return isinstance(marker, dict) and marker.get("reason") == "all_variants_failed"


class _Traffic(threading.Thread):
    """Sends the drill's requests at a steady rate until stopped."""

    def __init__(self, client: DrillClient, plan: dict[str, Any], rate: float) -> None:
        super().__init__(name="runwell-drill-traffic", daemon=True)
        self._client, self._plan, self._gap = client, plan, 1.0 / rate
        self.probes: list[Probe] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        inputs = self._plan.get("inputs") or []
        n = 0
        while not self.stopped.is_set():
            messages = (
                inputs[n % len(inputs)] if inputs else [{"role": "user", "content": f"drill probe {n}"}]
            )
            at = time.time()
            try:
                status, body = self._client.chat(self._plan["feature"], self._plan["user"], messages)
            except RunwellError:
                status, body = 599, None
            self.probes.append(Probe(at, status, _failed(status, body)))
            n += 1
            self.stopped.wait(max(0.0, self._gap - (time.time() - at)))

    def recovered_at(self, since: float) -> float | None:
        """The first of ``_OK_STREAK`` requests in a row, sent after ``since``, that did not fail."""
        streak: list[Probe] = []
        for probe in [p for p in self.probes if p.at >= since]:
            streak = [*streak, probe] if not probe.failed else []
            if len(streak) >= _OK_STREAK:
                return streak[0].at
        return None


def _wait(predicate: Callable[[], Any], deadline: float, every_s: float = 0.25) -> Any:
    while True:
        found = predicate()
        if found or time.time() >= deadline:
            return found
        time.sleep(every_s)


def run_drill(
    client: DrillClient,
    feature: str,
    scenario: str,
    *,
    rate: float = 5.0,
    timeout_s: float = 300.0,
    say: Callable[[str], None] = lambda line: None,
) -> DrillReport:
    """Run one drill (see the module docstring); the gateway is left as it was found."""
    if rate <= 0:
        raise ConfigError(f"--rate must be positive, got {rate}")
    plan = client.admin("POST", "/admin/drills", {"feature": feature, "scenario": scenario})
    report = DrillReport(plan["id"], feature, scenario, plan["failure_mode"])
    say(
        f"drill {plan['id']}: {plan['failure_mode']} through variant {plan['variant']}, "
        f"mitigation {plan['mitigation']}"
    )
    traffic = _Traffic(client, plan, rate)
    t0 = time.time()
    deadline = t0 + timeout_s
    traffic.start()
    killed: dict[str, Any] | None = None
    try:
        incident = _wait(lambda: _drill_incident(client, feature, plan), deadline)
        if not incident:
            report.checks.append(Check("alert_fired", False, f"no incident within {timeout_s:g} s"))
            return report
        report.incident = incident["id"]
        report.time_to_detect_s = incident["opened_at"] - t0
        report.checks.append(Check("alert_fired", True, f"incident {incident['id']}: {incident['title']}"))
        say(f"detected after {report.time_to_detect_s:.1f} s: incident {incident['id']}")
        runbook = incident.get("runbook")
        report.checks.append(
            Check("runbook_linked", bool(runbook), runbook or "the incident links no runbook")
        )
        page = _wait(lambda: _page_to_oncall(client, feature, incident["id"]), deadline)
        if page:
            report.time_to_page_s = page["sent_at"] - t0
            say(f"paged {page['target']} over {page['channel']} after {report.time_to_page_s:.1f} s")
        report.checks.append(
            Check("page_reached_oncall", bool(page), f"{page['target']} over {page['channel']}" if page else
                  "no page reached the person on call")
        )  # fmt: skip
        client.admin("POST", f"/admin/incidents/{incident['id']}/ack", {})
        report.time_to_acknowledge_s = time.time() - t0
        killed = _mitigate(client, plan)
        started = time.time()
        recovered = _wait(lambda: traffic.recovered_at(started), deadline)
        report.time_to_mitigate_s = (recovered - t0) if recovered else None
        report.checks.append(
            Check("mitigation_restored_service", bool(recovered),
                  f"{plan['mitigation']}: requests stopped failing" if recovered else
                  f"requests still failing {timeout_s:g} s after the fault")
        )  # fmt: skip
        if recovered:
            say(f"mitigated after {report.time_to_mitigate_s:.1f} s ({plan['mitigation']})")
            cleared = _wait(lambda: _alerts_cleared(client, feature, plan["alerts"]), deadline, 0.5)
            report.time_to_clear_s = time.time() - t0 if cleared else None
        return report
    finally:
        traffic.stopped.set()
        traffic.join(timeout=10)
        report.requests = len(traffic.probes)
        report.failed = sum(p.failed for p in traffic.probes)
        if killed is not None:
            client.admin("POST", "/admin/unkill", {**killed, "reason": f"drill {plan['id']} finished"})
        if report.incident is not None:
            client.admin("POST", f"/admin/incidents/{report.incident}/resolve", {"reason": "drill finished"})
        client.admin(
            "POST",
            f"/admin/drills/{plan['id']}/finish",
            {"passed": report.passed, "result": report.to_dict()},
        )


def _drill_incident(client: DrillClient, feature: str, plan: dict[str, Any]) -> dict[str, Any] | None:
    found = client.admin("GET", f"/admin/incidents?feature={feature}&state=open")
    for incident in found["data"]:
        if incident.get("scenario", {}).get("drill") == plan["id"]:
            return dict(incident)
    return None


def _page_to_oncall(client: DrillClient, feature: str, incident_id: str) -> dict[str, Any] | None:
    detail = client.admin("GET", f"/admin/incidents/{incident_id}")
    oncall = client.admin("GET", f"/admin/oncall?feature={feature}")["data"][0]
    rotation = oncall.get("rotation") or {}
    expected = rotation.get("now")
    for page in detail["pages"]:
        if page["action"] != "trigger" or page["status"] != "sent":
            continue
        people = str(page["target"]).split(", ")
        if expected is None or expected in people:
            return dict(page)
    return None


def _mitigate(client: DrillClient, plan: dict[str, Any]) -> dict[str, Any] | None:
    reason = f"drill {plan['id']}: mitigating {plan['failure_mode']}"
    if plan["mitigation"] == "kill":
        target: dict[str, Any] = {"feature": plan["feature"]}
    elif plan["mitigation"] == "kill_variant":
        target = {"feature": plan["feature"], "variant": plan["variant"]}
    else:
        return None
    client.admin("POST", "/admin/kill", {**target, "reason": reason})
    return target


def _alerts_cleared(client: DrillClient, feature: str, names: list[str]) -> bool:
    states = client.admin("GET", f"/admin/alerts?feature={feature}")["data"]
    watched = [s for s in states if not names or s["name"] in names]
    return bool(watched) and all(s["state"] != "firing" for s in watched)

"""The feature the operations tests serve: a sim that can be pushed into an outage, alerts with
seconds-scale windows, a two-person rotation, a two-level escalation with seconds-scale timeouts,
PagerDuty and Slack channels, and an active handoff window."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

OWNER = "Olga Owner"
LEAD = "lead@example.com"
PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
RUNBOOK = (
    "# Runbook: provider outage\n\n1. Acknowledge: `runwell incident ack INCIDENT_ID`.\n2. Kill switch.\n"
)


def on_call_now(members: tuple[str, str] = ("Ana", "Bo")) -> tuple[str, str]:
    """Who the test rotation (daily shifts from 2024-01-01, 00:00 UTC) has on call today, and next."""
    days = (datetime.now(UTC).date() - date(2024, 1, 1)).days
    return members[days % 2], members[(days + 1) % 2]


def write_ops_project(
    root: Path,
    *,
    receivers: str,
    name: str = "ops",
    escalate_after_s: float = 3.0,
    window_s: float = 4.0,
) -> Path:
    """``name``: variants ``main`` (answers), ``outage`` (a sim in a permanent outage) and
    ``slow`` (answers slowly); an error-rate alert paging through ``provider-outage``."""
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "runbooks").mkdir(exist_ok=True)
    (root / "evals").mkdir(exist_ok=True)
    (root / "prompts" / "p.yaml").write_text('system: "You answer briefly."\nuser: "Question: {{ input }}"\n')
    (root / "runbooks" / "outage.md").write_text(RUNBOOK)
    (root / "evals" / "cases.jsonl").write_text('{"id": "c1", "input": "hello", "reference": "fine"}\n')
    cutover = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    spec = root / "runwell.yaml"
    spec.write_text(
        textwrap.dedent(f"""\
        spec_version: 1
        feature:
          name: {name}
          purpose: Operations test feature
          owners: [{{name: {OWNER}, email: olga@example.com}}]
        providers:
          ok: {{kind: sim, mode: text, text: "fine"}}
          down: {{kind: sim, mode: text, outages: [{{start_s: 0, end_s: 100000000, status: 503}}]}}
        variants:
          main: {{provider: ok, model: sim-ok, prompt: {{file: prompts/p.yaml, version: "1"}}}}
          outage: {{provider: down, model: sim-down, prompt: {{file: prompts/p.yaml, version: "1"}}}}
        default_variant: main
        resilience:
          retries: {{attempts: 1}}
          breaker: {{window: 1000, min_calls: 1000}}
        fallbacks:
          degradation: {{mode: static, message: "The feature is paused; a person will answer."}}
        guardrails:
          injection_check: {{mode: flag}}
        evals:
          suites:
            - name: core
              dataset: evals/cases.jsonl
              scorers: [{{type: contains}}]
        alerts:
          - name: error-rate-high
            metric: error_rate
            op: ">"
            threshold: 0.5
            window_s: {window_s}
            min_requests: 3
            keep_firing_s: 1
            severity: page
            failure_mode: provider-outage
        oncall:
          channels:
            pagerduty: {{type: pagerduty, routing_key_env: TEST_PD_KEY, url: "{receivers}/v2/enqueue"}}
            slack: {{type: slack, webhook_url_env: TEST_SLACK_URL}}
          rotation:
            members:
              - {{name: Ana, contact: ana@example.com}}
              - {{name: Bo, contact: bo@example.com}}
            start: 2024-01-01
            shift_days: 1
            handoff: "00:00"
            time_zone: UTC
          escalation:
            - {{after_s: 0, notify: oncall, channels: [pagerduty, slack]}}
            - {{after_s: {escalate_after_s}, notify: {LEAD}, channels: [slack]}}
          handoff: {{cutover: {cutover}, days: 90}}
          review: {{guardrail_flags: true, sample_percent: 0}}
        failure_modes:
          - name: provider-outage
            detection: error-rate-high
            mitigation: kill switch; the degradation answers
            runbook: runbooks/outage.md
            severity: 2
            drill: {{scenario: outage, variant: outage, mitigation: kill}}
        runbooks: [runbooks/outage.md]
        """)
    )
    return spec


def receiver_env(slack_url: str) -> dict[str, str]:
    """The environment a gateway of this project needs for its channels."""
    return {"TEST_PD_KEY": PD_KEY, "TEST_SLACK_URL": slack_url}

"""The spec's ``alerts``, ``oncall`` and ``failure_modes``: what validates, and what they compile to."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runwell.errors import ConfigError, SpecError
from runwell.operate.channels import build_channels
from runwell.operate.oncall_plan import compile_oncall
from runwell.operate.rules import SLOW_SUFFIX, compile_rules
from runwell.spec.loader import LoadedSpec, load_spec
from runwell.spec.operate import Alert, OnCall
from runwell.spec.scaffold import scaffold
from tests.operate.project import LEAD, OWNER, PD_KEY, write_ops_project

BASE = """\
spec_version: 1
feature:
  name: f
  purpose: test
  owners: [{name: Olga Owner, email: olga@example.com}]
providers:
  s: {kind: sim}
variants:
  main: {provider: s, model: m, prompt: {file: p.md, version: "1"}}
failure_modes:
  - {name: outage, detection: d, mitigation: m, runbook: rb.md, severity: 1}
"""


def spec_with(tmp_path: Path, extra: str) -> LoadedSpec:
    (tmp_path / "p.md").write_text("Be brief.\n")
    (tmp_path / "rb.md").write_text("# rb\n")
    (tmp_path / "runwell.yaml").write_text(BASE + textwrap.dedent(extra))
    return load_spec(tmp_path)


def test_the_scaffolded_spec_compiles_into_rules_and_an_escalation(tmp_path: Path) -> None:
    scaffold("helpdesk", tmp_path / "f", provider="sim")
    loaded = load_spec(tmp_path / "f")
    rules = {r.name: r for r in compile_rules(loaded)}
    assert set(rules) == {
        "error-rate-high", "availability-slo", "availability-slo" + SLOW_SUFFIX,
        "latency-p95-high", "daily-cost-high", "quality-low",
    }  # fmt: skip
    assert rules["error-rate-high"].runbook == "runbooks/provider-outage.md"
    assert rules["availability-slo"].severity == "page"
    assert rules["availability-slo" + SLOW_SUFFIX].severity == "ticket"
    plan = compile_oncall(loaded)
    assert [lv.delay.total_seconds() for lv in plan.policy.levels] == [900, 900, 1800]
    assert plan.handoff is not None and plan.handoff.owners == ("TODO Owner Name",)


def test_specs_written_in_the_first_format_stay_valid() -> None:
    oncall = OnCall.model_validate(
        {
            "rotation": [{"name": "a", "contact": "a@x.io"}, {"name": "b", "contact": "b@x.io"}],
            "escalation": [{"after_minutes": 0, "notify": "a"}, {"after_minutes": 15, "notify": "b"}],
        }
    )
    assert oncall.rotation is not None and [m.name for m in oncall.rotation.members] == ["a", "b"]
    assert [s.delay_s for s in oncall.escalation] == [0, 900]
    alert = Alert.model_validate({"name": "x", "metric": "error_rate", "op": ">", "threshold": 0.1})
    assert alert.kind == "threshold" and alert.severity == "ticket"


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        ({"name": "x", "metric": "error_rate"}, "a threshold alert needs op, threshold"),
        ({"name": "x", "kind": "burn_rate"}, "needs slo: {objective: 99.5}"),
        (
            {"name": "x", "kind": "burn_rate", "slo": {"objective": 99}, "metric": "error_rate"},
            "computes its own thresholds from the SLO; remove metric",
        ),
        ({"name": "x", "kind": "burn_rate", "slo": {"objective": 99, "sli": "latency"}}, "needs latency_ms"),
        ({"name": "x", "kind": "burn_rate", "slo": {"objective": 100}}, "less than 100"),
    ],
)
def test_alerts_say_what_their_kind_needs(alert: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Alert.model_validate(alert)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("oncall", "message"),
    [
        ({"channels": {"pd": {"type": "pagerduty", "routing_key_env": "sk-abc-123"}}}, "pattern"),
        ({"channels": {"pd": {"type": "pagerduty", "routing_key": "R0UT1NG"}}}, "Extra inputs"),
        ({"escalation": [{"after_s": 0, "notify": "a", "channels": ["sms"]}]}, "uses channel 'sms'"),
        ({"escalation": [{"notify": "a"}]}, "needs after_minutes (or after_s)"),
        ({"rotation": {"members": [{"name": "a", "contact": "a"}], "handoff": "9am"}}, "HH:MM"),
        ({"rotation": {"members": [{"name": "a", "contact": "a"}], "time_zone": "Mars/Base"}}, "IANA"),
        (
            {"rotation": {"members": [{"name": "a", "contact": "a"}],
                          "overrides": [{"member": "b", "start": "2026-01-02T00:00:00", "end": "2026-01-03T00:00:00+00:00"}]}},
            "no UTC offset",
        ),
    ],
)  # fmt: skip
def test_oncall_mistakes_are_named(oncall: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OnCall.model_validate(oncall)
    assert message in str(caught.value)


def test_secrets_cannot_be_written_in_the_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        spec_with(
            tmp_path,
            "oncall:\n  channels:\n    slack: {type: slack, webhook_url: 'https://hooks.slack.com/x'}\n",
        )
    assert "webhook_url" in str(caught.value)


def test_the_spec_rejects_unknown_metrics_and_failure_modes_at_their_line(tmp_path: Path) -> None:
    with pytest.raises(
        SpecError,
        match=r"alerts\.0\.metric: .*unknown metric 'errors'; did you mean 'error_rate'\? the metrics are error_rate",
    ):
        spec_with(tmp_path, "alerts:\n  - {name: a, metric: errors, op: '>', threshold: 1}\n")
    with pytest.raises(
        SpecError, match=r"alerts\.0\.failure_mode: unknown failure mode 'gone'; known failure_modes: outage"
    ):
        spec_with(
            tmp_path,
            "alerts:\n  - {name: a, metric: error_rate, op: '>', threshold: 1, failure_mode: gone}\n",
        )


def test_a_burn_rate_alert_pages_fast_and_tickets_slow_with_its_failure_modes_severity(
    tmp_path: Path,
) -> None:
    loaded = spec_with(
        tmp_path,
        "alerts:\n  - {name: slo, kind: burn_rate, slo: {objective: 99.9, period_days: 30}, failure_mode: outage}\n",
    )
    fast, slow = compile_rules(loaded)
    assert (fast.name, fast.severity, fast.incident_severity) == ("slo", "page", 1)
    assert (slow.name, slow.severity, slow.incident_severity) == ("slo" + SLOW_SUFFIX, "ticket", 4)
    assert [p.factor for p in fast.pairs] == pytest.approx([14.4, 6])
    assert [p.factor for p in slow.pairs] == pytest.approx([3, 1])
    assert fast.windows() == [300.0, 1800.0, 3600.0, 21600.0]
    assert fast.runbook == "rb.md"


def test_escalation_levels_wait_the_gap_between_steps_and_reach_the_handoff_owners(tmp_path: Path) -> None:
    loaded = load_spec(write_ops_project(tmp_path, receivers="http://127.0.0.1:9", escalate_after_s=3))
    plan = compile_oncall(loaded)
    assert [lv.delay.total_seconds() for lv in plan.policy.levels] == [3.0, 1800.0]
    assert plan.level_channels == (("pagerduty", "slack"), ("slack",))
    fired = datetime.now(UTC)
    pages = plan.pages(fired, fired + timedelta(seconds=4))
    assert [p.level for p in pages] == [0, 1]
    on_call = pages[0].people[0]
    assert on_call in ("Ana", "Bo") and pages[0].handoff_owners == (OWNER,)
    assert pages[0].people == (on_call, OWNER) and pages[1].people == (LEAD,)
    assert plan.directory[OWNER].email == "olga@example.com"
    # An acknowledgement before the second level stops it.
    assert len(plan.pages(fired, fired + timedelta(seconds=4), fired + timedelta(seconds=1))) == 1
    assert plan.handoff_days_left(fired) == 80  # cutover ten days ago, 90-day window


def test_the_handoff_window_closes(tmp_path: Path) -> None:
    loaded = load_spec(write_ops_project(tmp_path, receivers="http://127.0.0.1:9"))
    plan = compile_oncall(loaded)
    later = datetime.now(UTC) + timedelta(days=81)
    assert plan.handoff_days_left(later) is None
    assert plan.pages(later, later)[0].handoff_owners == ()


def test_notify_must_name_someone_known(tmp_path: Path) -> None:
    loaded = spec_with(tmp_path, "oncall:\n  escalation:\n    - {after_minutes: 0, notify: nobody}\n")
    with pytest.raises(ConfigError, match="notify 'nobody' is not 'oncall', 'owners'"):
        compile_oncall(loaded)
    loaded = spec_with(tmp_path, "oncall:\n  escalation:\n    - {after_minutes: 0, notify: oncall}\n")
    with pytest.raises(ConfigError, match=r"pages the rotation, but oncall\.rotation is not set"):
        compile_oncall(loaded)
    plan = compile_oncall(
        spec_with(tmp_path, "oncall:\n  escalation:\n    - {after_minutes: 5, notify: owners}\n")
    )
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert plan.pages(now, now + timedelta(minutes=4)) == []  # the first step waits five minutes
    assert plan.pages(now, now + timedelta(minutes=5))[0].people == (OWNER,)


def test_channels_read_their_secrets_from_the_environment_only(tmp_path: Path) -> None:
    loaded = load_spec(write_ops_project(tmp_path, receivers="http://127.0.0.1:9"))
    oncall = loaded.spec.oncall
    missing = build_channels(oncall, {}, feature="ops")
    assert missing.names() == []
    assert "environment variable TEST_PD_KEY is not set" in missing.problems["pagerduty"]
    assert "TEST_SLACK_URL is not set" in missing.problems["slack"]
    env = {"TEST_PD_KEY": PD_KEY, "TEST_SLACK_URL": "https://hooks.example/services/T/B/secret-token"}
    built = build_channels(oncall, env, feature="ops")
    assert sorted(built.names()) == ["pagerduty", "slack"] and built.problems == {}
    assert "secret-token" not in repr(built.notifiers["slack"]) and PD_KEY not in repr(built.notifiers)
    wrong = build_channels(oncall, {**env, "TEST_PD_KEY": "short"}, feature="ops")
    assert "must be 32 characters" in wrong.problems["pagerduty"]


def test_rotation_start_date_and_overrides_say_who_is_on_call(tmp_path: Path) -> None:
    loaded = spec_with(
        tmp_path,
        """\
        oncall:
          rotation:
            members: [{name: a, contact: a@x.io}, {name: b, contact: b@x.io}]
            start: 2026-03-02
            shift_days: 7
            handoff: "09:00"
            time_zone: Europe/Paris
            overrides: [{member: c, start: "2026-03-10T00:00:00+01:00", end: "2026-03-11T00:00:00+01:00"}]
        """,
    )
    plan = compile_oncall(loaded)
    paris = loaded.spec.oncall.rotation
    assert paris is not None and paris.start == date(2026, 3, 2)
    at = datetime.fromisoformat
    summary = plan.summary(at("2026-03-03T12:00:00+01:00"))
    assert summary is not None and (summary.now, summary.next) == ("a", "b")
    assert plan.summary(at("2026-03-10T12:00:00+01:00")).now == "c"  # type: ignore[union-attr]
    assert plan.summary(at("2026-03-09T08:59:00+01:00")).now == "a"  # type: ignore[union-attr]
    assert plan.summary(at("2026-03-09T09:00:00+01:00")).now == "b"  # type: ignore[union-attr]

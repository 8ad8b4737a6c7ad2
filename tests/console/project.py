"""The project the console tests serve: ``support`` (content captured, guardrails, budgets, a static
degradation, on-call, a failure mode, an eval gate) and ``notes`` (content capture off)."""

from __future__ import annotations

import textwrap
from pathlib import Path

DEGRADED = "Support is paused; a person will answer by e-mail."


def write_project(root: Path, upstream: str) -> tuple[Path, Path]:
    """Write both specs under ``root``; returns their paths."""
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "plain.md").write_text("You answer briefly.\n")
    (root / "runbooks").mkdir(exist_ok=True)
    (root / "runbooks" / "outage.md").write_text("# Outage\nKill the feature, page the owner.\n")
    support = root / "runwell.yaml"
    support.write_text(
        textwrap.dedent(f"""\
        spec_version: 1
        feature:
          name: support
          purpose: Answers support tickets
          owners: [{{name: Ada Owner, email: ada@example.com}}]
        providers:
          up: {{kind: openai, base_url: "{upstream}/v1", api_key_env: TEST_UPSTREAM_KEY}}
        variants:
          main: {{provider: up, model: gpt-4o-mini, prompt: {{file: prompts/plain.md, version: "1"}}}}
          alt: {{provider: up, model: mock-echo, prompt: {{file: prompts/plain.md, version: "1"}}}}
        default_variant: main
        guardrails:
          pii_redaction: true
          max_input_chars: 4000
        budgets:
          daily_usd: 5
          monthly_usd: 100
        fallbacks:
          chain: [alt]
          degradation: {{mode: static, message: "{DEGRADED}"}}
        oncall:
          rotation:
            members:
              - {{name: Grace Oncall, contact: grace@example.com}}
              - {{name: Linus Next, contact: linus@example.com}}
            start: "2024-01-01"
          escalation:
            - {{after_minutes: 0, notify: oncall}}
            - {{after_minutes: 15, notify: owners}}
        failure_modes:
          - {{name: outage, detection: error rate above 5%, mitigation: kill switch, runbook: runbooks/outage.md}}
        alerts:
          # Seeded as firing by the tests; the gateway's evaluator keeps alerts of declared rules only.
          - {{name: high-error-rate, metric: error_rate, op: '>', threshold: 0.05, failure_mode: outage,
              keep_firing_s: 86400}}
        evals:
          gate: {{alpha: 0.05, floor: 0.5}}
        """)
    )
    notes_dir = root / "notes"
    (notes_dir / "prompts").mkdir(parents=True, exist_ok=True)
    (notes_dir / "prompts" / "p.md").write_text("Private notes.\n")
    notes = notes_dir / "runwell.yaml"
    notes.write_text(
        textwrap.dedent(f"""\
        spec_version: 1
        feature:
          name: notes
          purpose: Private notes (content capture off)
          owners: [{{name: Ada Owner, email: ada@example.com}}]
        providers:
          up: {{kind: openai, base_url: "{upstream}/v1", api_key_env: TEST_UPSTREAM_KEY}}
        variants:
          main: {{provider: up, model: gpt-4o-mini, prompt: {{file: prompts/p.md, version: "1"}}}}
        capture: {{content: false}}
        """)
    )
    return support, notes

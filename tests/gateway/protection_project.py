"""The project the runtime-protection tests serve: features whose specs turn every control on."""

from __future__ import annotations

import textwrap
from pathlib import Path

OWNERS = "owners: [{name: Test Owner, email: owner@example.com}]"
DEGRADED = "Support is busy right now; a person will answer your ticket by e-mail."


def _variants(upstream: str, dead_port: int) -> str:
    return textwrap.dedent(f"""\
        providers:
          up: {{kind: openai, base_url: "{upstream}/v1", api_key_env: TEST_UPSTREAM_KEY}}
          dead: {{kind: openai, base_url: "http://127.0.0.1:{dead_port}/v1", api_key_env: TEST_UPSTREAM_KEY}}
        """)


def write_guarded(root: Path, upstream: str, dead_port: int, *, name: str = "guarded") -> Path:
    """``guarded``: input guardrails, per-request and per-user limits, retries, breaker, fallback
    to ``main`` and a static degradation. Each variant scripts one upstream behaviour."""
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "plain.md").write_text("You answer briefly.\n")
    plain = '{file: prompts/plain.md, version: "1"}'
    spec = root / "runwell.yaml"
    spec.write_text(
        f"spec_version: 1\nfeature:\n  name: {name}\n  purpose: Protected test feature\n  {OWNERS}\n"
        + _variants(upstream, dead_port)
        + textwrap.dedent(f"""\
        variants:
          main: {{provider: up, model: mock-echo, prompt: {plain}}}
          alt: {{provider: up, model: mock-echo, prompt: {plain}}}
          down: {{provider: dead, model: gpt-4o-mini, prompt: {plain}}}
          err500: {{provider: up, model: mock-error-500, prompt: {plain}}}
          flaky: {{provider: up, model: mock-flaky-1, prompt: {plain}}}
          ratelimited: {{provider: up, model: mock-error-429-retry-1, prompt: {plain}}}
          slow: {{provider: up, model: mock-slow-5000, prompt: {plain}}}
          cut: {{provider: up, model: mock-cut, prompt: {plain}}}
        default_variant: main
        timeouts: {{request_s: 1, connect_s: 0.5, total_s: 4}}
        guardrails:
          pii_redaction: {{restore: true}}
          injection_check: {{mode: block}}
          max_input_chars: 2000
          output_pii: flag
        budgets:
          per_request: {{max_output_tokens: 512}}
          per_user: {{requests_per_minute: 3}}
        fallbacks:
          chain: [main]
          degradation: {{mode: static, message: "{DEGRADED}"}}
        resilience:
          retries: {{attempts: 2, backoff_s: 0.05, max_backoff_s: 0.2}}
          breaker: {{window: 4, min_calls: 4, failure_rate: 0.5, open_s: 60, half_open_calls: 1}}
        """)
    )
    return spec


def write_structured(root: Path, upstream: str, dead_port: int) -> Path:
    """``structured``: an output schema, a banned pattern, a semantic fallback prompt, and a
    maintenance degradation."""
    folder = root / "structured"
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "prompts" / "plain.md").write_text("You answer briefly.\n")
    (folder / "prompts" / "json.md").write_text("Answer with a JSON object only.\n")
    plain = '{file: prompts/plain.md, version: "1"}'
    spec = folder / "runwell.yaml"
    spec.write_text(
        f"spec_version: 1\nfeature:\n  name: structured\n  purpose: Structured answers\n  {OWNERS}\n"
        + _variants(upstream, dead_port)
        + textwrap.dedent(f"""\
        variants:
          json: {{provider: up, model: mock-json, prompt: {plain},
                 fallback_prompt: {{file: prompts/json.md, version: "1"}}}}
          plain: {{provider: up, model: mock-echo, prompt: {plain}}}
          pii: {{provider: up, model: mock-pii, prompt: {plain}}}
        default_variant: json
        guardrails:
          output_schema: {{type: object, required: [answer]}}
          banned_patterns: {{secret_word: "(?i)swordfish"}}
        fallbacks:
          chain: [json]
          degradation: {{mode: maintenance, message: "Structured answers are paused for maintenance.",
                         retry_after_s: 120}}
        """)
    )
    return spec


def write_redacting(root: Path, upstream: str, dead_port: int) -> Path:
    """``redacting``: PII in answers is redacted before the client sees it."""
    folder = root / "redacting"
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "prompts" / "plain.md").write_text("You answer briefly.\n")
    spec = folder / "runwell.yaml"
    spec.write_text(
        f"spec_version: 1\nfeature:\n  name: redacting\n  purpose: Redacts answers\n  {OWNERS}\n"
        + _variants(upstream, dead_port)
        + textwrap.dedent("""\
        variants:
          pii: {provider: up, model: mock-pii, prompt: {file: prompts/plain.md, version: "1"}}
        guardrails:
          output_pii: redact
        """)
    )
    return spec


def write_metered(root: Path, upstream: str, *, name: str, daily_usd: float, fail: str = "fail_open") -> Path:
    """A feature with a daily dollar budget on a priced mock model ($1 per 1k tokens either way)."""
    folder = root / name
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "prompts" / "plain.md").write_text("You answer briefly.\n")
    spec = folder / "runwell.yaml"
    spec.write_text(
        f"spec_version: 1\nfeature:\n  name: {name}\n  purpose: Metered\n  {OWNERS}\n"
        + textwrap.dedent(f"""\
        providers:
          up: {{kind: openai, base_url: "{upstream}/v1", api_key_env: TEST_UPSTREAM_KEY}}
        variants:
          main: {{provider: up, model: mock-slow-50, prompt: {{file: prompts/plain.md, version: "1"}},
                 params: {{max_tokens: 10}}}}
        prices:
          mock-slow-50: {{input_per_mtok: 1000, output_per_mtok: 1000}}
        budgets:
          daily_usd: {daily_usd}
          on_store_unavailable: {fail}
        """)
    )
    return spec


def write_queued(root: Path, base_url: str) -> Path:
    """``deferred``: answers are queued when the provider is down (``base_url`` may be dead)."""
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "prompts" / "plain.md").write_text("You answer briefly.\n")
    spec = root / "runwell.yaml"
    spec.write_text(
        f"spec_version: 1\nfeature:\n  name: deferred\n  purpose: Queued answers\n  {OWNERS}\n"
        + textwrap.dedent(f"""\
        providers:
          up: {{kind: openai, base_url: "{base_url}/v1", api_key_env: TEST_UPSTREAM_KEY}}
        variants:
          main: {{provider: up, model: mock-echo, prompt: {{file: prompts/plain.md, version: "1"}}}}
        timeouts: {{request_s: 1, connect_s: 0.5}}
        guardrails:
          pii_redaction: true
        resilience:
          retries: {{attempts: 1}}
        fallbacks:
          degradation: {{mode: queued, message: "We will answer shortly; fetch the answer with the ticket."}}
        """)
    )
    return spec

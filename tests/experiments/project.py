"""Projects the experiment tests serve: sim variants that differ in errors, latency or quality."""

from __future__ import annotations

import textwrap
from pathlib import Path

OWNERS = "owners: [{name: Test Owner, email: owner@example.com}]"
GOOD = "Your refund is on its way."
WRONG = "I cannot help with that."

EVAL_CASES = [
    "Where is my refund for order A-100?",
    "I returned the shoes last week, when is the refund due?",
    "Can I get my money back for a damaged parcel?",
    "My refund has not arrived after ten days.",
    "How long does a refund to a credit card take?",
    "I was charged twice for one order, please refund one.",
    "The package never came; I want a refund.",
    "Is the return shipping refunded too?",
    "Refund status for order B-221 please.",
    "I cancelled within 24 hours, where is my refund?",
    "Why was my refund smaller than the price I paid?",
    "Can the refund go to a different card?",
]
"""The inputs of the eval set a feature gets with ``evals=True``."""

# One sim provider per behaviour: the champion, and candidates worse in one way each (or not at all).
# The champion and its twin draw a wide latency (p95 ~44 ms) so that the latency judge reads the
# model's latency, not the gateway's: at a canary's 100 % step the baseline's side is the earlier
# steps' traffic, and with a fixed 5 ms a machine a little slower in the later window pushed the
# equal twin's requests past the baseline's p95. Now only a drift over ~15 ms would; `slow` (120 ms)
# is still past it on every request.
PROVIDERS = f"""\
providers:
  good: {{kind: sim, mode: text, text: "{GOOD}", seed: 1, latency_ms: {{dist: lognormal, p50: 10, p99: 80}}}}
  twin: {{kind: sim, mode: text, text: "{GOOD}", seed: 2, latency_ms: {{dist: lognormal, p50: 10, p99: 80}}}}
  flaky: {{kind: sim, mode: text, text: "{GOOD}", error_rate: 0.5, latency_ms: {{dist: fixed, p50: 5}}}}
  slow: {{kind: sim, mode: text, text: "{GOOD}", latency_ms: {{dist: fixed, p50: 120}}}}
  wrong: {{kind: sim, mode: text, text: "{WRONG}", latency_ms: {{dist: fixed, p50: 5}}}}
"""


def write_feature(
    root: Path,
    name: str,
    *,
    candidate: str,
    rollout: str,
    default: str = "main",
    evals: bool = False,
) -> Path:
    """``root/NAME.yaml``: a feature serving ``default`` (``main``, the champion, unless said) with
    ``candidate`` (twin: equal; flaky: errors; slow: latency; wrong: quality) ready to roll out.
    ``rollout`` is the YAML of the rollout section's body, indented two spaces. Every spec lives in
    ``root``, so a gateway serving several shares one project directory (database, audit key)."""
    folder = root
    (folder / "prompts").mkdir(parents=True, exist_ok=True)
    (folder / "prompts" / "plain.md").write_text("You answer support tickets briefly.\n")
    plain = '{file: prompts/plain.md, version: "1"}'
    suites = ""
    if evals:
        (folder / "evals").mkdir(exist_ok=True)
        (folder / "evals" / f"{name}.jsonl").write_text(
            "".join(
                f'{{"id": "c{i}", "input": "{text}", "reference": "refund"}}\n'
                for i, text in enumerate(EVAL_CASES)
            )
        )
        suites = textwrap.dedent(f"""\
            evals:
              suites:
                - name: core
                  dataset: evals/{name}.jsonl
                  scorers: [{{type: contains}}]
            """)
    spec = folder / f"{name}.yaml"
    spec.write_text(
        f"spec_version: 1\nfeature:\n  name: {name}\n  purpose: Rollout test feature\n  {OWNERS}\n"
        + PROVIDERS
        + textwrap.dedent(f"""\
        variants:
          main: {{provider: good, model: sim-good, prompt: {plain}}}
          twin: {{provider: twin, model: sim-twin, prompt: {plain}}}
          flaky: {{provider: flaky, model: sim-flaky, prompt: {plain}}}
          slow: {{provider: slow, model: sim-slow, prompt: {plain}}}
          wrong: {{provider: wrong, model: sim-wrong, prompt: {plain}}}
        default_variant: {default}
        timeouts: {{request_s: 5, connect_s: 1}}
        resilience:
          retries: {{attempts: 1}}
          breaker: {{window: 1000, min_calls: 1000}}
        """)
        + suites
        + f"rollout:\n  candidate: {candidate}\n"
        + rollout
    )
    return spec

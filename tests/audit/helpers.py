"""Entry factories and a hand-driven clock for the audit tests."""

from __future__ import annotations

from runwell.audit import ChangeEntry, DecisionEntry, sha256_hex


def decision(n: int, *, outcome: str = "served") -> DecisionEntry:
    """A realistic decision entry, distinct for each ``n``."""
    return DecisionEntry(
        time="2026-11-22T04:23:00.123Z",
        request_id=f"req-{n}",
        feature="support-bot",
        variant="champion",
        provider="openai",
        model="gpt-4o-mini",
        spec_version="git:3f2a9c1+sha256:9d1e",
        prompt_version="answer@7",
        user=f"user-{n % 7}",
        guardrails={"pii_redaction": "on", "injection_check": "on"},
        flags={"new_prompt": n % 2 == 0, "max_tokens": 512},
        outcome=outcome,  # type: ignore[arg-type]
        http_status=200,
        input_sha256=sha256_hex(f"input {n}"),
        output_sha256=sha256_hex(f"output {n}"),
    )


def change(n: int) -> ChangeEntry:
    """A state-change entry."""
    return ChangeEntry(
        time="2026-11-22T04:24:00.000Z",
        kind="flag_changed",
        actor="cli:alice",
        subject="support-bot/flags/new_prompt",
        reason=f"step {n}",
        before=False,
        after=True,
    )


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

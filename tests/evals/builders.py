"""Builders for synthetic eval runs, shared by the compare, gate and report tests."""

from __future__ import annotations

from collections.abc import Sequence

from runwell.evals import CaseResult, RunResult


def build_run(
    passes: Sequence[bool | Sequence[bool]],
    *,
    variant: str = "v",
    dataset_hash: str = "d" * 64,
    tags: Sequence[Sequence[str]] | None = None,
    ids: Sequence[str] | None = None,
    latency_ms: float | None = 100.0,
    cost_usd: float | None = 0.001,
) -> RunResult:
    """A run whose case i passes per ``passes[i]`` (one bool, or one per repeat); score = 1.0 / 0.0."""
    cases = []
    for i, verdict in enumerate(passes):
        repeats = [verdict] if isinstance(verdict, bool) else list(verdict)
        cases.append(
            CaseResult(
                case_id=ids[i] if ids else f"c{i:04d}",
                tags=list(tags[i]) if tags else [],
                outputs=["yes" if p else "no" for p in repeats],
                scores=[1.0 if p else 0.0 for p in repeats],
                passed=list(repeats),
                latency_ms=latency_ms,
                input_tokens=10 * len(repeats),
                output_tokens=5 * len(repeats),
                cost_usd=cost_usd,
            )
        )
    return RunResult(f"run-{variant}", variant, "spec-1", dataset_hash, cases)

"""Deep readiness: is every dependency of the gateway able to serve right now?

Each check runs concurrently with its own deadline, and the combined answer is cached for a
moment so a load balancer polling ``/readyz`` cannot turn into a probe storm upstream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = ["Readiness"]

Check = Callable[[], Awaitable[Mapping[str, Any] | None]]


class Readiness:
    """Runs named checks; a check passes by returning (optionally with details) and fails by raising."""

    def __init__(self, checks: Mapping[str, Check], *, timeout_s: float = 3.0, cache_s: float = 1.0) -> None:
        self._checks = dict(checks)
        self._timeout = timeout_s
        self._cache_s = cache_s
        self._cached: tuple[float, bool, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def _run(self, check: Check) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            details = await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            return {
                "status": "fail",
                "error": f"no answer within {self._timeout:g}s",
                "latency_ms": round((time.perf_counter() - t0) * 1000, 2),
            }
        except Exception as exc:  # a failing check is the answer, not an error of ours
            return {
                "status": "fail",
                "error": str(exc) or type(exc).__name__,
                "latency_ms": round((time.perf_counter() - t0) * 1000, 2),
            }
        result: dict[str, Any] = {"status": "ok", "latency_ms": round((time.perf_counter() - t0) * 1000, 2)}
        if details:
            result.update(details)
        return result

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """``(ready, {"status": ..., "checks": {name: {...}}})``."""
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._cache_s:
                return self._cached[1], self._cached[2]
            names = list(self._checks)
            results = await asyncio.gather(*(self._run(self._checks[n]) for n in names))
            checks = dict(zip(names, results, strict=True))
            ready = all(r["status"] == "ok" for r in results)
            body = {"status": "ready" if ready else "not_ready", "checks": checks}
            self._cached = (now, ready, body)
            return ready, body

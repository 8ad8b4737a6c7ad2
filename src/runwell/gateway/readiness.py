"""Deep readiness: can this gateway serve right now, and which of its features can?

Two kinds of check run concurrently, each with its own deadline:

- **gateway-wide** (the store is writable, the audit log is appending, request records are being
  written): if one fails, no feature can be served honestly, and ``/readyz`` answers 503;
- **per provider**, reported per feature: a feature whose providers are all down is
  ``unavailable``, but the others are still served, so ``/readyz`` stays 200 and a load balancer
  does not drain a healthy gateway. ``/readyz?feature=NAME`` answers for one feature (503 when it
  cannot be served), for a health check per feature.

The combined answer is cached for a moment so a load balancer polling ``/readyz`` cannot turn
into a probe storm upstream. Error details (which may name upstream URLs or file paths) are shown
only to the admin token; everyone else sees each check's status and error class.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from runwell.errors import ProviderError
from runwell.providers.base import Provider

__all__ = ["Readiness"]

Check = Callable[[], Awaitable[object]]


class Readiness:
    """Runs the checks and composes the ``/readyz`` body; see the module docstring."""

    def __init__(
        self,
        gateway_checks: Mapping[str, Check],
        features: Mapping[str, Sequence[Provider]],
        *,
        timeout_s: float = 3.0,
        cache_s: float = 1.0,
    ) -> None:
        self._gateway = dict(gateway_checks)
        self._features = {name: [p.name for p in providers] for name, providers in features.items()}
        self._probes: dict[str, Check] = {}
        for providers in features.values():
            for provider in providers:
                self._probes.setdefault(provider.name, provider.probe)
        self._timeout = timeout_s
        self._cache_s = cache_s
        self._cached: tuple[float, dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None = None
        self._lock = asyncio.Lock()

    async def _run(self, check: Check) -> dict[str, Any]:
        t0 = time.perf_counter()
        result: dict[str, Any]
        try:
            await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            result = {
                "status": "fail",
                "error_class": "timeout",
                "error": f"no answer within {self._timeout:g}s",
            }
        except ProviderError as exc:
            result = {"status": "fail", "error_class": exc.error_class, "error": str(exc)}
        except Exception as exc:  # a failing check is the answer, not an error of ours
            result = {
                "status": "fail",
                "error_class": type(exc).__name__,
                "error": str(exc) or type(exc).__name__,
            }
        else:
            result = {"status": "ok"}
        result["latency_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        return result

    async def _results(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._cache_s:
                return self._cached[1], self._cached[2]
            checks = [*self._gateway.values(), *self._probes.values()]
            ran = await asyncio.gather(*(self._run(c) for c in checks))
            split = len(self._gateway)
            results = dict(zip(self._gateway, ran[:split], strict=True))
            probes = dict(zip(self._probes, ran[split:], strict=True))
            self._cached = (now, results, probes)
            return results, probes

    async def report(
        self, *, feature: str | None = None, detailed: bool = False
    ) -> tuple[bool, dict[str, Any]]:
        """``(ready, body)``: the whole gateway, or one ``feature`` when given."""
        gateway, probes = await self._results()
        gateway_ok = all(r["status"] == "ok" for r in gateway.values())
        features: dict[str, dict[str, Any]] = {}
        for name, providers in self._features.items():
            if feature is not None and name != feature:
                continue
            mine = {p: _shown(probes[p], detailed) for p in providers}
            serving = gateway_ok and any(r["status"] == "ok" for r in mine.values())
            features[name] = {"status": "ready" if serving else "unavailable", "providers": mine}
        ready = gateway_ok and any(f["status"] == "ready" for f in features.values())
        body = {
            "status": "ready" if ready else "not_ready",
            "checks": {name: _shown(r, detailed) for name, r in gateway.items()},
            "features": features,
        }
        return ready, body


def _shown(result: dict[str, Any], detailed: bool) -> dict[str, Any]:
    if detailed or "error" not in result:
        return result
    return {k: v for k, v in result.items() if k != "error"}

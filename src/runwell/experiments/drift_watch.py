"""The gateway's drift monitor: live inputs against the eval set, on a timer, an event past the threshold.

Every ``rollout.drift.every_s`` each feature with an eval set is assessed (:func:`runwell.drift.assess`)
in a worker thread: the latest ``live_sample`` captured inputs against up to ``reference_sample``
eval-set inputs. A verdict of drift raises an ``input_drift`` event (counted in ``/metrics``,
audited, paged on by the alerts) with the reasons and the least-like inputs' request ids; the
latest report of each feature shows in ``/readyz`` under ``drift``. The reference texts are read
and the embedding model loaded on the first look, not at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from runwell.drift.live import live_inputs
from runwell.drift.monitor import DriftReport, DriftSettings, Embed, assess, local_embedder
from runwell.drift.reference import reference_texts
from runwell.errors import ConfigError, StoreError
from runwell.experiments.controller import Emit
from runwell.spec.loader import LoadedSpec
from runwell.store import Database

__all__ = ["DriftWatch", "drift_settings"]

_log = logging.getLogger("runwell.experiments")


def drift_settings(loaded: LoadedSpec) -> DriftSettings:
    """The spec's ``rollout.drift`` as the monitor's settings."""
    policy = loaded.spec.rollout.drift
    return DriftSettings(
        method=policy.method,
        p_value=policy.p_value,
        auc=policy.auc,
        psi=policy.psi,
        min_live=policy.min_live,
        reference_sample=policy.reference_sample,
    )


class _Remembered:
    """An embedder that remembers its latest vectors: each look embeds only the inputs that are new
    since the one before (the reference set and most live inputs repeat from look to look)."""

    def __init__(self, embed: Embed, *, keep: int = 5_000) -> None:
        self._embed = embed
        self._keep = keep
        self._vectors: dict[str, list[float]] = {}

    def __call__(self, texts: list[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self._embed(missing), strict=True))
        found = [self._vectors[t] for t in texts]
        if len(self._vectors) > self._keep:
            wanted = set(texts)
            self._vectors = {t: v for t, v in self._vectors.items() if t in wanted}
        return found


class DriftWatch:
    """Assesses each watched feature in turn; see the module docstring."""

    def __init__(
        self,
        db: Database,
        specs: Mapping[str, LoadedSpec],
        emit: Emit,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._specs = {
            name: loaded
            for name, loaded in specs.items()
            if loaded.spec.rollout.drift.enabled and loaded.spec.evals.suites
        }
        self._emit = emit
        self._clock = clock
        self._due: dict[str, float] = {}
        self._references: dict[str, list[str]] = {}
        self._embed: tuple[Embed | None, str | None] | None = None
        self.reports: dict[str, DriftReport] = {}

    @property
    def watching(self) -> bool:
        """Whether any feature is watched (it has an eval set and drift enabled)."""
        return bool(self._specs)

    async def tick(self) -> None:
        """Assess the features that are due (the background job)."""
        now = self._clock()
        for name, loaded in self._specs.items():
            every_s = loaded.spec.rollout.drift.every_s
            # The first look comes one period after start-up: live traffic needs time to arrive.
            due = self._due.setdefault(name, now + every_s)
            if now < due:
                continue
            self._due[name] = now + every_s
            try:
                report = await asyncio.to_thread(self.assess, name)
            except (ConfigError, StoreError, OSError) as exc:
                _log.warning("drift check of %s failed (next in %gs): %s", name, every_s, exc)
                continue
            self.reports[name] = report
            if report.drifted:
                self._emit(
                    "input_drift",
                    {
                        "feature": name,
                        "reasons": list(report.reasons),
                        "live_n": report.live_n,
                        "reference_n": report.reference_n,
                        "embedding": report.embedding,
                        "least_like": [item["request_id"] for item in report.least_like],
                    },
                    subject=name,
                )

    def assess(self, name: str) -> DriftReport:
        """One assessment of ``name`` (blocking: reads the store, embeds, runs the tests)."""
        loaded = self._specs[name]
        if name not in self._references:
            self._references[name] = reference_texts(loaded)
        if self._embed is None:
            embed, why = local_embedder()
            self._embed = (None if embed is None else _Remembered(embed), why)
        embed, note = self._embed
        policy = loaded.spec.rollout.drift
        live = live_inputs(self._db, name, limit=policy.live_sample)
        return assess(name, self._references[name], live, drift_settings(loaded), embed, note=note)

    def status(self) -> dict[str, Any]:
        """The latest verdict of each watched feature, for ``/readyz``."""
        return {
            name: {
                "verdict": report.verdict,
                "reasons": list(report.reasons),
                "live_n": report.live_n,
                "reference_n": report.reference_n,
            }
            for name, report in self.reports.items()
        }

"""The rollout controller: judges each window when it ends and moves the rollout; the always-on rule.

Two background jobs on every replica (each judgement reads the database and runs the statistics in
a worker thread, never on the event loop):

- :meth:`Controller.tick` (every half second) looks at each running rollout. A canary's window is
  judged once, when it ends (its interval, plus any extensions); an A/B test or a shadow run is
  judged every interval until its horizon. The verdict moves the rollout
  (:meth:`runwell.rollout.policy.Rollout.evaluate`): a pass advances or promotes, a fail rolls back
  at once, an inconclusive window is extended up to its limit, then paused or rolled back. A look
  that changes nothing is kept in the history; a change is one audited transition, written by
  compare-and-set, so when two replicas judge the same window only one moves the rollout.
- :meth:`Controller.guard_tick` (every ``rollout.guard.every_s``) keeps the serving version noted
  (a promotion or a spec deploy replaces it; the one it replaced becomes the previous version), and
  outside a rollout compares the serving version's recent window with the previous version's last
  one on the critical metrics: a critical breach rolls back to the previous version when the
  deployed spec still has it, and otherwise raises a ``serving_regression`` event saying so.

A rollback, a revert, a promotion and a pause each raise an event (counted in ``/metrics``,
audited, paged on by the alerts) carrying the verdict and every metric's numbers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from runwell.audit.log import AuditLog
from runwell.catalog import Catalog
from runwell.errors import ConfigError, StoreError
from runwell.experiments import actions
from runwell.experiments.cache import RolloutCache
from runwell.experiments.config import Experiment, strategy_of
from runwell.experiments.metrics import metric_data
from runwell.experiments.state import (
    Change,
    FeatureState,
    Version,
    load_state,
    note_serving,
    record_look,
    serving_variant,
)
from runwell.experiments.windows import read_window, rollout_selections, version_selection
from runwell.rollout.guard import check_serving
from runwell.rollout.judge import judge
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import CanaryStrategy
from runwell.store import Database

__all__ = ["Controller", "Emit"]

_log = logging.getLogger("runwell.experiments")

Emit = Callable[..., None]
"""``emit(kind, details, subject=...)``: the gateway's event sink (``Events.emit``)."""

_EVENTS = {
    "rollback": "rollout_rolled_back",
    "revert": "rollout_rolled_back",
    "promote": "rollout_promoted",
    "pause": "rollout_paused",
}


def _metric_numbers(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    if evidence is None:
        return {}
    return {
        m["name"]: {
            "verdict": m["verdict"],
            "critical": m["critical"],
            "baseline": m["baseline_level"],
            "candidate": m["candidate_level"],
            "estimate": m["estimate"],
            "ci": [m["ci_low"], m["ci_high"]],
            "p_value": m["p_value"],
            "tolerance": m["threshold"],
        }
        for m in evidence["metrics"]
    }


class Controller:
    """Judges running rollouts and watches the serving version; see the module docstring."""

    def __init__(
        self,
        db: Database,
        log: AuditLog,
        catalog: Catalog,
        experiments: Mapping[str, Experiment],
        cache: RolloutCache,
        emit: Emit,
        *,
        clock: Callable[[], float] = time.time,
        publish: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """``publish(feature)`` tells the other replicas at once that this one moved a rollout
        (:class:`~runwell.experiments.signal.RolloutSignal`, with ``--redis``)."""
        self._publish = publish
        self._db = db
        self._log = log
        self._catalog = catalog
        self._experiments = dict(experiments)
        self._cache = cache
        self._emit = emit
        self._clock = clock
        self._last_look: dict[str, float] = {}
        self._flagged: set[tuple[str, str, str]] = set()
        self._guard_due: dict[str, float] = {}

    # -- start-up -----------------------------------------------------------------------------------

    def prepare(self) -> None:
        """At start-up (blocking): note each feature's serving version, start the rollouts the spec
        asks to start (``auto_start``), and load the cache."""
        self._cache.refresh()
        for feature, experiment in self._experiments.items():
            self._sync_serving(feature, load_state(self._db, feature))
            self._auto_start(feature, experiment)
        self._cache.refresh()

    def _auto_start(self, feature: str, experiment: Experiment) -> None:
        spec = experiment.spec
        if not spec.auto_start or spec.strategy == "none" or spec.candidate is None:
            return
        state = load_state(self._db, feature)
        current = state.rollout
        if current is not None and (not current.final or current.candidate == spec.candidate):
            return  # running already, or this candidate had its rollout: a person starts it again
        if serving_variant(state, experiment.default_variant) == spec.candidate:
            return
        try:
            actions.start(
                self._log,
                feature,
                spec_default=experiment.default_variant,
                candidate=spec.candidate,
                strategy=strategy_of(spec),
                variants=frozenset(self._catalog.features[feature].variants),
                actor="runwell",
                reason="rollout.auto_start is set in the deployed spec",
                clock=self._clock,
            )
        except ConfigError as exc:  # another replica started it first
            _log.info("auto-start of the %s rollout skipped: %s", feature, exc)

    # -- the rollout judge ---------------------------------------------------------------------------

    def _due(self, rollout: Rollout, now: float) -> bool:
        end = rollout.window_end
        if end is None or now < end:
            return False
        if isinstance(rollout.strategy, CanaryStrategy):
            return True
        last = self._last_look.get(rollout.rollout_id)
        return last is None or now - last >= rollout.strategy.interval_s

    async def tick(self) -> None:
        """Judge every running rollout whose window is due (the background job)."""
        moved: list[str] = []
        for feature in self._experiments:
            state = self._cache.current.get(feature)
            rollout = None if state is None else state.rollout
            if rollout is None or rollout.state != "running" or not self._due(rollout, self._clock()):
                continue
            try:
                if await asyncio.to_thread(self.judge_rollout, feature, rollout):
                    moved.append(feature)
            except StoreError as exc:
                _log.warning("could not judge the %s rollout (will retry): %s", feature, exc)
        await self.moved(*moved)

    async def moved(self, *features: str) -> None:
        """After this replica moved the rollouts of ``features``: reload this replica's cache now,
        and tell the others (with ``--redis``; they poll otherwise)."""
        if not features:
            return
        await asyncio.to_thread(self._cache.refresh)
        if self._publish is not None:
            for feature in features:
                await self._publish(feature)

    def judge_rollout(self, feature: str, rollout: Rollout) -> bool:
        """Judge the rollout's current window and act on the verdict (blocking); whether it moved."""
        experiment = self._experiments[feature]
        variants = self._catalog.features[feature].variants
        missing = [v for v in (rollout.baseline, rollout.candidate) if v not in variants]
        now = self._clock()
        if missing:
            actions.act(
                self._log,
                feature,
                "abort",
                actor="runwell",
                reason=f"variant {', '.join(missing)} is not in the deployed spec of {feature}",
                clock=self._clock,
            )
            return True
        baseline, candidate = rollout_selections(feature, rollout, now)
        window = read_window(self._db, baseline, candidate, experiment.metric_names)
        data = metric_data(experiment.metric_names, window.baseline, window.candidate)
        result = judge(experiment.metrics, data, experiment.judge)
        requests = window.candidate.requests
        self._last_look[rollout.rollout_id] = now
        looked = rollout.evaluate(result, now, requests=requests, actor="runwell")
        extra = {"window": window.describe(), "requests": requests}
        if looked.event.action == "hold":
            record_look(self._db, feature, looked.event, extra)
            return False
        change = actions.evaluate(
            self._log,
            feature,
            rollout_id=rollout.rollout_id,
            rollout_version=rollout.version,
            result=result,
            requests=requests,
            window=window.describe(),
            clock=self._clock,
        )
        if change is None:
            return False
        self.announce(feature, change)
        return True

    def announce(self, feature: str, change: Change) -> None:
        """Raise the event a transition calls for (rollback, revert, promotion, pause)."""
        event = change.transition.event
        kind = _EVENTS.get(event.action)
        if kind is None:
            return
        rollout = change.transition.rollout
        evidence = event.evidence
        details: dict[str, Any] = {
            "feature": feature,
            "rollout_id": rollout.rollout_id,
            "action": event.action,
            "baseline": rollout.baseline,
            "candidate": rollout.candidate,
            "serving": serving_variant(change.after, self._experiments[feature].default_variant),
            "reason": event.reason,
            "actor": event.actor,
            "verdict": None if evidence is None else evidence["verdict"],
            "failed": [] if evidence is None else evidence["failed"],
            "metrics": _metric_numbers(evidence),
        }
        if change.extra and "window" in change.extra:
            details["window"] = change.extra["window"]
        self._emit(kind, details, subject=feature)

    # -- the always-on rule -------------------------------------------------------------------------

    async def guard_tick(self) -> None:
        """Note the serving version and apply the always-on rule to each feature that is due (the job)."""
        moved: list[str] = []
        now = self._clock()
        for feature, experiment in self._experiments.items():
            rule = experiment.spec.guard
            if not rule.enabled or now < self._guard_due.get(feature, 0.0):
                continue
            self._guard_due[feature] = now + rule.every_s
            try:
                if await asyncio.to_thread(self.guard, feature):
                    moved.append(feature)
            except StoreError as exc:
                _log.warning("the always-on rule could not check %s (will retry): %s", feature, exc)
        await self.moved(*moved)

    def _sync_serving(self, feature: str, state: FeatureState) -> FeatureState:
        experiment = self._experiments[feature]
        name = serving_variant(state, experiment.default_variant)
        variant = self._catalog.features[feature].variants.get(name)
        if variant is None:
            return state
        now = self._clock()
        current = Version(name, variant.prompt_version, variant.model, since=now)
        if state.serving is not None and state.serving.same(current):
            return state

        def decide(before: FeatureState) -> FeatureState | None:
            if before.serving is not None and before.serving.same(current):
                return None
            since = now
            rollout = before.rollout
            if rollout is not None and rollout.state == "promoted" and rollout.candidate == name:
                since = rollout.updated_at or now  # it took over when it was promoted
            previous = None if before.serving is None else replace(before.serving, until=since)
            return replace(before, serving=replace(current, since=since), previous=previous)

        written = note_serving(self._db, feature, decide, now=now)
        return written if written is not None else load_state(self._db, feature)

    def guard(self, feature: str) -> bool:
        """Apply the always-on rule to one feature (blocking); whether it rolled back."""
        experiment = self._experiments[feature]
        state = self._sync_serving(feature, load_state(self._db, feature))
        rollout = state.rollout
        if rollout is not None and not rollout.final:
            return False  # the rollout's own judge is in charge
        serving, previous = state.serving, state.previous
        critical = experiment.critical
        if serving is None or previous is None or not critical:
            return False
        now = self._clock()
        window_s = experiment.spec.guard.window_s
        ended = previous.until if previous.until is not None else serving.since
        window = read_window(
            self._db,
            version_selection(
                feature,
                previous.variant,
                previous.prompt_version,
                max(previous.since, ended - window_s),
                ended,
            ),
            version_selection(
                feature, serving.variant, serving.prompt_version, max(serving.since, now - window_s), now
            ),
            [m.name for m in critical],
        )
        result = judge(
            critical,
            metric_data([m.name for m in critical], window.baseline, window.candidate),
            experiment.judge,
        )
        breach = check_serving(result, serving=serving.label(), previous=previous.label(), now=now)
        if breach is None:
            return False
        servable = previous.variant in self._catalog.features[feature].variants
        if servable and previous.variant != serving.variant:
            change = actions.revert_serving(
                self._log,
                feature,
                serving=serving,
                previous=previous,
                result=result,
                reason=f"always-on rule: {breach.reason}; all traffic back to {previous.variant}",
                window=window.describe(),
                clock=self._clock,
            )
            if change is not None:
                self.announce(feature, change)
                return True
            return False
        key = (feature, serving.label(), previous.label())
        if key not in self._flagged:
            self._flagged.add(key)
            self._emit(
                "serving_regression",
                {
                    "feature": feature,
                    "serving": serving.to_dict(),
                    "previous": previous.to_dict(),
                    "reason": breach.reason,
                    "breached": list(breach.breached),
                    "metrics": _metric_numbers(breach.evidence),
                    "action": (
                        "none: the previous version's prompt or model changed in place and the deployed spec "
                        "cannot serve it any more; redeploy it to roll back"
                    ),
                },
                subject=feature,
            )
        return False

"""The rollout state machine: states, the transitions between them, and the events they emit.

Pure: no clock, no storage, no traffic. Every transition takes ``now`` (seconds, any epoch the
caller keeps consistent) and returns a :class:`Transition`: the new, immutable :class:`Rollout`
and the :class:`RolloutEvent` to audit. ``version`` grows by one per transition, so a store can
write with compare-and-set and two controllers never both advance the same step.

States::

    pending ──start──► running ──evaluate: pass on the last step / promote──► promoted
                        │  ▲  └──evaluate: fail, or inconclusive with on_inconclusive=rollback──► rolled_back
               pause /  │  │ resume (a fresh window for the current step)
    inconclusive with   ▼  │
    on_inconclusive=pause  paused
    pending | running | paused ──abort──► aborted
    promoted ──revert (the always-on rule found a critical breach)──► rolled_back

``rolled_back`` and ``aborted`` are final; ``promoted`` is final for the rollout's own judge, and
only the always-on rule (:mod:`runwell.rollout.guard`) may still take it back with :meth:`revert`.

How :meth:`Rollout.evaluate` reads the judge's verdict:

- ``fail`` rolls back at once, whenever it comes (a regression is not kept for the rest of a window).
- Before the window's end (canary: the step's interval, times one plus the extensions used; A/B and
  shadow: the horizon) ``pass`` and ``inconclusive`` hold.
- At or after it, ``pass`` advances to the next canary step, or promotes (after the last step, or
  at the horizon of an A/B or shadow run whose decision rule is met). ``inconclusive`` extends the
  window by one interval, up to ``max_extensions`` times, then pauses for a human or rolls back
  (``on_inconclusive``), as Argo Rollouts does with an inconclusive analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from runwell.errors import ConfigError
from runwell.rollout.judge import JudgeResult
from runwell.rollout.strategy import ABStrategy, CanaryStrategy, ShadowStrategy, Strategy, strategy_from_dict

__all__ = [
    "Action",
    "Rollout",
    "RolloutEvent",
    "RolloutState",
    "Transition",
]

RolloutState: TypeAlias = Literal["pending", "running", "paused", "promoted", "rolled_back", "aborted"]
Action: TypeAlias = Literal[
    "start", "hold", "advance", "extend", "promote", "rollback", "pause", "resume", "abort", "revert"
]

_STATES: tuple[RolloutState, ...] = ("pending", "running", "paused", "promoted", "rolled_back", "aborted")
_FINAL: frozenset[str] = frozenset({"promoted", "rolled_back", "aborted"})
_SCHEMA = 1


@dataclass(frozen=True, slots=True)
class RolloutEvent:
    """One transition, as the audit log records it.

    ``percent`` is the share of served traffic on the candidate before and after; ``evidence`` is
    the judge result's ``to_dict`` when a verdict caused the transition; ``actor`` is
    ``"controller"`` for the machine or the operator's name.
    """

    rollout_id: str
    version: int
    at: float
    action: Action
    from_state: RolloutState
    to_state: RolloutState
    from_step: int
    to_step: int
    from_percent: float
    to_percent: float
    reason: str
    actor: str
    evidence: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "rollout_id": self.rollout_id,
            "version": self.version,
            "at": self.at,
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "from_step": self.from_step,
            "to_step": self.to_step,
            "from_percent": self.from_percent,
            "to_percent": self.to_percent,
            "reason": self.reason,
            "actor": self.actor,
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class Transition:
    """What a transition returns: the rollout after it and the event that describes it."""

    rollout: Rollout
    event: RolloutEvent


@dataclass(frozen=True, slots=True)
class Rollout:
    """One rollout of ``candidate`` against ``baseline`` (variant names), and where it stands.

    ``window_start`` is when the current step's judging window opened (``None`` before start);
    ``extensions`` how many intervals the current window has been extended by.
    """

    rollout_id: str
    baseline: str
    candidate: str
    strategy: Strategy
    state: RolloutState = "pending"
    step: int = 0
    window_start: float | None = None
    extensions: int = 0
    started_at: float | None = None
    updated_at: float | None = None
    version: int = 0

    def __post_init__(self) -> None:
        where = f"rollout {self.rollout_id!r}"
        if not self.rollout_id:
            raise ConfigError("rollout: rollout_id is empty; every rollout needs a stable id")
        if self.state not in _STATES:
            raise ConfigError(f"{where}: state {self.state!r} is not one of {', '.join(_STATES)}")
        last = len(self.strategy.steps) - 1 if isinstance(self.strategy, CanaryStrategy) else 0
        if not 0 <= self.step <= last:
            raise ConfigError(f"{where}: step {self.step} is outside the strategy's steps 0..{last}")
        if self.state in ("running", "paused") and (self.window_start is None or self.started_at is None):
            raise ConfigError(f"{where}: a {self.state} rollout needs window_start and started_at")
        if self.extensions < 0 or self.version < 0:
            raise ConfigError(f"{where}: extensions and version must be 0 or more")

    @property
    def final(self) -> bool:
        """Whether the rollout has ended (promoted, rolled back or aborted)."""
        return self.state in _FINAL

    @property
    def candidate_percent(self) -> float:
        """The share of served traffic (0..100) the router sends to the candidate now."""
        if self.state == "promoted":
            return 0.0 if isinstance(self.strategy, ShadowStrategy) else 100.0
        if self.state not in ("running", "paused"):
            return 0.0
        if isinstance(self.strategy, CanaryStrategy):
            return self.strategy.steps[self.step]
        if isinstance(self.strategy, ABStrategy):
            return self.strategy.percent
        return 0.0

    @property
    def mirror_rate(self) -> float:
        """The fraction of requests copied to the candidate without serving it (shadow only)."""
        running = self.state in ("running", "paused")
        return self.strategy.sample_rate if running and isinstance(self.strategy, ShadowStrategy) else 0.0

    @property
    def window_end(self) -> float | None:
        """When the current canary window may be judged (its interval, plus any extensions)."""
        if self.window_start is None:
            return None
        return self.window_start + self.strategy.interval_s * (1 + self.extensions)

    def _move(
        self,
        now: float,
        action: Action,
        reason: str,
        actor: str,
        evidence: JudgeResult | None = None,
        **changes: Any,
    ) -> Transition:
        # A hold changes nothing, so it keeps the version: there is nothing to write back.
        after = (
            self if action == "hold" else replace(self, updated_at=now, version=self.version + 1, **changes)
        )
        event = RolloutEvent(
            rollout_id=self.rollout_id,
            version=after.version,
            at=now,
            action=action,
            from_state=self.state,
            to_state=after.state,
            from_step=self.step,
            to_step=after.step,
            from_percent=self.candidate_percent,
            to_percent=after.candidate_percent,
            reason=reason,
            actor=actor,
            evidence=None if evidence is None else evidence.to_dict(),
        )
        return Transition(rollout=after, event=event)

    def _require(self, action: str, *allowed: RolloutState) -> None:
        if self.state not in allowed:
            raise ConfigError(
                f"rollout {self.rollout_id!r}: cannot {action} while {self.state}; "
                f"{action} applies to a {' or '.join(allowed)} rollout"
            )

    def start(self, now: float, *, actor: str = "controller") -> Transition:
        """Begin: the first step's traffic (or the A/B split, or the mirror) goes live."""
        self._require("start", "pending")
        return self._move(
            now,
            "start",
            f"started {self._describe()}",
            actor,
            state="running",
            step=0,
            window_start=now,
            extensions=0,
            started_at=now,
        )

    def evaluate(
        self, result: JudgeResult, now: float, *, requests: int | None = None, actor: str = "controller"
    ) -> Transition:
        """Act on the judge's verdict for the current window (see the module docstring).

        ``requests`` is the candidate's request count since the start, which an A/B or shadow
        horizon in requests needs; a canary ignores it. A ``hold`` returns this very rollout
        (same version): the controller need not store anything, only log the event if it likes.
        """
        self._require("evaluate", "running")
        if result.verdict == "fail":
            return self._move(
                now,
                "rollback",
                f"judge failed the candidate: {result.reason}",
                actor,
                result,
                state="rolled_back",
            )
        if isinstance(self.strategy, CanaryStrategy):
            return self._evaluate_canary(self.strategy, result, now, actor)
        return self._evaluate_horizon(result, now, requests, actor)

    def _evaluate_canary(
        self, strategy: CanaryStrategy, result: JudgeResult, now: float, actor: str
    ) -> Transition:
        window_end = self.window_end
        assert window_end is not None  # running rollouts have a window (checked in __post_init__)
        if now < window_end:
            return self._hold(result, now, actor, f"window open until {window_end:.0f}")
        if result.verdict == "pass":
            if self.step == len(strategy.steps) - 1:
                return self._move(
                    now, "promote", f"passed the last step: {result.reason}", actor, result, state="promoted"
                )
            nxt = strategy.steps[self.step + 1]
            return self._move(
                now,
                "advance",
                f"passed step {self.step + 1} of {len(strategy.steps)}; moving to {nxt:g}%: {result.reason}",
                actor,
                result,
                step=self.step + 1,
                window_start=now,
                extensions=0,
            )
        return self._inconclusive(result, now, actor)

    def _horizon_reached(self, now: float, requests: int | None) -> bool:
        strategy = self.strategy
        assert not isinstance(strategy, CanaryStrategy)
        assert self.started_at is not None
        if strategy.horizon_requests is not None and requests is None and strategy.horizon_s is None:
            raise ConfigError(
                f"rollout {self.rollout_id!r}: the horizon is in requests; pass requests= to evaluate"
            )
        by_requests = strategy.horizon_requests is not None and (requests or 0) >= strategy.horizon_requests
        by_time = strategy.horizon_s is not None and now >= self.started_at + strategy.horizon_s
        return by_requests or by_time

    def _evaluate_horizon(
        self, result: JudgeResult, now: float, requests: int | None, actor: str
    ) -> Transition:
        if not self._horizon_reached(now, requests):
            return self._hold(result, now, actor, "horizon not reached")
        if result.verdict == "inconclusive":
            return self._inconclusive(result, now, actor)
        strategy = self.strategy
        if isinstance(strategy, ABStrategy) and strategy.decision == "improvement":
            primary = strategy.primary_metric
            assert primary is not None  # checked by ABStrategy
            try:
                improved = result.metric(primary).shift == "better"
            except KeyError as exc:
                raise ConfigError(
                    f"rollout {self.rollout_id!r}: primary metric {primary!r} is not among the judged metrics"
                ) from exc
            if not improved:
                return self._move(
                    now,
                    "rollback",
                    f"horizon reached without a significant improvement in {primary}; keeping the baseline",
                    actor,
                    result,
                    state="rolled_back",
                )
        return self._move(
            now, "promote", f"horizon reached: {result.reason}", actor, result, state="promoted"
        )

    def _hold(self, result: JudgeResult, now: float, actor: str, why: str) -> Transition:
        return self._move(now, "hold", f"{result.verdict}, holding ({why}): {result.reason}", actor, result)

    def _inconclusive(self, result: JudgeResult, now: float, actor: str) -> Transition:
        limit = self.strategy.max_extensions
        if self.extensions < limit:
            return self._move(
                now,
                "extend",
                f"inconclusive, extending the window ({self.extensions + 1} of {limit}): {result.reason}",
                actor,
                result,
                extensions=self.extensions + 1,
            )
        why = f"still inconclusive after {limit} extension(s): {result.reason}"
        if self.strategy.on_inconclusive == "rollback":
            return self._move(now, "rollback", why, actor, result, state="rolled_back")
        return self._move(now, "pause", f"{why}; a human decides", actor, result, state="paused")

    def pause(
        self, now: float, *, reason: str = "paused by an operator", actor: str = "operator"
    ) -> Transition:
        """Hold the traffic where it is and stop judging until :meth:`resume`."""
        self._require("pause", "running")
        return self._move(now, "pause", reason, actor, state="paused")

    def resume(self, now: float, *, reason: str = "resumed", actor: str = "operator") -> Transition:
        """Judge again from a fresh window on the current step (the paused time is not judged)."""
        self._require("resume", "paused")
        return self._move(now, "resume", reason, actor, state="running", window_start=now, extensions=0)

    def abort(
        self, now: float, *, reason: str = "aborted by an operator", actor: str = "operator"
    ) -> Transition:
        """Stop for good and send all traffic back to the baseline."""
        self._require("abort", "pending", "running", "paused")
        return self._move(now, "abort", reason, actor, state="aborted")

    def promote(
        self, now: float, *, reason: str = "promoted by an operator", actor: str = "operator"
    ) -> Transition:
        """Promote by hand, skipping the remaining steps."""
        self._require("promote", "pending", "running", "paused")
        return self._move(now, "promote", reason, actor, state="promoted")

    def revert(
        self,
        now: float,
        *,
        reason: str,
        evidence: JudgeResult | None = None,
        actor: str = "controller",
    ) -> Transition:
        """Take a promotion back: the always-on rule found the promoted candidate worse than the
        baseline it replaced on a critical metric. All traffic returns to the baseline."""
        self._require("revert", "promoted")
        return self._move(now, "revert", reason, actor, evidence, state="rolled_back")

    def _describe(self) -> str:
        s = self.strategy
        if isinstance(s, CanaryStrategy):
            steps = ", ".join(f"{p:g}" for p in s.steps)
            return (
                f"canary of {self.candidate} over {self.baseline}: steps [{steps}]%, {s.interval_s:g}s each"
            )
        if isinstance(s, ABStrategy):
            return f"A/B of {self.candidate} over {self.baseline}: {s.percent:g}% on the candidate"
        return f"shadow of {self.candidate} beside {self.baseline}: {s.sample_rate:.0%} of requests mirrored"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict for the database and Redis; :meth:`from_dict` reads it back."""
        return {
            "schema": _SCHEMA,
            "rollout_id": self.rollout_id,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "strategy": self.strategy.to_dict(),
            "state": self.state,
            "step": self.step,
            "window_start": self.window_start,
            "extensions": self.extensions,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rollout:
        """Rebuild a rollout saved with :meth:`to_dict`; :class:`ConfigError` names what is wrong."""
        if data.get("schema") != _SCHEMA:
            raise ConfigError(
                f"rollout record has schema {data.get('schema')!r}, this runwell reads schema {_SCHEMA}; "
                "upgrade runwell or migrate the record"
            )
        try:
            return cls(
                rollout_id=data["rollout_id"],
                baseline=data["baseline"],
                candidate=data["candidate"],
                strategy=strategy_from_dict(data["strategy"]),
                state=data["state"],
                step=data["step"],
                window_start=data["window_start"],
                extensions=data["extensions"],
                started_at=data["started_at"],
                updated_at=data["updated_at"],
                version=data["version"],
            )
        except KeyError as exc:
            raise ConfigError(f"rollout record is missing {exc}; was it written by Rollout.to_dict?") from exc

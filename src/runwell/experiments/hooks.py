"""The experiment layer on the request path: which variant a request gets, and what follows it.

:meth:`ExperimentHooks.route` is asked when the client named no variant and no pin applies:

- a running or paused canary or A/B test assigns the user to an arm, sticky: the user's point in
  [0, 100) (a hash of the targeting key and the rollout id) below the candidate's share gets the
  candidate, and a share only ever grows, so a user keeps the variant throughout a step and, once
  on the candidate, on every later step (:func:`runwell.rollout.assign`); without a user id the
  request id is the key;
- a shadow run serves the baseline (the request's arm is ``baseline``; a sample is copied);
- after a rollout ended, the variant that won serves (:func:`~runwell.experiments.state.serving_variant`).

The arm and the rollout are noted on the request (``ctx.arm``, and ``ctx.flags`` so the audit
entry shows them). :meth:`ExperimentHooks.answered` runs once the answer is sent: it schedules the
shadow copy and offers the answer to the online scorer. Both only read memory and queue work.
"""

from __future__ import annotations

from collections.abc import Callable

from runwell.catalog import VariantRuntime
from runwell.experiments.cache import RolloutCache
from runwell.experiments.state import serving_variant
from runwell.gateway.context import RequestContext
from runwell.rollout.assign import assign
from runwell.rollout.policy import Rollout
from runwell.rollout.strategy import ShadowStrategy

__all__ = ["ExperimentHooks"]

_LIVE = ("running", "paused")


class ExperimentHooks:
    """The gateway's :class:`~runwell.gateway.extension.RequestHooks` for rollouts."""

    def __init__(
        self,
        cache: RolloutCache,
        *,
        shadow: Callable[[RequestContext, Rollout], None] | None = None,
        score: Callable[[RequestContext], None] | None = None,
    ) -> None:
        self._cache = cache
        self._shadow = shadow
        self._score = score

    def route(self, ctx: RequestContext) -> VariantRuntime | None:
        """The variant of a request that named none (see the module docstring)."""
        feature = ctx.feature
        if feature is None:
            return None
        state = self._cache.current.get(feature.name)
        if state is None or state.rollout is None:
            return None
        rollout = state.rollout
        if rollout.state in _LIVE:
            if isinstance(rollout.strategy, ShadowStrategy):
                arm = "baseline"
            else:
                arm = assign(ctx.user or ctx.request_id, rollout.rollout_id, rollout.candidate_percent)
            variant = feature.variants.get(rollout.candidate if arm == "candidate" else rollout.baseline)
            if variant is None:  # the spec deployed since no longer has it: serve the default
                return None
            ctx.arm = arm
            ctx.flags[f"{feature.name}.rollout"] = {
                "rollout_id": rollout.rollout_id,
                "arm": arm,
                "candidate_percent": rollout.candidate_percent,
            }
            return variant
        name = serving_variant(state, feature.default_variant)
        if name == feature.default_variant:
            return None
        chosen = feature.variants.get(name)
        if chosen is not None:
            ctx.flags[f"{feature.name}.rollout"] = {"rollout_id": rollout.rollout_id, "serving": name}
        return chosen

    def answered(self, ctx: RequestContext) -> None:
        """Schedule the shadow copy and the online scoring of a finished request (never blocks)."""
        feature = ctx.feature
        if feature is None or ctx.shadow_of is not None:
            return
        if self._shadow is not None and ctx.arm == "baseline":
            state = self._cache.current.get(feature.name)
            rollout = None if state is None else state.rollout
            if rollout is not None and rollout.mirror_rate > 0:
                self._shadow(ctx, rollout)
        if self._score is not None:
            self._score(ctx)

"""The experiment layer: shadow traffic, canary and A/B rollouts judged on live metrics, automated
rollback, online evaluation, user feedback and input drift.

- :mod:`.config`: a feature's ``rollout`` section compiled (metrics, judge settings, strategy).
- :mod:`.state`: each feature's live rollout state, audited compare-and-set transitions.
- :mod:`.actions`: start, promote, pause, resume, abort, a verdict, a revert (CLI, admin API, controller).
- :mod:`.cache`: each replica's copy of the states, polled.
- :mod:`.hooks`: routing a request to an arm; scheduling its shadow copy and online scoring.
- :mod:`.shadow`, :mod:`.online`, :mod:`.feedback`: the copies, the scores, the users' feedback.
- :mod:`.metrics`, :mod:`.windows`: the judged metrics, read from records, scores and feedback.
- :mod:`.controller`: the judge job and the always-on rule; :mod:`.drift_watch`: the drift job.
- :mod:`.explain`: the history of every decision; :mod:`.routes`: the HTTP routes.

The gateway mounts it through :func:`runwell.gateway.experiments_setup.build_experiments`.
"""

from __future__ import annotations

from runwell.experiments.actions import OperatorAction, act, evaluate, revert_serving, start
from runwell.experiments.cache import RolloutCache
from runwell.experiments.config import Experiment, compile_experiment, strategy_of
from runwell.experiments.explain import Look, ab_report, explain_text, history
from runwell.experiments.feedback import Feedback, parse_feedback, store_feedback
from runwell.experiments.metrics import METRICS, ArmWindow, metric_data
from runwell.experiments.state import FeatureState, Version, load_state, load_states, serving_variant

__all__ = [
    "METRICS",
    "ArmWindow",
    "Experiment",
    "FeatureState",
    "Feedback",
    "Look",
    "OperatorAction",
    "RolloutCache",
    "Version",
    "ab_report",
    "act",
    "compile_experiment",
    "evaluate",
    "explain_text",
    "history",
    "load_state",
    "load_states",
    "metric_data",
    "parse_feedback",
    "revert_serving",
    "serving_variant",
    "start",
    "store_feedback",
    "strategy_of",
]

"""runwell.console: the operator's web console, server-rendered, served at ``/console``.

One page for the Monday-morning operator: what each feature is doing (traffic, errors, latency,
cost, the serving variant and rollout step, breakers, kill switch, guardrail overrides, budgets,
alerts), each request's trace and its verified audit entry, eval comparisons with the gate's
verdict, rollouts with their evidence, incidents, on-call, drills, the review queue, readiness and
decay; and, for the admin, the levers. It reads through the same store and audit code as the CLI,
ships everything it shows (inline CSS and SVG; no asset is fetched), and is off unless configured.

Modules: ``settings`` (read once from the environment), ``sessions`` (signed cookies, CSRF),
``app`` (routing, sign-in, headers), ``view`` (what a page gets), ``queries`` / ``tables`` /
``team`` / ``decay`` (reads), ``actions`` (audited changes), ``page_*`` (one per page), ``html`` /
``svg`` / ``theme`` (markup, plots, palette).
"""

from runwell.console.app import ConsoleApp
from runwell.console.settings import ConsoleSettings, disabled_message
from runwell.console.view import ConsoleSources, RolloutControl

__all__ = ["ConsoleApp", "ConsoleSettings", "ConsoleSources", "RolloutControl", "disabled_message"]

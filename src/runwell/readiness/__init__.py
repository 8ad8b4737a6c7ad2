"""runwell.readiness: the checklists, the Monday morning test, the maturity level and the decay report.

- :mod:`~runwell.readiness.items`: the item model, the sections, the report.
- ``checks_*``: one module per section (pre-ship, production readiness, cost control, Monday).
- :mod:`~runwell.readiness.live`: evidence from a running gateway, the kill switch probe included.
- :mod:`~runwell.readiness.scoring`: the ML Test Score style score and maturity levels 0-2.
- :mod:`~runwell.readiness.render`: text, JSON, Markdown and JUnit.
- :mod:`~runwell.readiness.decay`: the three decay modes (ground truth slips, operators drift,
  guardrails relax), for ``runwell decay``, the console and the gateway's periodic job.
"""

from __future__ import annotations

from runwell.readiness.context import CheckContext, Thresholds
from runwell.readiness.items import SECTIONS, Item, Level, Report, Status
from runwell.readiness.placeholders import placeholder_in
from runwell.readiness.render import FORMATS, render
from runwell.readiness.runner import CHECKS, CheckOptions, run_check
from runwell.readiness.save import history, save_report

__all__ = [
    "CHECKS",
    "FORMATS",
    "SECTIONS",
    "CheckContext",
    "CheckOptions",
    "Item",
    "Level",
    "Report",
    "Status",
    "Thresholds",
    "history",
    "placeholder_in",
    "render",
    "run_check",
    "save_report",
]

"""Start-up wiring of the experiment layer: rollouts, shadow traffic, online evaluation, feedback, drift.

Builds the :class:`~runwell.gateway.extension.Extension` the gateway mounts. (Filled in by the
experiments work; until then it contributes nothing.)
"""

from __future__ import annotations

from runwell.gateway.extension import Extension, ExtensionContext

__all__ = ["build_experiments"]


def build_experiments(context: ExtensionContext) -> Extension:
    """The experiment layer of a gateway."""
    return Extension("experiments")

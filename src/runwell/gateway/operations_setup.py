"""Start-up wiring of the operations layer: alerts, paging, on-call, incidents, reviews, drills.

Builds the :class:`~runwell.gateway.extension.Extension` the gateway mounts. (Filled in by the
operations work; until then it contributes nothing.)
"""

from __future__ import annotations

from runwell.gateway.extension import Extension, ExtensionContext

__all__ = ["build_operations"]


def build_operations(context: ExtensionContext) -> Extension:
    """The operations layer of a gateway."""
    return Extension("operations")

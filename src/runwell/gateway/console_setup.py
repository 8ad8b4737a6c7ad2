"""Start-up wiring of the operator's console (``/console``).

Builds the :class:`~runwell.gateway.extension.Extension` the gateway mounts. (Filled in by the
console work; until then it contributes nothing.)
"""

from __future__ import annotations

from runwell.gateway.extension import Extension, ExtensionContext

__all__ = ["build_console"]


def build_console(context: ExtensionContext) -> Extension:
    """The console of a gateway."""
    return Extension("console")

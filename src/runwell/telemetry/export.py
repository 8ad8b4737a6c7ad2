"""Decide from the environment whether spans are exported, without importing OpenTelemetry.

OpenTelemetry is an optional extra (``runwell[otel]``). A gateway that is not asked to export
traces never imports it; one that is asked, on an install without the extra, stops at start-up
with one line naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runwell.telemetry.otel import OtelSink

__all__ = ["ENDPOINT_ENVS", "otel_requested", "otel_sink_from_env"]

ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""Setting either turns span export on (the standard OTLP variables)."""


def otel_requested(environ: Mapping[str, str]) -> bool:
    """True when an OTLP endpoint is set and ``OTEL_SDK_DISABLED`` is not ``true``."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_ENVS)


def otel_sink_from_env(
    environ: Mapping[str, str], *, capture_content: Callable[[str], bool], service_name: str = "runwell"
) -> OtelSink | None:
    """An OTLP span sink when the environment asks for one, else ``None``.

    Raises :class:`~runwell.errors.MissingExtra` when export is asked for and the ``otel`` extra
    is not installed.
    """
    if not otel_requested(environ):
        return None
    from runwell.telemetry.otel import OtelSink

    return OtelSink.from_env(service_name, capture_content, environ=environ)

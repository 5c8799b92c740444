"""What runs around every invocation of every function: tracing, the EMF flush, the Pushgateway.

``handler = instrument(handler, settings)`` in each ``functions/*/app.py``. Per invocation it costs
one call and two flag checks when nothing is enabled (tests, the local runtime without
``PUSHGATEWAY_URL``); on Lambda the EMF blob is written before the handler returns (powertools,
~50 µs) and a Pushgateway push is only signalled to its own thread (docs/observability.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from bakery_gateway.cold_start import resume_collection
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry import emf, pushgateway, tracing
from bakery_gateway.telemetry.observability import logger

Result = TypeVar("Result")


def instrument(
    handler: Callable[[dict[str, Any], Any], Result],
    settings: Settings,
    environ: Mapping[str, str] | None = None,
) -> Callable[[dict[str, Any], Any], Result]:
    environ = os.environ if environ is None else environ
    after_invocation = _after_invocation(settings, environ)
    inner = tracing.traced(handler, environ)
    resume_collection()  # the handler module's import is done (cold_start.py)

    def invoke(event: dict[str, Any], context: Any) -> Result:
        try:
            return inner(event, context)
        finally:
            after_invocation()

    return invoke


def _after_invocation(settings: Settings, environ: Mapping[str, str]) -> Callable[[], None]:
    """What runs after every invocation: the EMF blob when on Lambda, a Pushgateway push signal."""
    config = settings.observability
    emf.exporter.configure(config.metrics_namespace, enabled=emf.on_lambda(environ))
    pusher = pushgateway.configured_exporter(config, environ)
    exporter = emf.exporter

    def after_invocation() -> None:
        if exporter.enabled:
            try:
                exporter.flush()
            except Exception:  # metrics must never turn an answer into an error
                logger.exception("EMF flush failed")
        if pusher is not None:
            pusher.after_invocation()

    return after_invocation

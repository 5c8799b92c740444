"""X-Ray tracing through powertools Tracer, imported only when tracing is on.

The template sets ``POWERTOOLS_TRACE_DISABLED`` from its ``Tracing`` parameter (``Disabled``, the
default: "true"). Off Lambda (tests, the local runtime) tracing is always off. When off, neither
powertools' tracer module nor the X-Ray SDK is imported: they would add to every cold start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from bakery_gateway import constants as names
from bakery_gateway.telemetry.observability import SERVICE_NAME

Result = TypeVar("Result")
TRUE_WORDS = ("1", "true", "yes", "on")


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    disabled = environ.get(names.TRACE_DISABLED_VARIABLE, "true").strip().lower() in TRUE_WORDS
    return bool(environ.get(names.LAMBDA_FUNCTION_NAME_VARIABLE)) and not disabled


def traced(
    handler: Callable[[dict[str, Any], Any], Result], environ: Mapping[str, str] | None = None
) -> Callable[[dict[str, Any], Any], Result]:
    """``handler`` in an X-Ray subsegment per invocation when tracing is on; ``handler`` itself otherwise."""
    if not tracing_enabled(environ):
        return handler
    from aws_lambda_powertools import Tracer  # the X-Ray SDK: only now, and only on Lambda

    tracer = Tracer(service=SERVICE_NAME)
    wrapped: Callable[[dict[str, Any], Any], Result] = tracer.capture_lambda_handler(handler)
    return wrapped

"""Helpers for the observability tests: a tiny app behind the request middleware, and the log lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakery_gateway.edge.middleware import RequestContextMiddleware
from bakery_gateway.telemetry.observability import logger, registry
from bakery_gateway.telemetry.pseudonymize import UserIdForLog, plain
from bakery_gateway.telemetry.request_record import RequestRecorder

ROUTE_TEMPLATE = "/api/v1/sales/{proxy+}"
RESPONSE_BODY = b"r" * 123
DOWNSTREAM_MS = 12.5


class BoomError(RuntimeError):
    """What the failing route raises."""


async def proxied(request: Request) -> Response:
    """Plays the proxy: the state the proxy sets, then an answer of a known size."""
    await request.body()
    state = request.state
    state.route_template, state.service, state.downstream_ms = ROUTE_TEMPLATE, "sales", DOWNSTREAM_MS
    state.user_id, state.tenant_id = "user-42", "tenant-7"
    return Response(RESPONSE_BODY, status_code=201)


async def failing(request: Request) -> Response:
    request.state.route_template = "/api/v1/boom"
    raise BoomError("secret internals")


def middleware_app(user_id_for_log: UserIdForLog = plain) -> Starlette:
    app = Starlette(
        routes=[
            Route("/api/v1/sales/{path:path}", proxied, methods=["GET", "POST"]),
            Route("/api/v1/boom", failing),
        ]
    )
    app.add_middleware(RequestContextMiddleware, recorder=RequestRecorder(user_id_for_log=user_id_for_log))
    return app


def sample(name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """The gateway logger's records while inside, as the JSON documents Lambda would receive."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)  # the stdlib logger under powertools' one
    records: list[dict[str, Any]] = []
    target.addHandler(handler)
    try:
        yield records
    finally:
        target.removeHandler(handler)
        records.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.strip())


@contextmanager
def captured_log_text() -> Iterator[io.StringIO]:
    """The gateway logger's raw output while inside."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)  # the stdlib logger under powertools' one
    target.addHandler(handler)
    try:
        yield stream
    finally:
        target.removeHandler(handler)

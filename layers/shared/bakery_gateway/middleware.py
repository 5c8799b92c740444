"""The request-context ASGI middleware: request id, one log record and the metrics of each request.

A plain ASGI class (no BaseHTTPMiddleware): it costs a few microseconds, and it is the last line
that turns any unexpected exception into a 500 problem without a stack trace (the trace goes to the
log only). The log record and the metrics are described in docs/observability.md.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.telemetry import TelemetryConfig
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bakery_gateway import emf, events
from bakery_gateway.constants import REQUEST_ID_HEADER
from bakery_gateway.errors import GatewayError
from bakery_gateway.observability import (
    DOWNSTREAM_DURATION,
    REQUEST_DURATION,
    REQUEST_SIZE,
    REQUESTS,
    RESPONSE_SIZE,
    logger,
)
from bakery_gateway.problems import problem_headers, problem_json
from bakery_gateway.pseudonymize import UserIdForLog, plain

UNMATCHED_ROUTE = "unmatched"
# For every function's FastAPI app. Tracing is powertools' (X-Ray): FastAPI's own OpenTelemetry probe
# would cost every request a check for providers that are never configured.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class InternalError(GatewayError):
    """An error nobody expected: the client learns only the request id to quote."""

    def __init__(self) -> None:
        super().__init__("the gateway failed to handle this request; quote the request id")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, user_id_for_log: UserIdForLog = plain) -> None:
        self.app = app
        self.user_id_for_log = user_id_for_log
        # The first request of this app in this process is the container's cold start.
        self.cold = True
        # Metric children by label values: labels() costs ~1.5 µs a call, a dict lookup ~0.05.
        self._route_children: dict[tuple[str, str], tuple[Histogram, Histogram, Histogram]] = {}
        self._request_counters: dict[tuple[str, str, int], Any] = {}
        self._downstream_children: dict[str, Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client_request_id = None
        declared_size = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                client_request_id = value.decode("latin-1")
            elif name == b"content-length":
                declared_size = value
        request_id = events.request_id(client_request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False
        response_size = 0
        error: BaseException | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started, response_size
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(n, v) for n, v in message.get("headers", []) if n != b"x-request-id"]
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                response_size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as exc:
            error = exc
            # The stack trace goes to the log, never to the client.
            logger.exception("unhandled error", extra={"correlation_id": request_id})
            if not response_started:
                await _send_internal_error(send, request_id)
            status = 500
        finally:
            request_size = int(declared_size) if declared_size is not None and declared_size.isdigit() else 0
            self._record(
                scope, state, status, time.perf_counter() - started, request_size, response_size, error
            )

    def _record(
        self,
        scope: Scope,
        state: dict[str, Any],
        status: int,
        duration: float,
        request_size: int,
        response_size: int,
        error: BaseException | None,
    ) -> None:
        route = state.get("route_template") or _route_path(scope) or UNMATCHED_ROUTE
        method = scope["method"]
        children = self._route_children.get((method, route))
        if children is None:
            children = (
                REQUEST_DURATION.labels(method, route),
                REQUEST_SIZE.labels(method, route),
                RESPONSE_SIZE.labels(method, route),
            )
            self._route_children[(method, route)] = children
        counter = self._request_counters.get((method, route, status))
        if counter is None:
            counter = self._request_counters[(method, route, status)] = REQUESTS.labels(
                method, route, str(status)
            )
        counter.inc()
        children[0].observe(duration)
        children[1].observe(request_size)
        children[2].observe(response_size)
        service = state.get("service")
        downstream_ms = state.get("downstream_ms")
        if service is not None and downstream_ms is not None:
            downstream = self._downstream_children.get(service)
            if downstream is None:
                downstream = self._downstream_children[service] = DOWNSTREAM_DURATION.labels(service)
            downstream.observe(downstream_ms / 1000)
        exporter = emf.exporter
        if exporter.enabled:
            exporter.request(method, route, status, state["request_id"])
            exporter.observe("gateway_request_duration_seconds", duration)
            exporter.observe("gateway_request_size_bytes", request_size)
            exporter.observe("gateway_response_size_bytes", response_size)
            if service is not None and downstream_ms is not None:
                exporter.observe("gateway_downstream_duration_seconds", downstream_ms / 1000)
        cold, self.cold = self.cold, False
        user_id = state.get("user_id")
        record = {
            "correlation_id": state["request_id"],
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "downstream_ms": downstream_ms,
            "service": service,
            "user_id": None if user_id is None else self.user_id_for_log(user_id),
            "tenant_id": state.get("tenant_id"),
            "request_bytes": request_size,
            "response_bytes": response_size,
            "cold_start": cold,
        }
        if error is not None:  # only then: every key costs the JSON formatter a few microseconds
            record["error"] = type(error).__name__
        logger.info("request", extra=record)


def _route_path(scope: Scope) -> str | None:
    route = scope.get("route")
    return getattr(route, "path", None)


async def _send_internal_error(send: Send, request_id: str) -> None:
    error = InternalError()
    headers = [(name.encode(), value.encode()) for name, value in problem_headers(error, request_id).items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": problem_json(error, request_id)})

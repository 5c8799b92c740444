"""The request-context ASGI middleware: request id, one log record and the metrics of each request.

A plain ASGI class (no BaseHTTPMiddleware): it costs a few microseconds, and it is the last line
that turns any unexpected exception into a 500 problem without a stack trace.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bakery_gateway import events
from bakery_gateway.constants import REQUEST_ID_HEADER
from bakery_gateway.errors import GatewayError
from bakery_gateway.observability import REQUEST_DURATION, REQUESTS, logger
from bakery_gateway.problems import problem_headers, problem_json

UNMATCHED_ROUTE = "unmatched"
# For every function's FastAPI app. Tracing is powertools' (X-Ray): FastAPI's own OpenTelemetry probe
# would cost every request a check for providers that are never configured.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class InternalError(GatewayError):
    """An error nobody expected: the client learns only the request id to quote."""

    def __init__(self) -> None:
        super().__init__("the gateway failed to handle this request; quote the request id")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client_request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                client_request_id = value.decode("latin-1")
                break
        request_id = events.request_id(client_request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(n, v) for n, v in message.get("headers", []) if n != b"x-request-id"]
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            logger.exception("unhandled error", extra={"correlation_id": request_id})
            if not response_started:
                await _send_internal_error(send, request_id)
            status = 500
        finally:
            self._record(scope, state, status, time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, state: dict[str, Any], status: int, duration: float) -> None:
        route = state.get("route_template") or _route_path(scope) or UNMATCHED_ROUTE
        method = scope["method"]
        REQUESTS.labels(method, route, str(status)).inc()
        REQUEST_DURATION.labels(method, route).observe(duration)
        logger.info(
            "request",
            extra={
                "correlation_id": state["request_id"],
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "downstream_ms": state.get("downstream_ms"),
                "service": state.get("service"),
                "user_id": state.get("user_id"),
                "tenant_id": state.get("tenant_id"),
            },
        )


def _route_path(scope: Scope) -> str | None:
    route = scope.get("route")
    return getattr(route, "path", None)


async def _send_internal_error(send: Send, request_id: str) -> None:
    error = InternalError()
    headers = [(name.encode(), value.encode()) for name, value in problem_headers(error, request_id).items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": problem_json(error, request_id)})

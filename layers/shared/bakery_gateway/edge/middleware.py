"""The request-context ASGI middleware: request id, one log record and the metrics of each request.

A plain ASGI class (no BaseHTTPMiddleware): it costs a few microseconds, and it is the last line
that turns any unexpected exception into a 500 problem without a stack trace (the trace goes to the
log only). The record itself is ``request_record.RequestRecorder``'s (docs/observability.md).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bakery_gateway.api.problems import problem_headers, problem_json
from bakery_gateway.api.request import request_id_for
from bakery_gateway.constants import REQUEST_ID_HEADER
from bakery_gateway.errors import GatewayError, InternalError
from bakery_gateway.telemetry.observability import logger
from bakery_gateway.telemetry.request_record import RequestRecorder, declared_size

# For every function's FastAPI app. Tracing is powertools' (X-Ray): FastAPI's own OpenTelemetry probe
# would cost every request a check for providers that are never configured.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, recorder: RequestRecorder | None = None) -> None:
        self.app = app
        self.recorder = recorder or RequestRecorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client_request_id = None
        declared = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                client_request_id = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
        request_id = request_id_for(client_request_id)
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
                await send_problem(send, InternalError(), request_id)
            status = 500
        finally:
            self.recorder.record(
                method=scope["method"],
                route=state.get("route_template") or _route_path(scope),
                status=status,
                duration=time.perf_counter() - started,
                request_size=declared_size(declared),
                response_size=response_size,
                state=state,
                error=error,
            )


def _route_path(scope: Scope) -> str | None:
    route = scope.get("route")
    return getattr(route, "path", None)


async def send_problem(send: Send, error: GatewayError, request_id: str) -> None:
    """Answer ``error`` as its problem, from ASGI code that runs outside the app's exception handlers."""
    headers = [(name.encode(), value.encode()) for name, value in problem_headers(error, request_id).items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": problem_json(error, request_id)})

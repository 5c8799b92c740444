"""The proxy function's requests: every /api/v1 service path straight through ``ProxyPipeline``.

No ASGI scope, no routing table, no framework on the path most requests take (docs/architecture.md,
the proxied path): only the gateway's own routes (``api.routes.GATEWAY_API_ROUTES``, and the paths
outside /api/v1) go to the FastAPI app through ``lambda_http.AsgiAppHandler``. Both ways answer a
failure as an RFC 9457 problem with the request id, and record each request once, with the same
recorder.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from bakery_gateway.api.platform_limits import answer_deadline
from bakery_gateway.api.request import Request, request_id_for
from bakery_gateway.api.routes import API_PREFIX
from bakery_gateway.constants import REQUEST_ID_HEADER
from bakery_gateway.edge.lambda_event import Event, request_from_event
from bakery_gateway.edge.lambda_http import (
    Answer,
    AsgiAppHandler,
    Response,
    fits_in_lambda_response,
    lambda_response,
    problem_response,
    response_too_large,
    unreadable_event,
)
from bakery_gateway.errors import GatewayError, InternalError
from bakery_gateway.forwarding.pipeline import ProxyPipeline, ProxyRequest
from bakery_gateway.telemetry.observability import logger
from bakery_gateway.telemetry.request_record import RequestRecorder, declared_size


class ProxyHandler:
    """The proxy function's requests: its own routes through ``own_routes``, every other /api/v1
    path straight through ``pipeline``."""

    def __init__(
        self,
        pipeline: ProxyPipeline,
        recorder: RequestRecorder,
        own_routes: AsgiAppHandler,
        own_paths: Mapping[str, Collection[str]],
    ) -> None:
        self._pipeline = pipeline
        self._recorder = recorder
        self._own_routes = own_routes
        self._own_paths = own_paths

    def is_proxied(self, request: Request) -> bool:
        """Whether ``request`` goes to a service rather than to one of our own routes."""
        if not request.raw_path.startswith(API_PREFIX):
            return False
        methods = self._own_paths.get(request.raw_path)
        return methods is None or request.method not in methods

    async def __call__(self, event: Event, context: Any) -> Response:
        """A Lambda invocation: the event read into its request (``lambda_event``), then served."""
        try:
            request = request_from_event(event)
        except Exception:
            return unreadable_event()
        return await self.serve(request, context)

    async def serve(self, request: Request, context: Any = None) -> Response:
        """``request`` to our own routes or through the pipeline; ``context`` (Lambda's) says how
        long the answer may take."""
        if not self.is_proxied(request):
            return await self._own_routes.serve(request)
        return await self.proxied(request, context)

    async def answer(self, request: Request, context: Any = None) -> Answer:
        """``serve``'s answer as HTTP, for a host that is an HTTP server (``bakery-gateway serve``):
        no Lambda response is made of a proxied answer, and none read back."""
        if not self.is_proxied(request):
            return await self._own_routes.answer(request)
        return await self._proxied_answer(request, context)

    async def proxied(self, request: Request, context: Any = None) -> Response:
        """``request`` through the pipeline."""
        return lambda_response(*await self._proxied_answer(request, context))

    async def _proxied_answer(self, request: Request, context: Any) -> Answer:
        started = time.perf_counter()
        request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        state: dict[str, Any] = {"request_id": request_id}
        error: Exception | None = None
        try:
            proxied = ProxyRequest(request, state, answer_by=answer_deadline(context, time.monotonic()))
            answer = await self._pipeline.respond(proxied)
            status, response_headers, body = answer.status, answer.headers, answer.body
        except GatewayError as refusal:
            status, response_headers, body = problem_response(refusal, request_id)
        except Exception as unexpected:
            error = unexpected
            # The stack trace goes to the log, never to the client.
            logger.exception("unhandled error", extra={"correlation_id": request_id})
            status, response_headers, body = problem_response(InternalError(), request_id)
        if not fits_in_lambda_response(status, response_headers, body):
            status, response_headers, body = problem_response(
                response_too_large(state.get("service")), request_id
            )
        self._recorder.record(
            method=request.method,
            route=state.get("route_template"),
            status=status,
            duration=time.perf_counter() - started,
            request_size=declared_size(request.headers.get("content-length")),
            response_size=len(body),
            state=state,
            error=error,
        )
        return status, response_headers, body

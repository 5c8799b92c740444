"""Installs the RFC 9457 problem handlers on a FastAPI app: every error becomes a problem there.

Shared by every function's app, so that a GatewayError, a routing miss or a malformed request gets
the same answer whichever function served it.
"""

from __future__ import annotations

from typing import cast

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from bakery_gateway.api.problems import problem_headers, problem_json
from bakery_gateway.errors import BadRequestError, GatewayError, MethodNotAllowedError, RouteNotFoundError


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error the gateway produces as an RFC 9457 problem."""

    def problem(request: Request, error: GatewayError) -> Response:
        request_id = request.state.request_id
        return Response(
            content=problem_json(error, request_id),
            status_code=error.status,
            headers=problem_headers(error, request_id),
        )

    # Starlette calls each handler only with the exception class it was registered for.
    async def on_gateway_error(request: Request, error: Exception) -> Response:
        return problem(request, cast(GatewayError, error))

    async def on_http_exception(request: Request, error: Exception) -> Response:
        error = cast(HTTPException, error)
        if error.status_code == 405:
            return problem(request, MethodNotAllowedError(f"{request.method} is not allowed here"))
        if error.status_code == 404:
            return problem(request, RouteNotFoundError(f"no route for {request.url.path}"))
        return problem(request, BadRequestError(str(error.detail)))

    async def on_validation_error(request: Request, error: Exception) -> Response:
        return problem(request, BadRequestError("the request is malformed"))

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)

"""The local HTTP API: an ASGI application that behaves like API Gateway in front of the handlers.

It selects the route from ``template.yaml``, answers CORS preflights itself, runs the Lambda
authorizer with API Gateway's caching rules (missing identity source: 401 without invoking;
``isAuthorized: false``: 403; a failing authorizer: 500), builds the payload 2.0 event, invokes the
function in-process and turns its result into the HTTP response. The alert stream is the one
response it keeps open, invoking the proxy in a loop (``alert_stream``). Route selection, the
verdict cache, CORS, API Gateway's own answers and the alert stream are the library's
(``bakery_gateway.serve``, ``api.cors``), which ``bakery-gateway serve`` runs without events.

Limits (``bakery_gateway.api.platform_limits``, docs/limits.md): a body over 10 MB is a 413; 30 s without
the function's answer is a 503, a function past its own timeout a 500; and what the cloud refuses
that a long-lived server (``serve``) need not: a request line and headers over 10,240 bytes (431),
an event or a result over Lambda's 6 MB (500).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

from bakery_gateway.api import cors as api_cors
from bakery_gateway.api import platform_limits
from bakery_gateway.errors import ClientDisconnectedError
from bakery_gateway.serve import alert_stream
from bakery_gateway.serve.answers import json_answer, metrics_answer, send_whole
from bakery_gateway.serve.answers import message as _message
from bakery_gateway.serve.asgi_body import read_body_within
from bakery_gateway.serve.routing import RouteMatch, RouteTable
from bakery_gateway.serve.verdict_cache import VerdictCache
from bakery_gateway.settings import Settings
from bakery_local import api_events
from bakery_local.iam import iam_refusal
from bakery_local.invoker import FunctionInvoker, FunctionTimeoutError
from bakery_local.template import HttpApiSpec, RouteSpec
from bakery_local.websocket_connections import is_management_path
from bakery_local.websocket_gateway import LocalWebSocketApi

log = logging.getLogger("bakery_local")

# The runtime's own status, outside the API's route space (no template route starts with /_local).
STATUS_PATH = "/_local/status"
# The Prometheus exposition of the process's registry (every function runs in this process).
METRICS_PATH = "/metrics"
Headers = list[tuple[bytes, bytes]]
HEADERS_LIMIT = platform_limits.HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES
EVENT_LIMIT = platform_limits.LAMBDA_REQUEST_PAYLOAD_BYTES
RESULT_LIMIT = platform_limits.LAMBDA_RESPONSE_PAYLOAD_BYTES


class LocalHttpApi:
    def __init__(
        self,
        api: HttpApiSpec,
        invoker: FunctionInvoker,
        *,
        cache: VerdictCache[dict[str, Any]] | None = None,
        sse_heartbeat_seconds: float | None = None,
        websocket: LocalWebSocketApi | None = None,
        integration_timeout_seconds: float = platform_limits.HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self.api = api
        self.websocket = websocket
        self.integration_timeout_seconds = integration_timeout_seconds
        settings = Settings.from_environ()
        self.streaming = alert_stream.AlertStreaming.from_settings(
            settings, heartbeat_seconds=sse_heartbeat_seconds
        )
        self.invoker = invoker
        self.cache: VerdictCache[dict[str, Any]] = cache or VerdictCache()
        self.routes: RouteTable[RouteSpec] = RouteTable(api.routes)
        self.authorizer_invocations = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.invoker)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == STATUS_PATH:
            await send_whole(send, json_answer(200, self.status()))
        elif scope["path"] == METRICS_PATH:
            await send_whole(send, metrics_answer())
        elif is_management_path(_raw_path(scope)):
            await self._manage_connection(scope, receive, send)
        else:
            await self.respond(scope, receive, send)

    def status(self) -> dict[str, Any]:
        """Invocation counts: how tests see that API Gateway's authorizer cache did its work."""
        status: dict[str, Any] = {
            "authorizer_invocations": self.authorizer_invocations,
            "function_invocations": dict(self.invoker.invocations),
            "followed_alert_streams": len(self.streaming.feeds),
        }
        if self.websocket is not None:
            status["websocket_connections"] = len(self.websocket.registry)
            status["websocket_authorizer_invocations"] = self.websocket.authorizer_invocations
        return status

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The WebSocket API (``bakery_local.websocket_gateway``); none in the template: refused."""
        if self.websocket is not None:
            await self.websocket(scope, receive, send)
            return
        await receive()
        await send({"type": "websocket.close", "code": 1008})

    async def _manage_connection(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``@connections``: the WebSocket API's management API (``bakery_local.websocket_connections``)."""
        try:
            body = await read_body_within(receive, platform_limits.HTTP_API_PAYLOAD_BYTES) or b""
        except ClientDisconnectedError:
            return
        if self.websocket is None:
            await send_whole(send, _message(404, "Not Found"))
            return
        source_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        answer = await self.websocket.registry.manage(scope["method"], _raw_path(scope), body, source_ip)
        await send_whole(send, answer)

    async def respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _request_line_and_headers_bytes(scope) > HEADERS_LIMIT:
            await send_whole(send, _message(431, "Request Header Fields Too Large"))
            return
        request_headers = [
            (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]
        ]
        last_values = dict(request_headers)
        origin = last_values.get("origin")
        try:
            body = await read_body_within(receive, platform_limits.HTTP_API_PAYLOAD_BYTES)
        except ClientDisconnectedError:
            return  # nobody to answer; a part of a body is never invoked with
        if body is None:
            await send_whole(send, _message(413, "Request Entity Too Large"))
            return
        request = api_events.IncomingRequest(
            method=scope["method"],
            raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1") or "/",
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            headers=request_headers,
            body=body,
            source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            scheme=scope.get("scheme", "http"),
        )
        cors = self.api.cors
        if cors and origin and api_cors.is_preflight(request.method, last_values):
            await send_whole(send, (204, api_cors.preflight_headers(cors, origin, last_values), b""))
            return
        cors_headers = api_cors.response_headers(cors, origin) if cors and origin else []
        match = self.routes.match(request.method, request.raw_path)
        if match is not None and alert_stream.is_alert_stream(
            request.method, match.route.route_key, request.raw_path, self.api.stage
        ):
            stopping = scope.get("state", {}).get(alert_stream.STOPPING_STATE)
            await self._stream_alerts(request, receive, send, cors_headers, stopping)
            return
        status, headers, response_body = await self._invoke_route(request, match)
        if cors:  # as API Gateway: with CORS configured, the integration's own CORS headers are ignored
            headers = api_cors.without_cors_headers(headers)
        await send_whole(send, (status, headers + cors_headers, response_body))

    async def _stream_alerts(
        self,
        request: api_events.IncomingRequest,
        receive: Receive,
        send: Send,
        cors_headers: Headers,
        stopping: asyncio.Future[None] | None,
    ) -> None:
        """The alert stream, continuously: the proxy invoked in a loop (``alert_stream``), until the
        server stops (``stopping``: absent under a server that does not say so)."""

        async def invoke(last_id: str | None) -> tuple[int, Headers, bytes]:
            headers = alert_stream.with_last_event_id(list(request.headers), last_id)
            return await self._route(
                dataclasses.replace(request, headers=headers), alert_stream.STREAM_STAGE_VARIABLES
            )

        await alert_stream.stream(
            invoke,
            receive,
            send,
            self.streaming,
            extra_headers=cors_headers,
            stopping=stopping,
        )

    async def _route(
        self, request: api_events.IncomingRequest, stage_variables: Mapping[str, str] | None = None
    ) -> tuple[int, Headers, bytes]:
        return await self._invoke_route(
            request, self.routes.match(request.method, request.raw_path), stage_variables
        )

    async def _invoke_route(
        self,
        request: api_events.IncomingRequest,
        match: RouteMatch[RouteSpec] | None,
        stage_variables: Mapping[str, str] | None = None,
    ) -> tuple[int, Headers, bytes]:
        """``request`` to its route's function (``match``: its route, selected once per request)."""
        if match is None:
            return _message(404, "Not Found")
        if refusal := iam_refusal(match.route, request.source_ip):
            return refusal
        authorizer_context = None
        if match.route.authorizer is not None:
            verdict = await self._authorize(request, match)
            if isinstance(verdict, tuple):
                return verdict
            authorizer_context = verdict
        event = api_events.http_event(
            request,
            route_key=match.route.route_key,
            stage=self.api.stage,
            path_parameters=match.path_parameters,
            authorizer_context=authorizer_context,
            stage_variables=stage_variables,
        )
        function = match.route.function
        if not platform_limits.fits_in_invocation(event, EVENT_LIMIT):
            log.warning("%s not invoked: its event is over Lambda's %d bytes", function, EVENT_LIMIT)
            return _message(500, "Internal Server Error")
        integration = asyncio.timeout(self.integration_timeout_seconds)
        try:
            async with integration:
                result = await self.invoker.invoke(function, event)
        except FunctionTimeoutError:
            # Lambda ends the invocation with an error ("Task timed out"): API Gateway's 500.
            log.warning("function %s timed out", function)
            return _message(500, "Internal Server Error")
        except Exception:
            if integration.expired():
                log.warning("function %s: no answer within the integration timeout", function)
                return _message(503, "Service Unavailable")
            log.exception("function %s failed", function)
            return _message(500, "Internal Server Error")
        if not platform_limits.fits_in_invocation(result, RESULT_LIMIT):
            log.warning("%s answered over Lambda's %d bytes: the invocation fails", function, RESULT_LIMIT)
            return _message(500, "Internal Server Error")
        return _http_response(result)

    async def _authorize(
        self, request: api_events.IncomingRequest, match: RouteMatch[RouteSpec]
    ) -> dict[str, Any] | tuple[int, Headers, bytes]:
        """The authorizer's context, or the response API Gateway gives instead of calling the route."""
        authorizer = self.api.authorizers[match.route.authorizer or ""]
        identity = api_events.identity_source(request, authorizer)
        if not all(identity):
            return _message(401, "Unauthorized")

        async def ask() -> tuple[bool, dict[str, Any]]:
            event = api_events.authorizer_event(
                request,
                route_key=match.route.route_key,
                stage=self.api.stage,
                identity_source=list(identity),
                path_parameters=match.path_parameters,
            )
            self.authorizer_invocations += 1
            return api_events.authorizer_verdict(await self.invoker.invoke(authorizer.function, event))

        try:
            authorized, context = await self.cache.judged(
                authorizer.name, identity, authorizer.ttl_seconds, ask
            )
        except Exception:
            log.exception("authorizer %s failed", authorizer.name)
            return _message(500, "Internal Server Error")
        if not authorized:
            return _message(403, "Forbidden")
        return context


def _request_line_and_headers_bytes(scope: Scope) -> int:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    target = raw_path + (b"?" + query if query else b"")
    return platform_limits.request_line_and_headers_bytes(
        scope["method"], target, scope.get("http_version", "1.1"), scope["headers"]
    )


def _raw_path(scope: Scope) -> str:
    """The path as sent, percent-encoding kept: a connection id may hold an encoded ``/``."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    return raw.decode("latin-1")


def _http_response(result: Any) -> tuple[int, Headers, bytes]:
    """A payload 2.0 function result as HTTP, including HTTP API's shorthand for plain results."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        return json_answer(200, result)
    raw_body = result.get("body") or ""
    body = base64.b64decode(raw_body) if result.get("isBase64Encoded") else str(raw_body).encode()
    headers: Headers = [
        (str(name).lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in (result.get("headers") or {}).items()
        if str(name).lower() not in ("content-length", "transfer-encoding", "connection")
    ]
    headers += [(b"set-cookie", str(cookie).encode("latin-1")) for cookie in result.get("cookies") or []]
    headers.append((b"content-length", str(len(body)).encode()))
    return int(result["statusCode"]), headers, body


async def _lifespan(receive: Receive, send: Send, invoker: FunctionInvoker) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            invoker.close()
            await send({"type": "lifespan.shutdown.complete"})
            return

"""``bakery-gateway serve``'s application: the HTTP API's behaviour and its functions, run directly.

Per request it does what API Gateway and Lambda do on AWS, without imitating either: the route from
the route table (``api.routes``; 404 for an unknown path, as API Gateway answers), CORS as the HTTP
API's configuration says (``api.cors``), IAM routes from this machine only, the Lambda authorizer's
judgement behind a verdict cache of API Gateway's semantics (``verdict_cache``: keyed by the identity
sources, for the authorizer's TTL; a missing identity source is a 401 without asking it, a denial a
403, a failing authorizer a 500), then the route's function called with the request read from the
ASGI scope (``edge.asgi.request_from_scope``): no payload 2.0 event is built, and no Lambda result
read back. The platform's limits stay: a body over 10 MB is a 413, 30 s without an answer a 503
(the integration timeout), a function past its own timeout a 500. The alert stream stays open
(``alert_stream``); ``/metrics`` is this process's registry; ``/_local`` is not served.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from starlette.types import Receive, Scope, Send

from bakery_gateway.api import cors as api_cors
from bakery_gateway.api import platform_limits
from bakery_gateway.api.identity import Verdict
from bakery_gateway.api.request import Request
from bakery_gateway.api.routes import (
    AUTHORIZER_FUNCTION,
    FUNCTION_TIMEOUT_SECONDS,
    HTTP_ROUTES,
    Authorizer,
    HttpRoute,
)
from bakery_gateway.edge.asgi import request_from_scope
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.errors import ClientDisconnectedError
from bakery_gateway.realtime.alerts.sse import LAST_EVENT_ID_HEADER
from bakery_gateway.serve import alert_stream
from bakery_gateway.serve.answers import (
    FORBIDDEN,
    INTERNAL_SERVER_ERROR,
    NOT_FOUND,
    SERVICE_UNAVAILABLE,
    TOO_LARGE,
    UNAUTHORIZED,
    Answer,
    Headers,
    http_answer,
    is_loopback,
    metrics_answer,
    send_whole,
)
from bakery_gateway.serve.asgi_body import read_body_within
from bakery_gateway.serve.routing import RouteMatch, RouteTable
from bakery_gateway.serve.verdict_cache import VerdictCache
from bakery_gateway.settings.server import DEFAULT_THREADS

log = logging.getLogger("bakery_gateway.serve")

# The local runtime's own routes (status, development helpers): absent from a production server.
DEVELOPMENT_PREFIX: Final = "/_local"
METRICS_PATH: Final = "/metrics"
# No named stage: paths are served as the $default stage serves them.
STAGE: Final = "$default"

# What a function answers: status, headers (str), body.
FunctionAnswer = tuple[int, list[tuple[str, str]], bytes]
# The authorizer's judgement of a request: (isAuthorized, the verdict it passes on). Synchronous: it
# runs on a thread of the app's pool, as its Redis client blocks.
AuthorizerCall = Callable[[Request], tuple[bool, Verdict]]


@dataclass(frozen=True)
class ServedFunction:
    """A function behind the HTTP API's routes: its work on a request, given a context that says the
    time left (as Lambda's does), and the timeout it runs within."""

    answer: Callable[[Request, Any], Awaitable[FunctionAnswer]]
    timeout_seconds: float


class ServeApp:
    """One worker's ASGI application (``create_app`` in ``server``)."""

    def __init__(
        self,
        functions: Mapping[str, ServedFunction],
        authorize: AuthorizerCall,
        *,
        routes: tuple[HttpRoute, ...] = HTTP_ROUTES,
        cors: api_cors.CorsPolicy | None = None,
        streaming: alert_stream.AlertStreaming | None = None,
        threads: int = DEFAULT_THREADS,
        after_each: Callable[[], None] | None = None,
        authorizer_timeout_seconds: float = FUNCTION_TIMEOUT_SECONDS[AUTHORIZER_FUNCTION],
        integration_timeout_seconds: float = platform_limits.HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self.functions = dict(functions)
        self.routes: RouteTable[HttpRoute] = RouteTable(routes)
        self.cors = cors
        self.streaming = streaming
        self.cache: VerdictCache[Verdict] = VerdictCache()
        self.invocations: Counter[str] = Counter()  # per function: what tests read
        self.integration_timeout_seconds = integration_timeout_seconds
        self.authorizer_timeout_seconds = authorizer_timeout_seconds
        self._authorize_call = authorize
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="authorizer")
        self._after_each = after_each

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":  # the WebSocket API is API Gateway's, not served here
            await receive()
            await send({"type": "websocket.close", "code": 1008})
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith(DEVELOPMENT_PREFIX):
            await send_whole(send, NOT_FOUND)
            return
        if path == METRICS_PATH:
            await send_whole(send, metrics_answer())
            return
        try:
            body = await read_body_within(receive, platform_limits.HTTP_API_PAYLOAD_BYTES)
        except ClientDisconnectedError:
            return  # nobody to answer; a part of a body is never served
        if body is None:
            await send_whole(send, TOO_LARGE)
            return
        raw: bytes | None = scope.get("raw_path")
        match = self.routes.match(scope["method"], raw.decode("latin-1") if raw else path)
        request = request_from_scope(scope, body, route_key=match.route.route_key if match else "")
        origin = request.headers.get("origin")
        cors_headers: Headers = []
        if self.cors is not None and origin:
            if api_cors.is_preflight(request.method, request.headers):
                headers = api_cors.preflight_headers(self.cors, origin, request.headers)
                await send_whole(send, (204, headers, b""))
                return
            cors_headers = api_cors.response_headers(self.cors, origin)
        if (
            match is not None
            and self.streaming is not None
            and alert_stream.is_alert_stream(request.method, request.route_key, request.raw_path, STAGE)
        ):
            stopping = scope.get("state", {}).get(alert_stream.STOPPING_STATE)
            await self._stream_alerts(self.streaming, request, match, receive, send, cors_headers, stopping)
            return
        status, headers, response_body = await self.answer(request, match)
        if self.cors is not None:  # as API Gateway: the function's own CORS headers give way
            headers = api_cors.without_cors_headers(headers)
        await send_whole(send, (status, headers + cors_headers, response_body))

    async def answer(self, request: Request, match: RouteMatch[HttpRoute] | None) -> Answer:
        """``request`` through its route (``match``): guarded, then answered by the route's function."""
        if match is None:
            return NOT_FOUND
        route = match.route
        guard = route.authorizer
        if guard is not None and guard.is_iam:
            if not is_loopback(request.source_ip):  # no IAM to ask for SigV4: this machine only
                return FORBIDDEN
        elif guard is not None:
            verdict = await self._authorize(request, guard)
            if isinstance(verdict, tuple):
                return verdict
            request = dataclasses.replace(request, verdict=verdict)
        return await self._call(route.function, request)

    async def _authorize(self, request: Request, guard: Authorizer) -> Verdict | Answer:
        """The authorizer's verdict, or the answer API Gateway gives instead of calling the route."""
        query = request.query if guard.identity_query_strings else {}
        identity = tuple(request.headers.get(name, "") for name in guard.identity_headers) + tuple(
            ",".join(query.get(name, ())) for name in guard.identity_query_strings
        )
        if not all(identity):
            return UNAUTHORIZED
        loop = asyncio.get_running_loop()

        async def ask() -> tuple[bool, Verdict]:
            self.invocations[guard.function or ""] += 1
            # Past its timeout the verification's thread runs on (nothing can stop it); the request
            # gets API Gateway's 500 for a failing authorizer.
            async with asyncio.timeout(self.authorizer_timeout_seconds):
                return await loop.run_in_executor(self._threads, self._authorize_call, request)

        try:
            authorized, verdict = await self.cache.judged(guard.name, identity, guard.ttl_seconds, ask)
        except Exception:
            log.exception("authorizer %s failed", guard.name)
            return INTERNAL_SERVER_ERROR
        if not authorized:
            return FORBIDDEN
        return verdict

    async def _call(self, name: str, request: Request) -> Answer:
        """The function's answer within its timeout (else 500, as Lambda's timeout is) and the
        integration timeout (else 503); a failing function is a 500."""
        function = self.functions.get(name)
        if function is None:
            log.error("no function %s is served", name)
            return INTERNAL_SERVER_ERROR
        self.invocations[name] += 1
        integration = asyncio.timeout(self.integration_timeout_seconds)
        invocation = asyncio.timeout(function.timeout_seconds)
        try:
            async with integration, invocation:
                context = LambdaContext(name, timeout_seconds=function.timeout_seconds)
                status, headers, body = await function.answer(request, context)
        except Exception:
            if integration.expired():
                log.warning("function %s: no answer within the integration timeout", name)
                return SERVICE_UNAVAILABLE
            if invocation.expired():
                log.warning("function %s timed out after %g s", name, function.timeout_seconds)
            else:
                log.exception("function %s failed", name)
            return INTERNAL_SERVER_ERROR
        finally:
            if self._after_each is not None:
                self._after_each()
        return http_answer(status, headers, body)

    async def _stream_alerts(
        self,
        streaming: alert_stream.AlertStreaming,
        request: Request,
        match: RouteMatch[HttpRoute],
        receive: Receive,
        send: Send,
        cors_headers: Headers,
        stopping: asyncio.Future[None] | None,
    ) -> None:
        """The alert stream, continuously: the route answered again and again (``alert_stream``)."""

        async def answer(last_id: str | None) -> Answer:
            headers = (
                request.headers if last_id is None else {**request.headers, LAST_EVENT_ID_HEADER: last_id}
            )
            again = dataclasses.replace(
                request, headers=headers, stage_variables=alert_stream.STREAM_STAGE_VARIABLES
            )
            return await self.answer(again, match)

        await alert_stream.stream(
            answer,
            receive,
            send,
            streaming,
            extra_headers=cors_headers,
            stopping=stopping,
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

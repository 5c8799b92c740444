"""The proxy function's application: gateway routes, and every other /api/v1 path forwarded."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.routing import Route

from bakery_gateway import __version__, circuit_breaker, forwarding, retry_budget, revocation, routing
from bakery_gateway.alerts import sse
from bakery_gateway.api_docs import ApiDocs, install_api_docs
from bakery_gateway.api_keys import require_in_scope
from bakery_gateway.authentication import caller_identity
from bakery_gateway.authorizer import bearer_token
from bakery_gateway.clients import PerEventLoop
from bakery_gateway.constants import TENANT_ID_HEADER
from bakery_gateway.demo import DemoAccountType, require_demo_account_type
from bakery_gateway.errors import (
    BadDownstreamResponseError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
    PayloadTooLargeError,
    RedisUnavailableError,
    StateUnavailableError,
)
from bakery_gateway.geocoding import GEOCODE_PATH, Geocoder, geocode_route
from bakery_gateway.health import HealthChecker, install_health_routes
from bakery_gateway.identity import Identity
from bakery_gateway.middleware import NO_OPENTELEMETRY, RequestContextMiddleware
from bakery_gateway.observability import DOWNSTREAM_RETRIES
from bakery_gateway.policy.engine import DEMO_SESSIONS_PATH, LOGIN_ROUTE_KEYS, PolicyEngine, PolicyRequest
from bakery_gateway.problem_handlers import install_problem_handlers
from bakery_gateway.pseudonymize import user_id_for_log
from bakery_gateway.settings import Settings
from bakery_gateway.tenancy import select_tenant

# Route keys of template.yaml that have no authorizer: the proxy serves them without an identity.
PUBLIC_ROUTE_KEYS = frozenset(
    {
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/register",
        "POST /api/v1/auth/refresh",
        "GET /health",
        # Status pages and developers, before any login (docs/health.md, docs/api-docs.md).
        "GET /api/v1/health",
        "GET /docs",
        "GET /openapi.json",
        "GET /api/v1/openapi.json",
        # The demo-session service's routes a visitor uses before having a token.
        "ANY /api/v1/demo/{proxy+}",
    }
)
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
LOGIN_NAME_FIELDS = ("email", "username", "login")
LOGOUT_PATH = "/api/v1/auth/logout"


def create_app(
    settings: Settings,
    *,
    redis_clients: PerEventLoop[Any],
    http_clients: PerEventLoop[Any],
    blocking_redis_clients: PerEventLoop[Any],
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The proxy's FastAPI application, with its clients handed in (one per event loop).

    ``blocking_redis_clients`` serve the alert stream's blocking reads: they decode responses and
    their socket timeout outlasts ``sse_wait_seconds``.
    """
    app = FastAPI(title="Bakery-IA API Gateway", version=__version__, telemetry=NO_OPENTELEMETRY)
    app.add_middleware(RequestContextMiddleware, user_id_for_log=user_id_for_log(settings.observability))
    leeway = settings.jwt.leeway_seconds
    demo_service_urls = {**settings.service_urls, **settings.demo.service_urls}
    policies = PolicyEngine(settings, redis_clients=redis_clients, http_clients=http_clients, clock=clock)
    health_checker = HealthChecker(
        settings, redis_clients=redis_clients, http_clients=http_clients, clock=clock
    )
    geocoder = Geocoder(settings.geocoding, redis_clients=redis_clients, http_clients=http_clients)
    retries = retry_budget.RetryBudget()

    def authenticate(request: Request) -> Identity | None:
        """The caller's identity; None on public routes. Refuses what the authorizer refused."""
        event = request.scope["aws.event"]
        if event.get("routeKey") in PUBLIC_ROUTE_KEYS:
            return None
        identity = caller_identity(event, leeway_seconds=leeway, clock=clock)
        request.state.user_id = identity.user_id
        return identity

    def too_large() -> PayloadTooLargeError:
        limit = settings.max_request_bytes
        return PayloadTooLargeError(
            f"request bodies are limited to {limit} bytes", extensions={"max_bytes": limit}
        )

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_request_bytes:
            raise too_large()
        body = await request.body()
        if len(body) > settings.max_request_bytes:
            raise too_large()
        return body

    async def handle(
        request: Request,
        identity: Identity | None,
        route: routing.Route,
        *,
        before_forwarding: Callable[[], Awaitable[None]] | None = None,
    ) -> Response:
        """Tenant access, body size and every policy (one Redis round trip); then forward."""
        tenant_id = choose_tenant(request, identity, route)
        body = await read_body(request)
        policy_headers = await check(
            request, identity, route, tenant_id, body, service=circuit_of(identity, route)
        )
        if before_forwarding is not None:
            await before_forwarding()
        response = await forward(request, identity, route, tenant_id, body)
        response.raw_headers += [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in policy_headers
        ]
        return response

    def choose_tenant(
        request: Request, identity: Identity | None, route: routing.Route, client_tenant_id: str | None = None
    ) -> str | None:
        """The tenant the request acts on (tenant access rules: 403 for one the token does not list)."""
        if identity is None:
            return None
        require_in_scope(identity, route.service)  # 403 for a service outside a key's scope
        chosen = request.headers.get(TENANT_ID_HEADER) or client_tenant_id
        tenant_id = select_tenant(identity, route.tenant_id, chosen)
        request.state.tenant_id = tenant_id
        return tenant_id

    async def check(
        request: Request,
        identity: Identity | None,
        route: routing.Route,
        tenant_id: str | None,
        body: bytes,
        *,
        service: str | None = None,
    ) -> list[tuple[str, str]]:
        """Every policy and ``service``'s circuit (one Redis round trip): the headers they add; raises
        the first refusal."""
        event = request.scope["aws.event"]
        state = request.state
        route_key = event.get("routeKey", "")
        admission = await policies.admit(
            PolicyRequest(
                identity=identity,
                tenant_id=tenant_id,
                method=request.method,
                path=route.normalized_path,
                route_key=route_key,
                route_template=route.template,
                source_ip=event["requestContext"].get("http", {}).get("sourceIp", ""),
                request_id=state.request_id,
                login_name=login_name(body) if route_key in LOGIN_ROUTE_KEYS else None,
                service=service,
            )
        )
        state.circuit, state.circuit_service = admission.circuit, service
        return admission.headers

    def circuit_of(identity: Identity | None, route: routing.Route) -> str:
        """The circuit a request's service call counts on; demo backends fail apart from the real ones."""
        if identity is not None and identity.is_demo and route.service in settings.demo.service_urls:
            return f"{route.service}-demo"
        return route.service

    async def forward(
        request: Request, identity: Identity | None, route: routing.Route, tenant_id: str | None, body: bytes
    ) -> Response:
        event = request.scope["aws.event"]
        state = request.state
        http = event["requestContext"].get("http", {})
        origin = forwarding.ClientOrigin(
            source_ip=http.get("sourceIp", ""),
            protocol=request.headers.get("x-forwarded-proto", "https"),
            host=event["requestContext"].get("domainName", ""),
        )
        headers = forwarding.downstream_headers(
            ((name.decode("latin-1"), value.decode("latin-1")) for name, value in request.scope["headers"]),
            identity=identity,
            tenant_id=tenant_id,
            request_id=state.request_id,
            origin=origin,
        )
        query = event.get("rawQueryString") or ""
        url = route.base_url + route.path + (f"?{query}" if query else "")
        started = time.perf_counter()
        circuit = getattr(state, "circuit", circuit_breaker.CLOSED)
        circuit_service = getattr(state, "circuit_service", None) or route.service
        retries.record_request()

        def retry() -> bool:
            """Once, for an idempotent method, while the container's retry budget lasts."""
            if not retry_budget.may_retry(request.method):
                return False
            allowed = retries.try_spend()
            DOWNSTREAM_RETRIES.labels(route.service, "retried" if allowed else "budget_exhausted").inc()
            return allowed

        try:
            answer = await forwarding.forward(
                http_clients.get(),
                method=request.method,
                url=url,
                headers=headers,
                body=body,
                service=route.service,
                deadline_seconds=settings.downstream_connect_timeout_seconds
                + settings.downstream_read_timeout_seconds,
                retry=retry,
            )
        except (DownstreamUnavailableError, DownstreamTimeoutError, BadDownstreamResponseError):
            await policies.circuits.record(circuit_service, circuit, failed=True)
            raise
        finally:
            state.downstream_ms = round((time.perf_counter() - started) * 1000, 3)
        await policies.circuits.record(
            circuit_service, circuit, failed=circuit_breaker.is_failure(answer.status)
        )
        response = Response(content=answer.body, status_code=answer.status)
        response.raw_headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in forwarding.response_headers(answer.headers, state.request_id)
        ] + [(b"content-length", str(len(answer.body)).encode())]
        return response

    def route_for(request: Request, identity: Identity | None) -> routing.Route:
        # Demo users' traffic goes to the isolated demo backends where they are configured.
        urls = demo_service_urls if identity is not None and identity.is_demo else settings.service_urls
        route = routing.resolve(request.scope["aws.event"]["rawPath"], urls)
        request.state.route_template = route.template
        request.state.service = route.service
        return route

    # response_model=None: a dict return annotation would make FastAPI build a response field, and
    # that import pydantic.v1 (~25 ms of every cold start) to check the annotation is not a v1 model.
    @app.get("/health", response_model=None)
    async def health() -> dict[str, Any]:
        """The gateway's own health: it answers, whether Redis does, the services' last known health."""
        return await health_checker.gateway_health()

    def revoker(request: Request, identity: Identity | None) -> Callable[[], Awaitable[None]]:
        """Logout: revoke the caller's token until it expires, before the auth service is told."""

        async def revoke() -> None:
            if identity is None or identity.is_api_key:  # a key is revoked by an operator, not by logout
                return
            try:
                await revocation.revoke(
                    redis_clients.get(),
                    jti=identity.jti,
                    expires_at=identity.expires_at,
                    token=bearer_token({"authorization": request.headers.get("authorization", "")}),
                    leeway_seconds=leeway,
                )
            except RedisUnavailableError:
                raise StateUnavailableError(
                    "logout could not be recorded; retry shortly", headers={"Retry-After": "5"}
                ) from None

        return revoke

    @app.post(GEOCODE_PATH)
    async def geocode(request: Request) -> Response:
        """Addresses to coordinates through Nominatim, within its usage policy (docs/geocoding.md)."""
        identity = authenticate(request)
        route = geocode_route(request.scope["aws.event"]["rawPath"])
        request.state.route_template, request.state.service = route.template, route.service
        tenant_id = choose_tenant(request, identity, route)
        body = await read_body(request)
        policy_headers = await check(request, identity, route, tenant_id, body)
        return await geocoder.respond(body, policy_headers, request.state)

    @app.get(sse.ALERT_STREAM_PATH)
    async def alert_stream(request: Request) -> Response:
        """The tenant's alerts after the client's position, as server-sent events (docs/sse.md)."""
        identity = authenticate(request)
        route = sse.stream_route(request.scope["aws.event"]["rawPath"])
        request.state.route_template, request.state.service = route.template, route.service
        query = request.query_params
        resume = sse.resume_position(
            request.headers.get(sse.LAST_EVENT_ID_HEADER), query.get(sse.LAST_EVENT_ID_QUERY)
        )
        tenant_id = choose_tenant(request, identity, route, query.get(sse.TENANT_QUERY))
        policy_headers = await check(request, identity, route, tenant_id, b"")
        client = blocking_redis_clients.get()
        wait = sse.wait_seconds(settings.alerts, request.scope["aws.event"].get("stageVariables"))
        return await sse.answer(client, tenant_id, resume, settings.alerts, policy_headers, wait=wait)

    async def proxy(request: Request) -> Response:
        """Every other /api/v1 path: authenticated, checked, and forwarded to its service."""
        identity = authenticate(request)
        route = route_for(request, identity)
        # Judged on the normalised path: every spelling of logout revokes, not only the route key's.
        if request.method == "POST" and route.normalized_path == LOGOUT_PATH:
            return await handle(request, identity, route, before_forwarding=revoker(request, identity))
        if request.method == "POST" and route.normalized_path == DEMO_SESSIONS_PATH:
            body = await read_body(request)

            async def check_account_type() -> None:
                demo_account_type_of(body)

            return await handle(request, identity, route, before_forwarding=check_account_type)
        return await handle(request, identity, route)

    # A plain Starlette route: the catch-all needs no parameter parsing or dependency solving, and
    # FastAPI's would cost about 30 µs on every proxied request.
    # After the gateway's own /api/v1 routes (the alert stream), before FastAPI's documentation routes: most
    # requests are proxied, and each route tried before a match costs a regular expression.
    install_health_routes(app, health_checker)
    docs = ApiDocs(
        app,
        settings,
        public_route_keys=PUBLIC_ROUTE_KEYS,
        event_stream_paths=[sse.ALERT_STREAM_PATH],
        redis_clients=redis_clients,
        http_clients=http_clients,
    )
    install_api_docs(app, docs)
    own_api = [route for route in app.router.routes if getattr(route, "path", "").startswith("/api/")]
    others = [route for route in app.router.routes if route not in own_api]
    app.router.routes[:] = [*own_api, Route("/api/v1/{path:path}", proxy, methods=PROXY_METHODS), *others]

    install_problem_handlers(app)
    return app


def demo_account_type_of(body: bytes) -> DemoAccountType:
    """The account type a demo-session creation asks for; refused (400) unless one of the two."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    # Anything but a JSON object holding a valid account_type gets the problem naming the two.
    account_type = document.get("account_type") if isinstance(document, dict) else None
    return require_demo_account_type(account_type, "account_type")


def login_name(body: bytes) -> str | None:
    """The account a login or registration is for, to limit attempts per account."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    for field in LOGIN_NAME_FIELDS:
        value = document.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()[:256]
    return None

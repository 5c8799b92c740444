"""The proxy function's own routes (alert stream, geocoding, health, API docs) as a FastAPI app.

Every other /api/v1 path never reaches this app: ``forwarding.proxy_handler.ProxyHandler`` serves it
straight through ``ProxyPipeline``. The routes here take the same steps from that pipeline, on the
request the adapter put in their scope (``api.request.request_in``): no route reads the host's event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from bakery_gateway import __version__
from bakery_gateway.api.request import request_in
from bakery_gateway.api.routes import ALERT_STREAM_PATH, GEOCODE_PATH, HEALTH_PATH, PUBLIC_ROUTE_KEYS
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.edge.middleware import NO_OPENTELEMETRY, RequestContextMiddleware
from bakery_gateway.edge.problem_handlers import install_problem_handlers
from bakery_gateway.forwarding.pipeline import ProxyPipeline, ProxyRequest
from bakery_gateway.own_routes.api_docs import ApiDocs, install_api_docs
from bakery_gateway.own_routes.geocoding import Geocoder, geocode_route
from bakery_gateway.own_routes.health import HealthChecker, install_health_routes
from bakery_gateway.realtime.alerts import sse
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry.pseudonymize import user_id_for_log
from bakery_gateway.telemetry.request_record import RequestRecorder


def create_app(
    settings: Settings,
    *,
    redis_clients: PerEventLoop[Any],
    http_clients: PerEventLoop[Any],
    blocking_redis_clients: PerEventLoop[Any],
    pipeline: ProxyPipeline | None = None,
    recorder: RequestRecorder | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The proxy's FastAPI application, with its clients handed in (one per event loop).

    ``blocking_redis_clients`` serve the alert stream's blocking reads: they decode responses and
    their socket timeout outlasts ``sse_wait_seconds``. The function passes its ``pipeline`` and
    ``recorder``, which its proxied requests share; without them the app makes its own.
    """
    if pipeline is None:
        pipeline = ProxyPipeline(
            settings, redis_clients=redis_clients, http_clients=http_clients, clock=clock
        )
    if recorder is None:
        recorder = RequestRecorder(user_id_for_log=user_id_for_log(settings.observability))
    app = FastAPI(title="Bakery-IA API Gateway", version=__version__, telemetry=NO_OPENTELEMETRY)
    app.add_middleware(RequestContextMiddleware, recorder=recorder)
    health_checker = HealthChecker(
        settings, redis_clients=redis_clients, http_clients=http_clients, clock=clock
    )
    geocoder = Geocoder(settings.geocoding, redis_clients=redis_clients, http_clients=http_clients)

    # response_model=None: a dict return annotation would make FastAPI build a response field, and
    # that import pydantic.v1 (~25 ms of every cold start) to check the annotation is not a v1 model.
    @app.get(HEALTH_PATH, response_model=None)
    async def health() -> dict[str, Any]:
        """The gateway's own health: it answers, whether Redis does, the services' last known health."""
        return await health_checker.gateway_health()

    @app.post(GEOCODE_PATH)
    async def geocode(request: Request) -> Response:
        """Addresses to coordinates through Nominatim, within its usage policy (docs/geocoding.md)."""
        proxied = proxy_request(request)
        admitted = await pipeline.admit(proxied, route=geocode_route(proxied.request.raw_path))
        with admitted.fields_on_refusal():
            return await geocoder.respond(admitted.body, admitted.headers, request.state)

    @app.get(ALERT_STREAM_PATH)
    async def alert_stream(request: Request) -> Response:
        """The tenant's alerts after the client's position, as server-sent events (docs/sse.md)."""
        proxied = proxy_request(request)
        query = request.query_params
        admitted = await pipeline.admit(
            proxied,
            route=sse.stream_route(proxied.request.raw_path),
            client_tenant_id=query.get(sse.TENANT_QUERY),
        )
        with admitted.fields_on_refusal():
            resume = sse.resume_position(
                proxied.request.headers.get(sse.LAST_EVENT_ID_HEADER), query.get(sse.LAST_EVENT_ID_QUERY)
            )
            client = blocking_redis_clients.get()
            wait = sse.wait_seconds(settings.alerts, proxied.request.stage_variables)
            return await sse.answer(
                client, admitted.tenant_id, resume, settings.alerts, admitted.headers, wait=wait
            )

    install_health_routes(app, health_checker)
    docs = ApiDocs(
        app,
        settings,
        public_route_keys=PUBLIC_ROUTE_KEYS,
        event_stream_paths=[ALERT_STREAM_PATH],
        redis_clients=redis_clients,
        http_clients=http_clients,
    )
    install_api_docs(app, docs)
    install_problem_handlers(app)
    return app


def proxy_request(request: Request) -> ProxyRequest:
    """The steps' view of a request served through ASGI; its log record's state is the scope's own."""
    return ProxyRequest(request_in(request.scope), request.scope["state"])

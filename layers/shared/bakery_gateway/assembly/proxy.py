"""The proxy function: the pipeline, its clients and recorder, and the handler of its requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bakery_gateway.api.routes import GATEWAY_API_ROUTES
from bakery_gateway.clients import factories
from bakery_gateway.clients.pipelined_redis import pipelined_redis_factory
from bakery_gateway.edge.lambda_event import Event
from bakery_gateway.edge.lambda_http import AsgiAppHandler, Response, run_on_container_loop
from bakery_gateway.forwarding.pipeline import ProxyPipeline
from bakery_gateway.forwarding.proxy_handler import ProxyHandler
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry.pseudonymize import user_id_for_log
from bakery_gateway.telemetry.request_record import RequestRecorder

BLOCKING_READ_MARGIN_SECONDS = 2.0


@dataclass(frozen=True)
class ProxyFunction:
    """Every /api/v1 path forwarded to its service, and the gateway's own routes (``handler``)."""

    handler: ProxyHandler

    @classmethod
    def from_settings(cls, settings: Settings) -> ProxyFunction:
        # factories.PerEventLoop is looked up when called, not imported: the tests' Lambda runtime
        # replaces it to close the clients a cold start made.
        # The proxy reads no text from Redis: undecoded replies cost it less on every request.
        redis_clients = factories.PerEventLoop(
            factories.async_redis_factory(settings.redis, decode_responses=False)
        )
        http_clients = factories.PerEventLoop(factories.http_client_factory(settings))
        pipeline = ProxyPipeline(
            settings,
            redis_clients=redis_clients,
            http_clients=http_clients,
            # Every request's one policy round trip, pipelined with the other requests' on one connection.
            script_clients=factories.PerEventLoop(pipelined_redis_factory(settings.redis)),
        )
        recorder = RequestRecorder(user_id_for_log=user_id_for_log(settings.observability))

        def own_routes_app() -> Any:
            """The gateway's own routes, imported and built on the first request for one (FastAPI's
            import is most of a cold start, and proxied requests never need it)."""
            from bakery_gateway.own_routes.app import create_app

            return create_app(
                settings,
                pipeline=pipeline,
                recorder=recorder,
                redis_clients=redis_clients,
                http_clients=http_clients,
                # The alert stream's blocking reads (XREAD BLOCK up to SSE_WAIT_SECONDS) on connections
                # of their own, whose socket timeout outlasts the wait; REDIS_TIMEOUT_SECONDS stays
                # everywhere else.
                blocking_redis_clients=factories.PerEventLoop(
                    factories.async_redis_factory(
                        settings.redis,
                        read_timeout_seconds=settings.alerts.sse_wait_seconds + BLOCKING_READ_MARGIN_SECONDS,
                    )
                ),
            )

        handler = ProxyHandler(pipeline, recorder, AsgiAppHandler(own_routes_app), GATEWAY_API_ROUTES)
        return cls(handler)

    def handle_event(self, event: Event, context: Any) -> Response:
        """A Lambda invocation, on the container's one event loop."""
        return run_on_container_loop(self.handler(event, context))

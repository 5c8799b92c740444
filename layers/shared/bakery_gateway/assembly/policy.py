"""The policy function: tenant policy administration (platform_admin) and the tenant service's pushes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bakery_gateway.clients import factories
from bakery_gateway.edge.lambda_event import Event
from bakery_gateway.edge.lambda_http import AsgiAppHandler, Response, run_on_container_loop
from bakery_gateway.policies.admin import create_admin_app
from bakery_gateway.settings import Settings


@dataclass(frozen=True)
class PolicyFunction:
    """The admin app, and the handler that serves it requests (``handler``)."""

    handler: AsgiAppHandler

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicyFunction:
        # factories.PerEventLoop is looked up when called: the tests' Lambda runtime replaces it.
        app = create_admin_app(
            settings, redis_clients=factories.PerEventLoop(factories.async_redis_factory(settings.redis))
        )
        return cls(AsgiAppHandler(lambda: app))

    def handle_event(self, event: Event, context: Any) -> Response:
        """A Lambda invocation, on the container's one event loop."""
        return run_on_container_loop(self.handler(event, context))

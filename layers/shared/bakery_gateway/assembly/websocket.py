"""The WebSocket function: ``$connect`` registers the connection, ``$disconnect`` removes it, and the
message routes (subscribe, unsubscribe, ping, ``$default``) answer the client's protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bakery_gateway.clients import factories
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.routes import handle
from bakery_gateway.settings import Settings


@dataclass(frozen=True)
class WebSocketFunction:
    connections: Connections

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSocketFunction:
        return cls(Connections(factories.sync_redis(settings.redis)))

    def handle_event(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """A Lambda invocation: one of the WebSocket API's routes."""
        return handle(event, self.connections)

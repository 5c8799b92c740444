"""The fanout function: alerts from services (direct invocation, EventBridge, ``POST /internal/alerts``)
stored in the tenant's Redis stream, published on its channel, posted to the tenant's WebSocket
subscribers and routed to notifications; training progress posted to the job's subscribers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bakery_gateway.realtime.alerts.fanout import Fanout, fanout_from_settings
from bakery_gateway.realtime.alerts.ingress import handle
from bakery_gateway.settings import Settings


@dataclass(frozen=True)
class FanoutFunction:
    fanout: Fanout

    @classmethod
    def from_settings(cls, settings: Settings) -> FanoutFunction:
        return cls(fanout_from_settings(settings))

    def handle_event(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """A Lambda invocation: the event's source recognised (``ingress``), its alerts fanned out."""
        return handle(event, context, self.fanout)

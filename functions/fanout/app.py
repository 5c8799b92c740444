"""Fanout function: alerts from services (direct invocation, EventBridge, POST /internal/alerts)
stored in the tenant's Redis stream, published on its channel, and routed to notifications."""

from typing import Any

from bakery_gateway.alerts.fanout import Fanout
from bakery_gateway.alerts.ingress import handle
from bakery_gateway.alerts.notifications import Notifier, notification_client
from bakery_gateway.clients import sync_redis
from bakery_gateway.settings import get_settings

# The notification service is told in passing: a slow one must not hold the alert's producer.
NOTIFICATION_READ_TIMEOUT_SECONDS = 5.0

settings = get_settings()
fanout = Fanout(
    sync_redis(settings.redis),
    settings.alerts.stream_max_length,
    Notifier(
        notification_client(settings.downstream_connect_timeout_seconds, NOTIFICATION_READ_TIMEOUT_SECONDS),
        settings.service_urls.get("notifications"),
    ),
)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context, fanout)

"""Fanout function: alerts from services (direct invocation, EventBridge, POST /internal/alerts)
stored in the tenant's Redis stream, published on its channel, posted to the tenant's WebSocket
subscribers and routed to notifications; training progress posted to the job's subscribers."""

from typing import Any

from bakery_gateway.alerts.fanout import Fanout
from bakery_gateway.alerts.ingress import handle
from bakery_gateway.alerts.notifications import Notifier, notification_client
from bakery_gateway.clients import sync_redis
from bakery_gateway.settings import get_settings
from bakery_gateway.websocket.connections import Connections
from bakery_gateway.websocket.delivery import Delivery, LazyManagementClient

# The notification service is told in passing: a slow one must not hold the alert's producer.
NOTIFICATION_READ_TIMEOUT_SECONDS = 5.0

settings = get_settings()
redis_client = sync_redis(settings.redis)
websocket = settings.websocket
fanout = Fanout(
    redis_client,
    settings.alerts.stream_max_length,
    Notifier(
        notification_client(settings.downstream_connect_timeout_seconds, NOTIFICATION_READ_TIMEOUT_SECONDS),
        settings.service_urls.get("notifications"),
    ),
    Delivery(
        Connections(redis_client),
        # boto3 is imported on the first post, not at cold start.
        LazyManagementClient(websocket.management_url, max_pool_connections=websocket.post_concurrency)
        if websocket.management_url
        else None,
        concurrency=websocket.post_concurrency,
    ),
)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context, fanout)

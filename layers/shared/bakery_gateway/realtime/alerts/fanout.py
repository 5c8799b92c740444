"""Processing a batch of raw alerts: parse each, accept the valid ones, notify, count outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import InvalidAlertError
from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.realtime.alerts.notifications import Notifier
from bakery_gateway.realtime.alerts.store import Accepted, accept
from bakery_gateway.realtime.websocket.delivery_order import TOPIC_LOCKS
from bakery_gateway.realtime.websocket.training import TrainingProgress
from bakery_gateway.telemetry.observability import ALERTS

if TYPE_CHECKING:
    import redis

    from bakery_gateway.realtime.websocket.delivery import Delivery
    from bakery_gateway.settings import Settings

# More alerts than this in one event are refused whole: a producer batches, it does not flood.
MAX_ALERTS_PER_EVENT = 100
# The notification service is told in passing: a slow one must not hold the alert's producer.
NOTIFICATION_READ_TIMEOUT_SECONDS = 5.0


@dataclass
class Summary:
    accepted: int = 0
    duplicate: int = 0
    refused: int = 0
    stream_ids: dict[str, str] = field(default_factory=dict)  # alert id → stream entry id
    refused_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def all_refused(self) -> bool:
        return self.refused > 0 and self.accepted == 0 and self.duplicate == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "refused": self.refused,
            "stream_ids": dict(self.stream_ids),
            "refused_reasons": list(self.refused_reasons),
        }


class Fanout:
    """Accepts alerts into Redis (``store.accept``), posts each new one to the tenant's WebSocket
    subscribers, then hands channel requests to the notifier. Without ``delivery`` (tests, tools)
    nothing is posted."""

    def __init__(
        self, client: redis.Redis, max_length: int, notifier: Notifier, delivery: Delivery | None = None
    ) -> None:
        self._client = client
        self._max_length = max_length
        self._notifier = notifier
        self._delivery = delivery

    def process(
        self, raw_alerts: Sequence[object], request_id: str, seconds_left: Callable[[], float] | None = None
    ) -> Summary:
        """Raises ``RedisUnavailableError`` when Redis fails: alerts before it are stored, and the
        retry the error causes finds them again as duplicates. ``seconds_left`` bounds the time
        notifications may take (what remains of the invocation)."""
        summary = Summary()
        for index, raw in enumerate(raw_alerts):
            try:
                alert = Alert.from_mapping(raw)
            except InvalidAlertError as error:
                ALERTS.labels(outcome="refused").inc()
                summary.refused += 1
                summary.refused_reasons.append({"index": index, "invalid_fields": error.fields})
                continue
            result = self.accept(alert, request_id, seconds_left)
            if result.duplicate:
                summary.duplicate += 1
                continue
            summary.accepted += 1
            summary.stream_ids[alert.alert_id] = str(result.stream_id)
        return summary

    def accept(
        self,
        alert: Alert,
        request_id: str,
        seconds_left: Callable[[], float] | None = None,
        *,
        publish: bool = True,
    ) -> Accepted:
        """One valid alert, whichever way it came (an ingress event, or the channel through
        ``subscriber``, which passes ``publish=False``): stored once (``store.accept``), counted, and
        when new posted to the tenant's WebSocket subscribers and handed to the notifier. Raises
        ``RedisUnavailableError`` when it cannot be stored."""
        # Stored and posted under the tenant's topic lock: within a process, WebSocket clients get
        # a tenant's alerts in stream order (docs/websocket.md says what holds across containers).
        with TOPIC_LOCKS.hold(redis_keyspace.alerts_topic(alert.tenant_id)):
            result = accept(self._client, alert, self._max_length, publish=publish)
            if result.duplicate:
                ALERTS.labels(outcome="duplicate").inc()
                return result
            ALERTS.labels(outcome="accepted").inc()
            self._post(alert, str(result.stream_id))
        self._notifier.notify(alert, request_id, None if seconds_left is None else seconds_left())
        return result

    def progress(self, raw: object) -> dict[str, Any]:
        """Post one training progress event to its job's subscribers; the delivery report.
        ``BadRequestError`` when it is malformed."""
        event = TrainingProgress.from_mapping(raw)
        if self._delivery is None:
            return {"topic": event.topic}
        return self._delivery.deliver(event.topic, event.payload()).as_dict()

    def _post(self, alert: Alert, stream_id: str) -> None:
        """The accepted alert to the tenant's ``alerts`` subscribers (a duplicate was posted already)."""
        if self._delivery is None:
            return
        topic = redis_keyspace.alerts_topic(alert.tenant_id)
        self._delivery.deliver(
            topic, {"type": "alert", "topic": topic, "stream_id": stream_id, "alert": alert.to_dict()}
        )


def fanout_from_settings(settings: Settings, client: redis.Redis | None = None) -> Fanout:
    """The fanout as the fanout function (and the subscriber process) runs it: Redis, the
    notification service and ``@connections`` delivery from the gateway's settings."""
    from bakery_gateway.clients.factories import sync_redis
    from bakery_gateway.realtime.alerts.notifications import notification_client
    from bakery_gateway.realtime.websocket.connections import Connections
    from bakery_gateway.realtime.websocket.delivery import Delivery
    from bakery_gateway.realtime.websocket.management_api import ConnectionsClient

    redis_client = client if client is not None else sync_redis(settings.redis)
    websocket = settings.websocket
    return Fanout(
        redis_client,
        settings.alerts.stream_max_length,
        Notifier(
            notification_client(
                settings.downstream_connect_timeout_seconds, NOTIFICATION_READ_TIMEOUT_SECONDS
            ),
            settings.service_urls.get("notifications"),
        ),
        Delivery(
            Connections(redis_client),
            # botocore (credentials) is imported on the first post, not at cold start.
            ConnectionsClient(websocket.management_url, max_connections=websocket.post_concurrency)
            if websocket.management_url
            else None,
            concurrency=websocket.post_concurrency,
        ),
    )

"""For publishers that only PUBLISH on ``alerts:tenant:{id}``: their alerts, down the fanout's path.

A PSUBSCRIBE loop feeds every message into ``Fanout.accept``, the fanout function's own path for one
alert: stored once (without publishing again: the channel's listeners have the message already) and,
when new, posted to the tenant's WebSocket subscribers and handed to the notification service. Our own
publications come back here too and are duplicates by then (the seen key), so they cost one SET NX
each and are not posted twice. On a Redis error the loop reconnects with a
capped backoff; what was published while it was disconnected is lost, as pub/sub always is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from bakery_gateway import bounded_json
from bakery_gateway.api.request import request_id_for
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import InvalidAlertError, RedisUnavailableError
from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.realtime.alerts.store import Accepted
from bakery_gateway.telemetry.observability import ALERTS, REDIS_ERRORS, logger

if TYPE_CHECKING:
    import redis

    from bakery_gateway.realtime.alerts.fanout import Fanout

PATTERN = redis_keyspace.ALERT_CHANNEL_PREFIX + "*"
MAX_BACKOFF_SECONDS = 5.0


def ingest(fanout: Fanout, channel: str, payload: str) -> Accepted | None:
    """One channel message down the fanout's path; None when it is not an alert of that channel's
    tenant. Raises ``RedisUnavailableError`` when it cannot be stored."""
    try:
        alert = Alert.from_mapping(bounded_json.loads(payload, max_bytes=bounded_json.ALERT_BYTES))
    except (ValueError, InvalidAlertError) as error:
        ALERTS.labels(outcome="refused").inc()
        logger.warning("refused a published alert", extra={"channel": channel, "reason": str(error)})
        return None
    if redis_keyspace.alert_channel(alert.tenant_id) != channel:
        ALERTS.labels(outcome="refused").inc()
        logger.warning("refused an alert published on another tenant's channel", extra={"channel": channel})
        return None
    # No invocation bounds the notification here: the notifier's own timeouts do.
    return fanout.accept(alert, request_id_for(None), publish=False)


class Subscriber:
    def __init__(
        self,
        client: redis.Redis,
        fanout: Fanout,
        *,
        poll_seconds: float = 1.0,
        on_subscribed: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._fanout = fanout
        self._poll_seconds = poll_seconds
        self._on_subscribed = on_subscribed

    def run(self, stop: threading.Event) -> None:
        """Listen until ``stop`` is set, reconnecting after Redis errors."""
        backoff = 0.1
        while not stop.is_set():
            try:
                self._listen(stop)
                return
            except (RedisError, RedisUnavailableError) as error:
                REDIS_ERRORS.labels(operation="alert_subscribe").inc()
                logger.warning("alert subscriber lost Redis; reconnecting", extra={"reason": str(error)})
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _listen(self, stop: threading.Event) -> None:
        with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:  # type: ignore[no-untyped-call]
            pubsub.psubscribe(PATTERN)
            if self._on_subscribed is not None:
                self._on_subscribed()
            while not stop.is_set():
                message = pubsub.get_message(timeout=self._poll_seconds)
                if message is None or message.get("type") != "pmessage":
                    continue
                try:
                    ingest(self._fanout, _text(message["channel"]), _text(message["data"]))
                except (RedisError, RedisUnavailableError):
                    raise
                except Exception:  # one bad message must not stop the loop that serves every tenant
                    logger.exception(
                        "alert subscriber failed on a message", extra={"channel": message["channel"]}
                    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def main() -> None:
    """``python -m bakery_gateway.realtime.alerts.subscriber``: run until SIGTERM/SIGINT, with the fanout
    function's settings (REDIS_*, ALERT_STREAM_MAX_LENGTH, WEBSOCKET_MANAGEMENT_URL,
    NOTIFICATION_SERVICE_URL, ...) from the environment."""
    import signal

    from bakery_gateway.clients.factories import sync_redis
    from bakery_gateway.realtime.alerts.fanout import fanout_from_settings
    from bakery_gateway.settings import get_settings

    settings = get_settings()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    logger.info("alert subscriber listening", extra={"pattern": PATTERN})
    client = sync_redis(settings.redis)
    Subscriber(client, fanout_from_settings(settings, client)).run(stop)


if __name__ == "__main__":
    main()

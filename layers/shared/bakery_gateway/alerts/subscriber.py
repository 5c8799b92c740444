"""For publishers that only PUBLISH on ``alerts:tenant:{id}``: their alerts, into the tenant's stream.

A PSUBSCRIBE loop feeds every message into ``store.accept`` (without publishing again: the channel's
listeners have the message already). Our own publications come back here too and are duplicates by
then (the seen key), so they cost one SET NX each. On a Redis error the loop reconnects with a
capped backoff; what was published while it was disconnected is lost, as pub/sub always is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from bakery_gateway import redis_keys
from bakery_gateway.alerts.model import Alert
from bakery_gateway.alerts.store import Accepted, accept
from bakery_gateway.errors import InvalidAlertError, RedisUnavailableError
from bakery_gateway.observability import ALERTS, REDIS_ERRORS, logger

if TYPE_CHECKING:
    import redis

PATTERN = redis_keys.ALERT_CHANNEL_PREFIX + "*"
MAX_BACKOFF_SECONDS = 5.0


def ingest(client: redis.Redis, channel: str, payload: str, max_length: int) -> Accepted | None:
    """Store one channel message; None when it is not an alert of that channel's tenant."""
    try:
        alert = Alert.from_mapping(json.loads(payload))
    except (ValueError, InvalidAlertError) as error:
        ALERTS.labels(outcome="refused").inc()
        logger.warning("refused a published alert", extra={"channel": channel, "reason": str(error)})
        return None
    if redis_keys.alert_channel(alert.tenant_id) != channel:
        ALERTS.labels(outcome="refused").inc()
        logger.warning("refused an alert published on another tenant's channel", extra={"channel": channel})
        return None
    result = accept(client, alert, max_length, publish=False)
    ALERTS.labels(outcome="duplicate" if result.duplicate else "accepted").inc()
    return result


class Subscriber:
    def __init__(
        self,
        client: redis.Redis,
        max_length: int,
        *,
        poll_seconds: float = 1.0,
        on_subscribed: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._max_length = max_length
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
                ingest(self._client, _text(message["channel"]), _text(message["data"]), self._max_length)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def main() -> None:
    """``python -m bakery_gateway.alerts.subscriber``: run until SIGTERM/SIGINT, with the gateway's
    settings (REDIS_*, ALERT_STREAM_MAX_LENGTH) from the environment."""
    import signal

    from bakery_gateway.clients import sync_redis
    from bakery_gateway.settings import get_settings

    settings = get_settings()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    logger.info("alert subscriber listening", extra={"pattern": PATTERN})
    Subscriber(sync_redis(settings.redis), settings.alerts.stream_max_length).run(stop)


if __name__ == "__main__":
    main()

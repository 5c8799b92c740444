"""The subscriber with real Redis: a raw PUBLISH lands in the stream exactly once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from bakery_gateway import redis_keys
from bakery_gateway.alerts.model import Alert
from bakery_gateway.alerts.store import accept
from bakery_gateway.alerts.subscriber import Subscriber
from tests.support.redis_server import RedisEndpoint, RedisProcess

# Pub/sub is not per database: tenants of this run only, so that other runs sharing the Redis server
# never feed this test, nor are fed by it.
TENANT = f"tenant-sub-{uuid.uuid4().hex[:8]}"
OTHER_TENANT = f"tenant-sub-{uuid.uuid4().hex[:8]}"
RAW_ALERT = {
    "alert_id": "raw-1",
    "tenant_id": TENANT,
    "severity": "low",
    "message": "Published by a service that only knows the channel",
    "timestamp": "2024-03-09T16:00:00Z",
}


class RunningSubscriber:
    def __init__(self, client: redis.Redis) -> None:
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        subscriber = Subscriber(client, 1000, poll_seconds=0.05, on_subscribed=self.subscribed.set)
        self._thread = threading.Thread(target=subscriber.run, args=(self._stop,), daemon=True)
        self._thread.start()
        assert self.subscribed.wait(5), "the subscriber did not subscribe"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def subscriber(redis_server: RedisEndpoint, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """A running subscriber on its own client; yields the client tests publish with."""
    client = redis_server.client()
    running = RunningSubscriber(client)
    yield redis_client
    running.stop()
    client.close()


def stream_length(client: redis.Redis) -> int:
    return int(client.xlen(redis_keys.alert_stream_key(TENANT)))


def eventually(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def settle() -> None:
    """Long enough for the subscriber to have handled anything already published."""
    time.sleep(0.3)


def test_a_raw_publish_is_stored_in_the_tenants_stream(subscriber: redis.Redis) -> None:
    subscriber.publish(redis_keys.alert_channel(TENANT), json.dumps(RAW_ALERT))

    assert eventually(lambda: stream_length(subscriber) == 1)


def test_the_same_raw_publish_twice_is_stored_once(subscriber: redis.Redis) -> None:
    subscriber.publish(redis_keys.alert_channel(TENANT), json.dumps(RAW_ALERT))
    subscriber.publish(redis_keys.alert_channel(TENANT), json.dumps(RAW_ALERT))
    settle()

    assert stream_length(subscriber) == 1


def test_our_own_publication_is_not_stored_again(subscriber: redis.Redis) -> None:
    accept(subscriber, Alert.from_mapping(RAW_ALERT), 1000)
    settle()

    assert stream_length(subscriber) == 1


def test_an_alert_published_on_another_tenants_channel_is_not_stored(subscriber: redis.Redis) -> None:
    subscriber.publish(redis_keys.alert_channel(OTHER_TENANT), json.dumps(RAW_ALERT))
    settle()

    assert (
        subscriber.exists(redis_keys.alert_stream_key(TENANT), redis_keys.alert_stream_key(OTHER_TENANT)) == 0
    )


def test_a_malformed_publication_is_ignored(subscriber: redis.Redis) -> None:
    subscriber.publish(redis_keys.alert_channel(TENANT), "{not json")
    subscriber.publish(redis_keys.alert_channel(TENANT), json.dumps(RAW_ALERT))

    assert eventually(lambda: stream_length(subscriber) == 1)


def test_the_subscriber_listens_again_after_a_redis_outage(private_redis: RedisProcess) -> None:
    client = redis.Redis(host="127.0.0.1", port=private_redis.port, socket_timeout=0.5, decode_responses=True)
    running = RunningSubscriber(client)
    private_redis.stop()
    time.sleep(1.0)  # longer than redis-py's own one reconnection attempt: the subscriber's loop retries
    private_redis.start()

    def published_and_stored() -> bool:
        # Until the subscriber is back a publication reaches nobody; repeats are duplicates once it is.
        client.publish(redis_keys.alert_channel(TENANT), json.dumps(RAW_ALERT))
        return stream_length(client) == 1

    assert eventually(published_and_stored, seconds=10)
    running.stop()
    client.close()

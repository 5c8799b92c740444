"""The subscriber with real Redis: a raw PUBLISH lands in the stream exactly once, and goes down the
fanout's path: posted once to the tenant's WebSocket subscribers (through delivery, with a fake
``@connections`` client), even when our own ingress published it too."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import cast

import httpx
import pytest
import redis

from bakery_gateway.api.identity import Identity
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.realtime.alerts.fanout import Fanout
from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.realtime.alerts.notifications import Notifier
from bakery_gateway.realtime.alerts.store import accept
from bakery_gateway.realtime.alerts.subscriber import Subscriber
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.delivery import Delivery
from bakery_gateway.realtime.websocket.messages import Request
from tests.support.redis_server import RedisEndpoint, RedisProcess
from tests.support.websocket import FakeManagementApi

NEVER_EXPIRES = 4102444800  # 2100-01-01: tokens here outlive the test

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


CONNECTION = "conn-sub-1"


def fanout_of(client: redis.Redis, api: FakeManagementApi | None = None) -> Fanout:
    """The fanout's path for one alert; without ``api`` nothing is posted. No notification service."""
    unused = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(202)))
    delivery = Delivery(Connections(client), api) if api is not None else None
    return Fanout(client, 1000, Notifier(unused, None), delivery)


class RunningSubscriber:
    def __init__(self, client: redis.Redis, api: FakeManagementApi | None = None) -> None:
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        subscriber = Subscriber(
            client, fanout_of(client, api), poll_seconds=0.05, on_subscribed=self.subscribed.set
        )
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


@pytest.fixture
def api() -> FakeManagementApi:
    return FakeManagementApi()


@pytest.fixture
def delivering(private_redis: RedisProcess, api: FakeManagementApi) -> Iterator[redis.Redis]:
    """A running subscriber that delivers through ``api``, with one connection subscribed to the
    tenant's alerts; yields the client tests publish with. On a Redis server of its own: pub/sub is
    server-wide, and the end-to-end tier's runtime (whose subscriber would race this one for the
    alert and post it to its own, unknown, connection) listens on the shared one."""
    publisher = private_redis.endpoint().client()
    connections = Connections(publisher)
    connections.register(
        CONNECTION, Identity("user-1", TENANT, (TENANT,), ("owner",), "jti-1", 0, NEVER_EXPIRES)
    )
    connections.subscribe(CONNECTION, Request("subscribe", "alerts"))
    client = private_redis.endpoint().client()
    running = RunningSubscriber(client, api)
    yield publisher
    running.stop()
    client.close()
    publisher.close()


def posted(api: FakeManagementApi) -> list[dict[str, object]]:
    return [json.loads(data) for _, data in api.posts]


def stream_length(client: redis.Redis) -> int:
    return int(client.xlen(redis_keyspace.alert_stream_key(TENANT)))


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
    subscriber.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))

    assert eventually(lambda: stream_length(subscriber) == 1)


def test_the_same_raw_publish_twice_is_stored_once(subscriber: redis.Redis) -> None:
    subscriber.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))
    subscriber.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))
    settle()

    assert stream_length(subscriber) == 1


def test_our_own_publication_is_not_stored_again(subscriber: redis.Redis) -> None:
    accept(subscriber, Alert.from_mapping(RAW_ALERT), 1000)
    settle()

    assert stream_length(subscriber) == 1


def test_an_alert_published_on_another_tenants_channel_is_not_stored(subscriber: redis.Redis) -> None:
    subscriber.publish(redis_keyspace.alert_channel(OTHER_TENANT), json.dumps(RAW_ALERT))
    settle()

    assert (
        subscriber.exists(
            redis_keyspace.alert_stream_key(TENANT), redis_keyspace.alert_stream_key(OTHER_TENANT)
        )
        == 0
    )


def test_a_malformed_publication_is_ignored(subscriber: redis.Redis) -> None:
    subscriber.publish(redis_keyspace.alert_channel(TENANT), "{not json")
    subscriber.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))

    assert eventually(lambda: stream_length(subscriber) == 1)


def test_the_subscriber_listens_again_after_a_redis_outage(private_redis: RedisProcess) -> None:
    client = redis.Redis(host="127.0.0.1", port=private_redis.port, socket_timeout=0.5, decode_responses=True)
    running = RunningSubscriber(client)
    private_redis.stop()
    time.sleep(1.0)  # longer than redis-py's own one reconnection attempt: the subscriber's loop retries
    private_redis.start()

    def published_and_stored() -> bool:
        # Until the subscriber is back a publication reaches nobody; repeats are duplicates once it is.
        client.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))
        return stream_length(client) == 1

    assert eventually(published_and_stored, seconds=10)
    running.stop()
    client.close()


def test_a_raw_publish_reaches_the_tenants_websocket_subscriber(
    delivering: redis.Redis, api: FakeManagementApi
) -> None:
    delivering.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))

    assert eventually(lambda: len(api.posts) == 1)
    ((connection_id, _),) = api.posts
    (message,) = posted(api)
    entries = delivering.xrange(redis_keyspace.alert_stream_key(TENANT))
    ((stream_id, _),) = cast(list[tuple[str, dict[str, str]]], entries)
    assert connection_id == CONNECTION
    assert message["type"] == "alert"
    assert message["topic"] == redis_keyspace.alerts_topic(TENANT)
    assert message["stream_id"] == stream_id
    assert message["alert"] == Alert.from_mapping(RAW_ALERT).to_dict()


def test_a_raw_publish_repeated_is_posted_once(delivering: redis.Redis, api: FakeManagementApi) -> None:
    delivering.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))
    delivering.publish(redis_keyspace.alert_channel(TENANT), json.dumps(RAW_ALERT))
    assert eventually(lambda: len(api.posts) >= 1)
    settle()

    assert len(api.posts) == 1


def test_an_alert_our_ingress_published_is_posted_once(
    delivering: redis.Redis, api: FakeManagementApi
) -> None:
    # The ingress path stores, publishes and posts; the subscriber then hears the publication.
    summary = fanout_of(delivering, api).process([RAW_ALERT], "request-1")
    settle()

    assert summary.accepted == 1
    assert len(api.posts) == 1
    assert stream_length(delivering) == 1

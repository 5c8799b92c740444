"""The WebSocket function's routes, called with the recorded events (fakeredis)."""

from __future__ import annotations

import json
from typing import Any

import fakeredis
import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.routes import handle
from tests.support.events import (
    WEBSOCKET_CONNECT,
    WEBSOCKET_DISCONNECT,
    WEBSOCKET_MESSAGE,
    load_recording,
)

CONNECTION_ID = "Ab1CdeFGhIjKLmA="  # the recordings' connection


@pytest.fixture
def fake_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


RECORDED_AT = 1710000000.0  # within the recorded token's lifetime (exp 1710003600)


@pytest.fixture
def connections(fake_redis: fakeredis.FakeRedis) -> Connections:
    return Connections(fake_redis, clock=lambda: RECORDED_AT)


@pytest.fixture
def connected(connections: Connections) -> Connections:
    assert handle(load_recording(WEBSOCKET_CONNECT), connections) == {"statusCode": 200}
    return connections


def message(body: str, route_key: str = "$default") -> dict[str, Any]:
    event = load_recording(WEBSOCKET_MESSAGE)
    event["requestContext"]["routeKey"] = route_key
    event["body"] = body
    return event


def answer(event: dict[str, Any], connections: Connections) -> dict[str, Any]:
    response = handle(event, connections)
    assert response["statusCode"] == 200
    decoded: dict[str, Any] = json.loads(response["body"])
    return decoded


def test_connect_records_the_connection_with_the_authorizers_identity(
    connected: Connections, fake_redis: fakeredis.FakeRedis
) -> None:
    record = fake_redis.hgetall(redis_keyspace.ws_connection_key(CONNECTION_ID))

    assert (record["user_id"], record["tenant_id"]) == ("user-1", "tenant-a")


def test_connect_without_an_authenticated_context_is_refused(connections: Connections) -> None:
    event = load_recording(WEBSOCKET_CONNECT)
    del event["requestContext"]["authorizer"]

    assert handle(event, connections) == {"statusCode": 401}


def test_connect_without_redis_is_refused_as_unavailable() -> None:
    server = fakeredis.FakeServer()
    server.connected = False

    response = handle(load_recording(WEBSOCKET_CONNECT), Connections(fakeredis.FakeRedis(server=server)))

    assert response == {"statusCode": 503}


def test_the_recorded_subscribe_message_is_answered_ok(connected: Connections) -> None:
    assert answer(load_recording(WEBSOCKET_MESSAGE), connected) == {
        "type": "ok",
        "action": "subscribe",
        "topic": "alerts:tenant-a",
    }


def test_a_ping_is_answered_with_a_pong(connected: Connections) -> None:
    assert answer(message('{"action":"ping"}', route_key="ping"), connected) == {"type": "pong"}


def test_a_malformed_message_on_the_default_route_gets_an_error_answer(connected: Connections) -> None:
    assert answer(message("hello"), connected)["type"] == "error"


def test_unsubscribe_answers_the_topic_it_left(connected: Connections) -> None:
    answer(load_recording(WEBSOCKET_MESSAGE), connected)

    reply = answer(message('{"action":"unsubscribe","topic":"alerts"}', "unsubscribe"), connected)

    assert reply == {"type": "ok", "action": "unsubscribe", "topic": "alerts:tenant-a"}
    assert connected.subscribers("alerts:tenant-a") == set()


def test_a_refused_subscription_gets_an_error_answer(connected: Connections) -> None:
    body = '{"action":"subscribe","topic":"alerts","tenant_id":"tenant-z"}'

    assert answer(message(body, "subscribe"), connected)["error"] == "forbidden"


def test_a_message_without_redis_gets_an_unavailable_answer() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    connections = Connections(fakeredis.FakeRedis(server=server))

    assert answer(load_recording(WEBSOCKET_MESSAGE), connections)["error"] == "unavailable"


def test_disconnect_removes_the_connection_from_its_topics(connected: Connections) -> None:
    answer(load_recording(WEBSOCKET_MESSAGE), connected)

    response = handle(load_recording(WEBSOCKET_DISCONNECT), connected)

    assert response == {"statusCode": 200}
    assert connected.subscribers("alerts:tenant-a") == set()


def test_a_message_after_the_token_expired_is_refused(fake_redis: fakeredis.FakeRedis) -> None:
    handle(load_recording(WEBSOCKET_CONNECT), Connections(fake_redis, clock=lambda: RECORDED_AT))
    later = Connections(fake_redis, clock=lambda: RECORDED_AT + 3600)

    reply = answer(message('{"action": "subscribe", "topic": "alerts"}'), later)

    assert (reply["type"], reply["error"]) == ("error", "token-expired")


def test_a_message_after_the_token_was_revoked_is_refused(
    connected: Connections, fake_redis: fakeredis.FakeRedis
) -> None:
    jti = fake_redis.hget(redis_keyspace.ws_connection_key(CONNECTION_ID), "jti")
    assert isinstance(jti, str)
    fake_redis.set(redis_keyspace.revoked_key(jti), "1")

    reply = answer(message('{"action": "subscribe", "topic": "alerts"}'), connected)

    assert (reply["type"], reply["error"]) == ("error", "token-revoked")

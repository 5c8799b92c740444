"""Connections and topics in Redis (fakeredis): registration, tenant-checked subscriptions, removal."""

from __future__ import annotations

import dataclasses
import json

import fakeredis
import pytest

from bakery_gateway.api.identity import Identity
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.realtime.websocket.connections import (
    MAX_SUBSCRIPTIONS,
    Connections,
    NotAuthenticatedError,
    identity_from_authorizer,
)
from bakery_gateway.realtime.websocket.messages import MessageError, Request
from tests.support.identities import identity

USER = identity(issued_at=1710000000, expires_at=1710003600)
ALERTS = Request("subscribe", "alerts")


@pytest.fixture
def fake_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)  # as clients.sync_redis is configured


@pytest.fixture
def connections(fake_redis: fakeredis.FakeRedis) -> Connections:
    registry = Connections(fake_redis, clock=lambda: 1710000000.0)
    registry.register("conn-1", USER)
    return registry


def test_a_connection_is_recorded_with_its_identity_until_the_two_hour_limit(
    connections: Connections, fake_redis: fakeredis.FakeRedis
) -> None:
    key = redis_keyspace.ws_connection_key("conn-1")

    record = fake_redis.hgetall(key)

    assert (record["user_id"], record["tenant_id"], json.loads(record["tenant_ids"])) == (
        "user-1",
        "tenant-a",
        ["tenant-a", "tenant-b"],
    )
    assert (record["subscriptions"], record["connected_at"]) == ("[]", "1710000000")
    assert 0 < fake_redis.ttl(key) <= redis_keyspace.WS_CONNECTION_TTL_SECONDS


def test_alerts_without_a_tenant_are_the_tokens_active_tenant(connections: Connections) -> None:
    assert connections.subscribe("conn-1", ALERTS) == "alerts:tenant-a"
    assert connections.subscribers("alerts:tenant-a") == {"conn-1"}


def test_alerts_of_another_tenant_the_token_lists_are_allowed(connections: Connections) -> None:
    topic = connections.subscribe("conn-1", Request("subscribe", "alerts", tenant_id="tenant-b"))

    assert topic == "alerts:tenant-b"


def test_alerts_of_a_tenant_the_token_does_not_list_are_forbidden(connections: Connections) -> None:
    with pytest.raises(MessageError) as refused:
        connections.subscribe("conn-1", Request("subscribe", "alerts", tenant_id="tenant-z"))

    assert refused.value.code == "forbidden"
    assert connections.subscribers("alerts:tenant-z") == set()


def test_a_training_job_is_scoped_to_the_callers_tenant(connections: Connections) -> None:
    topic = connections.subscribe("conn-1", Request("subscribe", "training", job_id="job-7"))

    assert topic == "training:tenant-a:job-7"


def test_another_tenants_training_job_is_forbidden(connections: Connections) -> None:
    request = Request("subscribe", "training", tenant_id="tenant-z", job_id="job-7")

    with pytest.raises(MessageError) as refused:
        connections.subscribe("conn-1", request)

    assert refused.value.code == "forbidden"


def test_a_token_without_an_active_tenant_must_name_one(fake_redis: fakeredis.FakeRedis) -> None:
    registry = Connections(fake_redis, clock=lambda: 0.0)
    registry.register("conn-2", Identity("user-2", None, ("tenant-a",), (), "jti-2", 0, 1))

    with pytest.raises(MessageError) as refused:
        registry.subscribe("conn-2", ALERTS)

    assert refused.value.code == "bad-request"


def test_an_unknown_connection_cannot_subscribe(connections: Connections) -> None:
    with pytest.raises(MessageError) as refused:
        connections.subscribe("conn-unknown", ALERTS)

    assert refused.value.code == "not-connected"


def test_subscribing_twice_records_the_topic_once(
    connections: Connections, fake_redis: fakeredis.FakeRedis
) -> None:
    connections.subscribe("conn-1", ALERTS)
    connections.subscribe("conn-1", ALERTS)

    recorded = fake_redis.hget(redis_keyspace.ws_connection_key("conn-1"), "subscriptions")

    assert json.loads(str(recorded)) == ["alerts:tenant-a"]


def test_a_connection_has_a_bounded_number_of_subscriptions(connections: Connections) -> None:
    for job in range(MAX_SUBSCRIPTIONS):
        connections.subscribe("conn-1", Request("subscribe", "training", job_id=f"job-{job}"))

    with pytest.raises(MessageError) as refused:
        connections.subscribe("conn-1", ALERTS)

    assert refused.value.code == "too-many-subscriptions"


def test_unsubscribing_leaves_the_topic(connections: Connections) -> None:
    connections.subscribe("conn-1", ALERTS)

    connections.unsubscribe("conn-1", Request("unsubscribe", "alerts"))

    assert connections.subscribers("alerts:tenant-a") == set()


def test_removing_a_connection_takes_it_out_of_every_topic_and_no_other(
    connections: Connections, fake_redis: fakeredis.FakeRedis
) -> None:
    connections.register("conn-2", USER)
    for connection_id in ("conn-1", "conn-2"):
        connections.subscribe(connection_id, ALERTS)
        connections.subscribe(connection_id, Request("subscribe", "training", job_id="job-7"))

    connections.remove("conn-1")

    assert connections.subscribers("alerts:tenant-a") == {"conn-2"}
    assert connections.subscribers("training:tenant-a:job-7") == {"conn-2"}
    assert not fake_redis.exists(redis_keyspace.ws_connection_key("conn-1"))


def test_removing_an_unknown_connection_is_a_no_op(connections: Connections) -> None:
    connections.remove("conn-unknown")

    assert connections.subscribers("alerts:tenant-a") == set()


def test_redis_down_is_reported_as_unavailable() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    registry = Connections(fakeredis.FakeRedis(server=server, decode_responses=True))

    with pytest.raises(RedisUnavailableError):
        registry.register("conn-1", USER)


# --- the identity in a WebSocket event's authorizer context ------------------------------------
STRING_CONTEXT = {
    "principalId": "user-1",
    "authenticated": "true",
    "user_id": "user-1",
    "tenant_id": "tenant-a",
    "tenant_ids": '["tenant-a", "tenant-b"]',
    "roles": '["owner"]',
    "jti": "jti-1",
    "iat": "1710000000",
    "exp": "1710003600",
    "is_demo": "false",
}


def test_an_all_strings_context_gives_the_identity() -> None:
    assert identity_from_authorizer(STRING_CONTEXT) == USER


def test_a_typed_context_under_lambda_gives_the_same_identity() -> None:
    assert identity_from_authorizer({"lambda": USER.to_context()}) == USER


@pytest.mark.parametrize(
    "authorizer",
    [
        None,
        "user-1",
        {},
        {**STRING_CONTEXT, "authenticated": "false"},
        {"authenticated": False, "reason": "token expired"},
        {key: value for key, value in STRING_CONTEXT.items() if key != "user_id"},
        {**STRING_CONTEXT, "exp": "soon"},
    ],
)
def test_anything_but_an_authenticated_context_is_refused(authorizer: object) -> None:
    with pytest.raises(NotAuthenticatedError):
        identity_from_authorizer(authorizer)


def test_connections_whose_token_expired_are_ended(fake_redis: fakeredis.FakeRedis) -> None:
    Connections(fake_redis, clock=lambda: 1710000000.0).register("conn-1", USER)
    later = Connections(fake_redis, clock=lambda: 1710003600.0)

    assert later.ended(["conn-1"]) == {"conn-1": "token-expired"}


def test_connections_whose_token_was_revoked_are_ended(
    connections: Connections, fake_redis: fakeredis.FakeRedis
) -> None:
    fake_redis.set(redis_keyspace.revoked_key("jti-1"), "1")

    assert connections.ended(["conn-1"]) == {"conn-1": "token-revoked"}


def test_a_demo_connection_ends_with_its_session(fake_redis: fakeredis.FakeRedis) -> None:
    demo = dataclasses.replace(USER, demo_session_id="demo-1", demo_expires_at=1710001000)
    Connections(fake_redis, clock=lambda: 1710000000.0).register("conn-demo", demo)

    assert Connections(fake_redis, clock=lambda: 1710001000.0).ended(["conn-demo"]) == {
        "conn-demo": "token-expired"
    }


def test_live_and_unknown_connections_are_not_ended(connections: Connections) -> None:
    assert connections.ended(["conn-1", "never-registered"]) == {}

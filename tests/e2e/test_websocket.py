"""The WebSocket API over real sockets through the local runtime: subscriptions, delivery of alerts by
the fanout function (and by the runtime's alert subscriber, for a raw PUBLISH) through the runtime's
own @connections, and 410 Gone cleaning up."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
import redis
from botocore.exceptions import ClientError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bakery_gateway.clients import redis_keyspace
from bakery_local.alert_client import new_alert, publish
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import new_paying_tenant
from tests.e2e.runtime import RunningGateway

RECEIVE_SECONDS = 10.0


def ws_url(gateway: RunningGateway, token: str) -> str:
    return gateway.url.replace("http://", "ws://") + f"/api/v1/training/ws?token={token}"


def receive(socket: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(socket.recv(timeout=RECEIVE_SECONDS)))


@pytest.fixture
def subscribed(gateway: RunningGateway, dev_keys: DevKeyPair, tenant: str) -> Iterator[ClientConnection]:
    """A client of ``tenant`` subscribed to its alerts."""
    token = dev_keys.mint(user_id="user-1", tenant_id=tenant, tenant_ids=[tenant])
    with connect(ws_url(gateway, token), open_timeout=RECEIVE_SECONDS) as socket:
        socket.send(json.dumps({"action": "subscribe", "topic": "alerts"}))
        assert receive(socket) == {"type": "ok", "action": "subscribe", "topic": f"alerts:{tenant}"}
        yield socket


def test_a_subscriber_receives_its_tenants_alert(
    gateway: RunningGateway, subscribed: ClientConnection, tenant: str
) -> None:
    stream_id = publish(gateway.url, new_alert(tenant, "high", "Oven 2 is cold"))

    message = receive(subscribed)

    assert (message["type"], message["stream_id"]) == ("alert", stream_id)
    assert message["alert"]["message"] == "Oven 2 is cold"


def test_a_subscriber_does_not_receive_another_tenants_alert(
    gateway: RunningGateway, subscribed: ClientConnection, tenant: str, client: redis.Redis
) -> None:
    publish(gateway.url, new_alert(new_paying_tenant(client), "high", "not yours"))
    publish(gateway.url, new_alert(tenant, "low", "yours"))

    assert receive(subscribed)["alert"]["message"] == "yours"


def test_a_raw_publish_on_the_tenants_channel_reaches_its_subscriber(
    subscribed: ClientConnection, tenant: str, client: redis.Redis
) -> None:
    alert = new_alert(tenant, "critical", "Published by a service that only knows the channel")

    client.publish(redis_keyspace.alert_channel(tenant), json.dumps(alert))

    message = receive(subscribed)
    entries = client.xrange(redis_keyspace.alert_stream_key(tenant))
    ((stream_id, _),) = cast(list[tuple[str, dict[str, str]]], entries)
    assert (message["type"], message["stream_id"]) == ("alert", stream_id)
    assert message["alert"]["alert_id"] == alert["alert_id"]
    assert message["alert"]["message"] == alert["message"]


def test_an_alert_both_ingested_and_published_raw_arrives_once(
    gateway: RunningGateway, subscribed: ClientConnection, tenant: str, client: redis.Redis
) -> None:
    alert = new_alert(tenant, "high", "Said twice")
    publish(gateway.url, alert)  # stored, published and posted by the fanout function
    client.publish(redis_keyspace.alert_channel(tenant), json.dumps(alert))  # and by a raw producer

    assert receive(subscribed)["alert"]["alert_id"] == alert["alert_id"]
    with pytest.raises(TimeoutError):
        subscribed.recv(timeout=1.0)


def subscribers_of(client: redis.Redis, tenant: str) -> set[str]:
    return {
        str(member)
        for member in client.smembers(redis_keyspace.ws_subscribers_key(redis_keyspace.alerts_topic(tenant)))
    }


def is_live(gateway: RunningGateway, connection_id: str) -> bool:
    try:
        management_client(gateway).get_connection(ConnectionId=connection_id)
    except ClientError as error:
        if error.response["Error"]["Code"] == "GoneException":
            return False
        raise
    return True


def test_a_connection_that_went_away_is_removed_when_a_post_to_it_is_gone(
    gateway: RunningGateway, subscribed: ClientConnection, tenant: str, client: redis.Redis
) -> None:
    gone = "GoneAway0000000="  # subscribed, then vanished without $disconnect
    client.sadd(redis_keyspace.ws_subscribers_key(redis_keyspace.alerts_topic(tenant)), gone)

    publish(gateway.url, new_alert(tenant, "high", "anyone there?"))
    receive(subscribed)

    remaining = subscribers_of(client, tenant)
    assert gone not in remaining
    assert [is_live(gateway, member) for member in remaining] == [True]


def management_client(gateway: RunningGateway) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.url,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_boto3_gets_gone_exception_for_an_unknown_connection(gateway: RunningGateway) -> None:
    with pytest.raises(ClientError) as raised:
        management_client(gateway).post_to_connection(ConnectionId="Unknown0000000A=", Data=b"{}")

    assert raised.value.response["Error"]["Code"] == "GoneException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_boto3_describes_a_live_connection(
    gateway: RunningGateway, subscribed: ClientConnection, tenant: str, client: redis.Redis
) -> None:
    (connection_id,) = subscribers_of(client, tenant)

    described = management_client(gateway).get_connection(ConnectionId=connection_id)

    assert described["Identity"]["SourceIp"] == "127.0.0.1"
    assert described["ConnectedAt"] <= described["LastActiveAt"]


def test_a_handshake_without_a_token_is_refused_401(gateway: RunningGateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(gateway.url.replace("http://", "ws://") + "/ws", open_timeout=RECEIVE_SECONDS)

    assert refused.value.response.status_code == 401


def test_a_refused_handshake_is_not_logged_as_an_error(gateway: RunningGateway) -> None:
    with pytest.raises(InvalidStatus):
        connect(gateway.url.replace("http://", "ws://") + "/ws", open_timeout=RECEIVE_SECONDS)
    time.sleep(0.5)  # the server logs, if it does, as its handler returns: just after the answer left

    assert "without completing handshake" not in gateway.log()

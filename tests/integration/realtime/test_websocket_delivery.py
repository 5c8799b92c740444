"""The WebSocket side with real Redis: the authorizer and WebSocket functions cold-started from their
modules, and the fanout function posting, signed, to the local runtime's real ``@connections``
endpoint over HTTP (``tests.support.connections_server``), which answers 410 for a gone connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from bakery_gateway import constants as names
from bakery_gateway.api.identity import Identity
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.aws_signing import Credentials
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.delivery import Delivery
from bakery_gateway.realtime.websocket.management_api import ConnectionsClient
from bakery_gateway.realtime.websocket.messages import Request
from bakery_local.dev_tokens import DevKeyPair
from tests.support.connections_server import ConnectionsServer
from tests.support.events import (
    FANOUT_DIRECT,
    WEBSOCKET_AUTHORIZER_REQUEST,
    WEBSOCKET_CONNECT,
    WEBSOCKET_MESSAGE,
    load_recording,
)
from tests.support.lambda_runtime import AUTHORIZER_MODULE, LambdaRuntime

WEBSOCKET_MODULE = "bakery_functions.websocket.app"
FANOUT_MODULE = "bakery_functions.fanout.app"
# Placeholder credentials, as Lambda's environment (and the local runtime) provides them.
AWS_ENVIRONMENT = {
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "AKIDLOCAL",
    "AWS_SECRET_ACCESS_KEY": "local-secret",
    "AWS_SESSION_TOKEN": "local-token",
}
CREDENTIALS = Credentials("AKIDLOCAL", "local-secret")
TENANT = "tenant-recorded"  # the recorded alert's tenant
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def start(lambda_runtime: LambdaRuntime, module: str, environ: dict[str, str]) -> Handler:
    handler: Handler = lambda_runtime.cold_start(module, environ).handler
    return handler


def connect(websocket: Handler, connection_id: str, tenant_id: str) -> None:
    event = load_recording(WEBSOCKET_CONNECT)
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"].update(
        # A token still valid now: the recording's expired long ago.
        {"tenant_id": tenant_id, "tenant_ids": json.dumps([tenant_id]), "exp": str(int(time.time()) + 3600)}
    )
    assert websocket(event, LambdaContext()) == {"statusCode": 200}


def send(websocket: Handler, connection_id: str, body: str) -> dict[str, Any]:
    event = load_recording(WEBSOCKET_MESSAGE)
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = body
    answer: dict[str, Any] = json.loads(websocket(event, LambdaContext())["body"])
    return answer


@pytest.fixture
def management() -> Iterator[ConnectionsServer]:
    with ConnectionsServer() as server:
        yield server


def start_fanout(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], management: ConnectionsServer
) -> Handler:
    environ = {
        **gateway_environment,
        **AWS_ENVIRONMENT,
        names.WEBSOCKET_MANAGEMENT_URL: f"{management.url}/live",  # with a stage, as in AWS
    }
    return start(lambda_runtime, FANOUT_MODULE, environ)


def subscribed(
    websocket: Handler, management: ConnectionsServer, connection_id: str, tenant_id: str, message: str
) -> None:
    """A connection open at the management API, connected as ``tenant_id`` and subscribed by ``message``."""
    management.open(connection_id)
    connect(websocket, connection_id, tenant_id)
    send(websocket, connection_id, message)


def received(management: ConnectionsServer, connection_id: str) -> list[dict[str, Any]]:
    return [json.loads(message) for message in management.received.get(connection_id, [])]


def test_the_authorizer_function_allows_a_connect_with_a_valid_query_token(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], dev_keys: DevKeyPair
) -> None:
    authorizer = start(lambda_runtime, AUTHORIZER_MODULE, gateway_environment)
    event = load_recording(WEBSOCKET_AUTHORIZER_REQUEST)
    event["queryStringParameters"] = {"token": dev_keys.mint(user_id="user-1", tenant_id=TENANT)}

    answer = authorizer(event, LambdaContext())

    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert answer["context"]["tenant_id"] == TENANT


def test_a_subscription_is_recorded_in_redis(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], redis_client: redis.Redis
) -> None:
    websocket = start(lambda_runtime, WEBSOCKET_MODULE, gateway_environment)
    connect(websocket, "conn-1", TENANT)

    answer = send(websocket, "conn-1", '{"action":"subscribe","topic":"alerts"}')

    assert answer == {"type": "ok", "action": "subscribe", "topic": f"alerts:{TENANT}"}
    assert redis_client.smembers(redis_keyspace.ws_subscribers_key(f"alerts:{TENANT}")) == {"conn-1"}


def test_an_alert_reaches_its_tenants_subscribers_through_the_management_api(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], management: ConnectionsServer
) -> None:
    websocket = start(lambda_runtime, WEBSOCKET_MODULE, gateway_environment)
    for connection_id, tenant_id in (("L0SM9cOFvHcCIhw=", TENANT), ("Other/0FvHc+Ihw=", "tenant-other")):
        subscribed(websocket, management, connection_id, tenant_id, '{"action":"subscribe","topic":"alerts"}')
    fanout = start_fanout(lambda_runtime, gateway_environment, management)

    summary = fanout(load_recording(FANOUT_DIRECT), LambdaContext())

    (message,) = received(management, "L0SM9cOFvHcCIhw=")
    assert message["stream_id"] == next(iter(summary["stream_ids"].values()))
    assert received(management, "Other/0FvHc+Ihw=") == []


def test_posts_are_signed_with_the_functions_credentials(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], management: ConnectionsServer
) -> None:
    websocket = start(lambda_runtime, WEBSOCKET_MODULE, gateway_environment)
    subscribed(websocket, management, "conn-1", TENANT, '{"action":"subscribe","topic":"alerts"}')
    fanout = start_fanout(lambda_runtime, gateway_environment, management)

    fanout(load_recording(FANOUT_DIRECT), LambdaContext())

    (authorization,) = management.authorizations
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDLOCAL/")
    assert "/eu-west-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token," in (
        authorization
    )


def test_training_progress_reaches_the_jobs_subscribers_through_the_management_api(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], management: ConnectionsServer
) -> None:
    websocket = start(lambda_runtime, WEBSOCKET_MODULE, gateway_environment)
    subscribed(
        websocket, management, "conn-1", TENANT, '{"action":"subscribe","topic":"training","job_id":"job-7"}'
    )
    fanout = start_fanout(lambda_runtime, gateway_environment, management)

    report = fanout(
        {"training_progress": {"tenant_id": TENANT, "job_id": "job-7", "progress": 55}}, LambdaContext()
    )

    assert report["delivered"] == 1
    assert received(management, "conn-1")[0]["data"]["progress"] == 55


def register(connections: Connections, *connection_ids: str, jti: str = "jti-1") -> None:
    for connection_id in connection_ids:
        identity = Identity("user-1", TENANT, (TENANT,), (), jti, int(time.time()), int(time.time()) + 3600)
        connections.register(connection_id, identity)
        connections.subscribe(connection_id, Request("subscribe", "alerts"))


def client_of(management: ConnectionsServer) -> ConnectionsClient:
    return ConnectionsClient(f"{management.url}/live", region="eu-west-1", credentials=lambda: CREDENTIALS)


def test_a_gone_connection_answers_410_and_is_removed_from_redis_and_the_others_stay(
    redis_client: redis.Redis, management: ConnectionsServer
) -> None:
    connections = Connections(redis_client)
    register(connections, "Gone0cOFvHcCIhw=", "Live0cOFvHcCIhw=")
    management.open("Live0cOFvHcCIhw=")  # the other one went away without $disconnect

    report = Delivery(connections, client_of(management)).deliver(f"alerts:{TENANT}", {"type": "x"})

    assert (report.outcomes, connections.subscribers(f"alerts:{TENANT}")) == (
        {"gone": 1, "delivered": 1},
        {"Live0cOFvHcCIhw="},
    )
    assert not redis_client.exists(redis_keyspace.ws_connection_key("Gone0cOFvHcCIhw="))


def test_every_one_of_hundreds_of_connections_gets_each_alert_in_order(
    redis_client: redis.Redis, management: ConnectionsServer
) -> None:
    connections = Connections(redis_client)
    connection_ids = [f"conn-{number:04d}=" for number in range(300)]
    register(connections, *connection_ids)
    for connection_id in connection_ids:
        management.open(connection_id)
    delivery = Delivery(connections, client_of(management), concurrency=64)

    for number in range(3):
        delivery.deliver(f"alerts:{TENANT}", {"type": "alert", "stream_id": f"{number}-0"})

    assert {
        tuple(message["stream_id"] for message in received(management, connection_id))
        for connection_id in connection_ids
    } == {("0-0", "1-0", "2-0")}


def test_a_management_endpoint_that_is_down_fails_the_posts_and_keeps_the_connections(
    redis_client: redis.Redis, closed_port: int
) -> None:
    connections = Connections(redis_client)
    register(connections, "conn-1")
    api = ConnectionsClient(
        f"http://127.0.0.1:{closed_port}", region="eu-west-1", credentials=lambda: CREDENTIALS
    )

    report = Delivery(connections, api).deliver(f"alerts:{TENANT}", {"type": "x"})

    assert (report.outcomes, connections.subscribers(f"alerts:{TENANT}")) == ({"failed": 1}, {"conn-1"})


def test_a_connection_whose_token_was_revoked_is_told_and_closed_instead_of_posted_to(
    redis_client: redis.Redis, management: ConnectionsServer
) -> None:
    connections = Connections(redis_client)
    register(connections, "Kept0cOFvHcCIhw=")
    register(connections, "Out00cOFvHcCIhw=", jti="logged-out")
    management.open("Kept0cOFvHcCIhw=", "Out00cOFvHcCIhw=")
    redis_client.set(redis_keyspace.revoked_key("logged-out"), "1", ex=60)

    report = Delivery(connections, client_of(management)).deliver(f"alerts:{TENANT}", {"type": "alert"})

    assert report.outcomes == {"closed": 1, "delivered": 1}
    assert received(management, "Out00cOFvHcCIhw=") == [{"type": "closing", "reason": "token-revoked"}]
    assert management.is_closed("Out00cOFvHcCIhw=")
    assert connections.subscribers(f"alerts:{TENANT}") == {"Kept0cOFvHcCIhw="}

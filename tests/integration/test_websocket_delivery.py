"""The WebSocket side with real Redis: the authorizer and WebSocket functions cold-started from their
modules, and the fanout function posting through boto3 to moto's @connections API.

moto answers every post with 200 (it never raises GoneException), so the 410 path is checked here with
the fake client over real Redis, and over real sockets by the local runtime's end-to-end tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from bakery_gateway import constants as names
from bakery_gateway import redis_keys
from bakery_gateway.identity import Identity
from bakery_gateway.websocket.connections import Connections
from bakery_gateway.websocket.delivery import Delivery
from bakery_gateway.websocket.messages import Request
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import (
    FANOUT_DIRECT,
    WEBSOCKET_AUTHORIZER_REQUEST,
    WEBSOCKET_CONNECT,
    WEBSOCKET_MESSAGE,
    load_recording,
)
from tests.support.lambda_runtime import AUTHORIZER_MODULE, LambdaContext, LambdaRuntime
from tests.support.websocket import FakeManagementApi, gone

WEBSOCKET_MODULE = "bakery_functions.websocket.app"
FANOUT_MODULE = "bakery_functions.fanout.app"
MANAGEMENT_URL = "https://w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com/live"
TENANT = "tenant-recorded"  # the recorded alert's tenant
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def start(lambda_runtime: LambdaRuntime, module: str, environ: dict[str, str]) -> Handler:
    handler: Handler = lambda_runtime.cold_start(module, environ).handler
    return handler


def connect(websocket: Handler, connection_id: str, tenant_id: str) -> None:
    event = load_recording(WEBSOCKET_CONNECT)
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"].update(
        {"tenant_id": tenant_id, "tenant_ids": json.dumps([tenant_id])}
    )
    assert websocket(event, LambdaContext()) == {"statusCode": 200}


def send(websocket: Handler, connection_id: str, body: str) -> dict[str, Any]:
    event = load_recording(WEBSOCKET_MESSAGE)
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = body
    answer: dict[str, Any] = json.loads(websocket(event, LambdaContext())["body"])
    return answer


def moto_received(connection_id: str) -> list[dict[str, Any]]:
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"]
    data = backend.connections[connection_id].data
    return [json.loads(data)] if data else []


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
    assert redis_client.smembers(redis_keys.ws_subscribers_key(f"alerts:{TENANT}")) == {"conn-1"}


@pytest.mark.usefixtures("aws")
def test_an_alert_reaches_its_tenants_subscribers_through_the_management_api(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]
) -> None:
    websocket = start(lambda_runtime, WEBSOCKET_MODULE, gateway_environment)
    for connection_id, tenant_id in (("conn-1", TENANT), ("conn-2", "tenant-other")):
        connect(websocket, connection_id, tenant_id)
        send(websocket, connection_id, '{"action":"subscribe","topic":"alerts"}')
    fanout = start(
        lambda_runtime, FANOUT_MODULE, {**gateway_environment, names.WEBSOCKET_MANAGEMENT_URL: MANAGEMENT_URL}
    )

    summary = fanout(load_recording(FANOUT_DIRECT), LambdaContext())

    (message,) = moto_received("conn-1")
    assert message["stream_id"] == next(iter(summary["stream_ids"].values()))
    assert moto_received("conn-2") == []


@pytest.mark.usefixtures("aws")
def test_training_progress_reaches_the_jobs_subscribers_through_the_management_api(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]
) -> None:
    websocket = start(lambda_runtime, WEBSOCKET_MODULE, gateway_environment)
    connect(websocket, "conn-1", TENANT)
    send(websocket, "conn-1", '{"action":"subscribe","topic":"training","job_id":"job-7"}')
    fanout = start(
        lambda_runtime, FANOUT_MODULE, {**gateway_environment, names.WEBSOCKET_MANAGEMENT_URL: MANAGEMENT_URL}
    )

    report = fanout(
        {"training_progress": {"tenant_id": TENANT, "job_id": "job-7", "progress": 55}}, LambdaContext()
    )

    assert report["delivered"] == 1
    assert moto_received("conn-1")[0]["data"]["progress"] == 55


def test_a_gone_connection_is_removed_from_redis_and_the_others_stay(redis_client: redis.Redis) -> None:
    connections = Connections(redis_client)
    for connection_id in ("conn-1", "conn-2"):
        connections.register(connection_id, Identity("user-1", TENANT, (TENANT,), (), "jti-1", 0, 1))
        connections.subscribe(connection_id, Request("subscribe", "alerts"))

    Delivery(connections, FakeManagementApi({"conn-1": [gone()]})).deliver(f"alerts:{TENANT}", {"type": "x"})

    assert connections.subscribers(f"alerts:{TENANT}") == {"conn-2"}
    assert not redis_client.exists(redis_keys.ws_connection_key("conn-1"))

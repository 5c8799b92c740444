"""Every policy check of a request costs one Redis round trip: counted with MONITOR on a private Redis."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse
from tests.support.redis_server import RedisProcess

SENTINEL = "end-of-request"


def commands_sent_by(server: RedisProcess, send: Callable[[], ProxyResponse]) -> tuple[int, list[str]]:
    """The status of ``send``'s response, and the commands the gateway sent to Redis meanwhile
    (not those its script ran inside Redis)."""
    client = server.endpoint().client()
    marker = server.endpoint().client()
    marker.ping()  # connect now: its handshake must not show up below
    try:
        with client.monitor() as monitor:  # type: ignore[no-untyped-call]
            response = send()
            marker.echo(SENTINEL)
            commands: list[dict[str, Any]] = []
            while (command := monitor.next_command())["command"] != f"ECHO {SENTINEL}":
                commands.append(command)
    finally:
        marker.close()
        client.close()
    return response.status, [
        c["command"].split(" ", 1)[0].upper() for c in commands if c["client_type"] != "lua"
    ]


@pytest.fixture
def gateway(start_private_gateway: GatewayStarter) -> LambdaGateway:
    return start_private_gateway()


def test_a_request_with_a_token_and_a_tenant_sends_one_command_to_redis(
    gateway: LambdaGateway, private_redis: RedisProcess, dev_keys: DevKeyPair
) -> None:
    context = gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a"))
    gateway.request("GET", "/api/v1/sales/orders", context=context)  # warm: connection, script loaded

    sent = commands_sent_by(
        private_redis, lambda: gateway.request("GET", "/api/v1/sales/orders", context=context)
    )

    assert sent == (200, ["EVALSHA"])


def test_a_write_by_a_read_only_tenant_is_refused_after_one_command(
    gateway: LambdaGateway, private_redis: RedisProcess, dev_keys: DevKeyPair
) -> None:
    context = gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a"))
    gateway.request("GET", "/api/v1/sales/orders", context=context)
    client = private_redis.endpoint().client()
    client.hset(redis_keyspace.read_only_key("tenant-a"), "reason", "audit")
    client.close()

    sent = commands_sent_by(
        private_redis, lambda: gateway.request("POST", "/api/v1/orders/", context=context, body="{}")
    )

    assert sent == (403, ["EVALSHA"])


def test_a_request_refused_before_the_policies_sends_one_command_to_redis(
    gateway: LambdaGateway, private_redis: RedisProcess, dev_keys: DevKeyPair
) -> None:
    # Another tenant's path: refused (403) before the policies, and its budget spent all the same.
    context = gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a"))
    gateway.request("GET", "/api/v1/sales/orders", context=context)

    sent = commands_sent_by(
        private_redis, lambda: gateway.request("GET", "/api/v1/tenants/tenant-b/orders", context=context)
    )

    assert sent == (403, ["EVALSHA"])


def test_a_login_sends_one_command_to_redis(gateway: LambdaGateway, private_redis: RedisProcess) -> None:
    body = json.dumps({"email": "ana@example.com", "password": "x"})
    gateway.request("POST", "/api/v1/auth/login", body=body)

    sent = commands_sent_by(private_redis, lambda: gateway.request("POST", "/api/v1/auth/login", body=body))

    assert sent == (200, ["EVALSHA"])


def test_a_logout_revokes_its_token_in_its_one_command(
    gateway: LambdaGateway, private_redis: RedisProcess, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    context = gateway.context_for(token)
    gateway.request("GET", "/api/v1/sales/orders", context=context)

    sent = commands_sent_by(
        private_redis, lambda: gateway.request("POST", "/api/v1/auth/logout", token=token, context=context)
    )

    assert sent == (200, ["EVALSHA"])
    client = private_redis.endpoint().client()
    assert client.exists(redis_keyspace.revoked_key(str(context["jti"])))
    assert not client.exists(redis_keyspace.claims_cache_key(token))
    client.close()

"""Requests in flight together on one event loop (``bakery-gateway serve``): their policy calls share
one pipelined Redis connection, one script call each, and each still gets its own tenant's and
token's decision. The proxy is built and called as ``serve`` builds and calls it (``ProxyFunction``,
``ProxyHandler.answer``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import redis

from bakery_gateway.api.request import Request
from bakery_gateway.assembly.proxy import ProxyFunction
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.edge.lambda_event import request_from_event
from bakery_gateway.edge.lambda_http import Answer
from bakery_gateway.settings import Settings
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import new_paying_tenant
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import function_event
from tests.support.lambda_runtime import LambdaRuntime

PATH = "/api/v1/sales/orders"
ROUNDS = 40  # requests of each kind, interleaved
EXPECTED = {"writable": 200, "read-only": 403, "revoked": 401}


@dataclass
class Burst:
    """Requests of every kind, interleaved, and a proxy built as ``serve`` builds it."""

    kinds: list[str]
    requests: list[Request]
    run: LambdaRuntime
    proxy: ProxyFunction

    def answers(self) -> list[Answer]:
        async def all_at_once() -> list[Answer]:
            calls = (self.proxy.handler.answer(request, LambdaContext()) for request in self.requests)
            return list(await asyncio.gather(*calls))

        return self.run.loop.run_until_complete(all_at_once())


@pytest.fixture
def burst(
    start_gateway: GatewayStarter,
    lambda_runtime: LambdaRuntime,
    redis_client: redis.Redis,
    dev_keys: DevKeyPair,
) -> Burst:
    gateway = start_gateway()
    writable, read_only = new_paying_tenant(redis_client), new_paying_tenant(redis_client)
    redis_client.hset(redis_keyspace.read_only_key(read_only), "reason", "chargeback")
    contexts = {
        "writable": gateway.context_for(dev_keys.mint(user_id="user-writable", tenant_id=writable)),
        "read-only": gateway.context_for(dev_keys.mint(user_id="user-read-only", tenant_id=read_only)),
        "revoked": gateway.context_for(dev_keys.mint(user_id="user-revoked", tenant_id=writable)),
    }
    redis_client.set(redis_keyspace.revoked_key(str(contexts["revoked"]["jti"])), "1")
    kinds = [kind for _ in range(ROUNDS) for kind in EXPECTED]
    requests = [
        request_from_event(function_event("POST", PATH, context=contexts[kind], body="{}")) for kind in kinds
    ]
    return Burst(kinds, requests, lambda_runtime, ProxyFunction.from_settings(Settings.from_environ()))


def test_concurrent_requests_on_one_loop_each_get_their_own_decision(burst: Burst) -> None:
    answers = burst.answers()

    assert [status for status, _, _ in answers] == [EXPECTED[kind] for kind in burst.kinds]


def test_concurrent_requests_on_one_loop_share_one_connection_with_one_script_call_each(
    burst: Burst, redis_client: redis.Redis
) -> None:
    redis_client.config_resetstat()
    connections_before = redis_client.info("stats")["total_connections_received"]

    burst.answers()

    assert redis_client.info("stats")["total_connections_received"] - connections_before == 1
    evalsha = redis_client.info("commandstats")["cmdstat_evalsha"]
    assert evalsha["calls"] - evalsha.get("failed_calls", 0) == len(burst.requests)


def test_a_burst_on_a_server_without_the_script_shares_one_script_load(
    burst: Burst, redis_client: redis.Redis
) -> None:
    redis_client.script_flush()  # as a new or failed-over server: every request meets NOSCRIPT
    redis_client.config_resetstat()

    answers = burst.answers()

    assert [status for status, _, _ in answers] == [EXPECTED[kind] for kind in burst.kinds]
    assert redis_client.info("commandstats")["cmdstat_script|load"]["calls"] == 1

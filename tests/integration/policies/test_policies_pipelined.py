"""Requests in flight together on one event loop (``bakery-gateway serve``): their policy calls share
one pipelined Redis connection, and each still gets its own tenant's and token's decision. The proxy
is built and called as ``serve`` builds and calls it (``ProxyFunction``, ``ProxyHandler.answer``)."""

from __future__ import annotations

import asyncio

import redis

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


def test_concurrent_requests_on_one_loop_each_get_their_own_decision(
    start_gateway: GatewayStarter,
    lambda_runtime: LambdaRuntime,
    redis_client: redis.Redis,
    dev_keys: DevKeyPair,
) -> None:
    gateway = start_gateway()
    writable, read_only = new_paying_tenant(redis_client), new_paying_tenant(redis_client)
    redis_client.hset(redis_keyspace.read_only_key(read_only), "reason", "chargeback")
    contexts = {
        "writable": gateway.context_for(dev_keys.mint(user_id="user-writable", tenant_id=writable)),
        "read-only": gateway.context_for(dev_keys.mint(user_id="user-read-only", tenant_id=read_only)),
        "revoked": gateway.context_for(dev_keys.mint(user_id="user-revoked", tenant_id=writable)),
    }
    redis_client.set(redis_keyspace.revoked_key(str(contexts["revoked"]["jti"])), "1")
    expected = {"writable": 200, "read-only": 403, "revoked": 401}
    kinds = [kind for _ in range(ROUNDS) for kind in expected]
    requests = [
        request_from_event(function_event("POST", PATH, context=contexts[kind], body="{}")) for kind in kinds
    ]
    proxy = ProxyFunction.from_settings(Settings.from_environ()).handler

    async def all_at_once() -> list[Answer]:
        return list(await asyncio.gather(*(proxy.answer(request, LambdaContext()) for request in requests)))

    answers = lambda_runtime.loop.run_until_complete(all_at_once())

    assert [status for status, _, _ in answers] == [expected[kind] for kind in kinds]

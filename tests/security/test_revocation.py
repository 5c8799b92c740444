"""Revocation never fails open, and a logout always lands (docs/security.md, "Revocation").

A token is logged out, or an operator revokes an API key; then Redis stops, hangs or restarts
empty, or the caller's budgets are drained by someone holding the same token. Whatever happens, no
write with the revoked credential reaches a service. Every case goes through the real handlers
(authorizer, proxy, policy function) with the verdict API Gateway would keep in its cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.authentication.test_api_keys import KEYS, create_key
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.redis_server import RedisProcess
from tests.support.stub_service import StubService

PATH = "/api/v1/orders/"
LOGOUT = "/api/v1/auth/logout"
# Short where Redis is frozen on purpose (each such request waits it out); patient elsewhere: on a
# loaded machine a first script load can take longer than the default 0.5 s, and a request decided
# without Redis would not spend the budget these tests count.
REDIS_TIMEOUT = "1"
PATIENT_REDIS_TIMEOUT = "5"
WRITES = ["POST", "PUT", "PATCH", "DELETE"]


def send(gateway: LambdaGateway, method: str, context: dict[str, Any], **options: Any) -> ProxyResponse:
    body = "{}" if method in ("POST", "PUT", "PATCH") else None
    return gateway.request(method, PATH, context=context, body=body, **options)


def break_redis(server: RedisProcess, how: str) -> Callable[[], object]:
    """Stop, freeze or restart (empty, nothing saved) ``server``; the function that undoes it."""
    if how == "stopped":
        server.stop()
        return server.start
    if how == "paused":
        server.pause()
        return server.resume
    server.stop()
    server.start()
    return lambda: None


@pytest.fixture
def private_gateway(start_private_gateway: GatewayStarter, stub_service: StubService) -> LambdaGateway:
    """The gateway on a Redis of the test's own, last known state kept a minute."""
    stub_service.reply(200, [("Content-Type", "application/json")], b'{"status": "active"}')
    return start_private_gateway(REDIS_TIMEOUT_SECONDS=REDIS_TIMEOUT, POLICY_STALE_SECONDS="60")


# --- a logout lands whatever the budgets say ---------------------------------------------------------
@pytest.mark.parametrize("budget", ["user", "tenant"])
def test_a_drained_budget_does_not_stop_a_logout_from_revoking_the_token(
    start_gateway: GatewayStarter, dev_keys: DevKeyPair, stub_service: StubService, budget: str
) -> None:
    # GIVEN a thief holding the owner's token (or a colleague's, for the shared tenant budget) who
    # keeps the budget drained
    gateway = start_gateway(
        REDIS_TIMEOUT_SECONDS=PATIENT_REDIS_TIMEOUT,
        RATE_LIMIT_REQUESTS="3" if budget == "user" else "100",
        RATE_LIMIT_TENANT_REQUESTS="3" if budget == "tenant" else "100",
        RATE_LIMIT_WINDOW_SECONDS="600",
        RATE_LIMIT_TENANT_WINDOW_SECONDS="600",
    )
    token = dev_keys.mint(user_id="owner", tenant_id="tenant-a")
    owner = gateway.context_for(token)
    thief = (
        owner if budget == "user" else gateway.context_for(dev_keys.mint(user_id="x", tenant_id="tenant-a"))
    )
    statuses = [send(gateway, "GET", thief).status for _ in range(4)]
    assert statuses[-1] == 429, statuses

    # WHEN the owner logs out
    response = gateway.request("POST", LOGOUT, token=token, context=owner)

    # THEN the logout passes to the auth service, and the token is refused from then on
    assert response.status == 200
    assert stub_service.last_request.path == "/auth-svc/api/v1/auth/logout"
    assert response.headers["ratelimit"]  # the drained budget is still reported
    assert_problem(send(gateway, "GET", owner), 401, "token-revoked")
    assert_problem(send(gateway, "POST", owner), 401, "token-revoked")


def test_a_logout_whose_auth_service_fails_has_revoked_the_token_all_the_same(
    gateway: LambdaGateway, dev_keys: DevKeyPair, stub_service: StubService
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    cached = gateway.context_for(token)
    stub_service.reply(503)

    assert gateway.request("POST", LOGOUT, token=token, context=cached).status == 503  # the service's

    assert_problem(gateway.request("POST", LOGOUT, token=token, context=cached), 401, "token-revoked")


# --- a revocation made by this container is never undone by what it remembers ------------------------
@pytest.mark.parametrize("redis", ["stopped", "paused", "restarted"])
@pytest.mark.parametrize("method", ["GET", *WRITES])
def test_a_token_logged_out_through_this_container_stays_refused_whatever_redis_does(
    private_gateway: LambdaGateway,
    private_redis: RedisProcess,
    dev_keys: DevKeyPair,
    stub_service: StubService,
    redis: str,
    method: str,
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    cached = private_gateway.context_for(token)  # API Gateway keeps this verdict for its TTL
    assert send(private_gateway, "GET", cached).status == 200  # the container has seen it valid
    assert private_gateway.request("POST", LOGOUT, token=token, context=cached).status == 200
    forwarded = len(stub_service.requests)

    undo = break_redis(private_redis, redis)
    try:
        response = send(private_gateway, method, cached)
    finally:
        undo()

    assert_problem(response, 401, "token-revoked")
    assert len(stub_service.requests) == forwarded


# --- a revocation this container did not see: writes wait for Redis ------------------------------------
@pytest.mark.parametrize("redis", ["stopped", "paused"])
@pytest.mark.parametrize("method", WRITES)
def test_a_write_with_a_token_revoked_by_another_container_gets_a_503_while_redis_cannot_answer(
    private_gateway: LambdaGateway,
    private_redis: RedisProcess,
    dev_keys: DevKeyPair,
    stub_service: StubService,
    redis: str,
    method: str,
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    cached = private_gateway.context_for(token)
    assert send(private_gateway, "GET", cached).status == 200  # remembered as not revoked
    other_container = private_redis.endpoint().client()  # its logout wrote the revocation
    other_container.set(redis_keyspace.revoked_key(str(cached["jti"])), "1", ex=600)
    other_container.close()
    forwarded = len(stub_service.requests)

    undo = break_redis(private_redis, redis)
    try:
        response = send(private_gateway, method, cached)
    finally:
        undo()

    assert_problem(response, 503, "state-unavailable")
    assert response.headers["retry-after"]
    assert len(stub_service.requests) == forwarded


@pytest.mark.parametrize("redis", ["stopped", "paused"])
def test_a_write_with_an_api_key_an_operator_revoked_gets_a_503_while_redis_cannot_answer(
    private_gateway: LambdaGateway,
    private_redis: RedisProcess,
    dev_keys: DevKeyPair,
    stub_service: StubService,
    redis: str,
) -> None:
    admin_token = dev_keys.mint(user_id="ops-1", roles=["platform_admin"])
    created = create_key(private_gateway, admin_token)
    credentials = {"authorization": f"ApiKey {created['key']}"}
    cached = private_gateway.authorize_credentials(credentials)
    path = "/api/v1/pos/sales"
    assert private_gateway.request("GET", path, context=cached, headers=credentials).status == 200
    revoked = private_gateway.request("DELETE", f"{KEYS}/{created['id']}", token=admin_token)
    assert revoked.status == 204  # through the policy function: another function than the proxy
    forwarded = len(stub_service.requests)

    undo = break_redis(private_redis, redis)
    try:
        response = private_gateway.request("POST", path, context=cached, headers=credentials, body="{}")
    finally:
        undo()

    assert_problem(response, 503, "state-unavailable")
    assert len(stub_service.requests) == forwarded

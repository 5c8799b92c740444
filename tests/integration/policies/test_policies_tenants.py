"""Tenant policies through the proxy handler, against a real Redis: subscription, read-only, tenant access."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.policies.subscription import SECONDS_PER_DAY, Subscription
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, assert_problem
from tests.support.stub_service import StubService

NEW_TENANT = "tenant-new"  # not one of the paying tenants: its subscription is not cached
SUBSCRIPTION_PATH = f"/tenants-svc/api/v1/tenants/{NEW_TENANT}/subscription"
WRITES = ["POST", "PUT", "PATCH", "DELETE"]
READS = ["GET", "HEAD", "OPTIONS"]


@pytest.fixture
def mint(dev_keys: DevKeyPair) -> Callable[..., str]:
    def mint(tenant_id: str = "tenant-a", tenant_ids: tuple[str, ...] | None = None) -> str:
        return dev_keys.mint(user_id="user-1", tenant_id=tenant_id, tenant_ids=tenant_ids or (tenant_id,))

    return mint


def subscribe(
    client: redis.Redis, tenant_id: str, status: str, *, period_end: float = 0, grace_days: int = 0
) -> None:
    key = redis_keyspace.subscription_key(tenant_id)
    client.delete(key)
    fields: dict[Any, Any] = Subscription(status, "professional", int(period_end), grace_days).to_hash()
    client.hset(key, mapping=fields)


def make_read_only(client: redis.Redis, tenant_id: str, reason: str = "data migration") -> None:
    client.hset(redis_keyspace.read_only_key(tenant_id), mapping={"reason": reason, "set_by": "ops"})


def subscription_lookups(stub: StubService) -> int:
    return sum(request.path == SUBSCRIPTION_PATH for request in stub.requests)


# --- subscription: cached, overridden ------------------------------------------------------------
@pytest.mark.parametrize("status", ["active", "trialing"])
def test_a_paying_tenant_is_served(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis, status: str
) -> None:
    subscribe(redis_client, "tenant-a", status, period_end=time.time() + SECONDS_PER_DAY)

    assert gateway.request("POST", "/api/v1/orders/", token=mint(), body="{}").status == 200


@pytest.mark.parametrize("status", ["cancelled", "none"])
def test_a_tenant_without_a_paying_subscription_gets_a_402_problem(
    gateway: LambdaGateway,
    mint: Callable[..., str],
    redis_client: redis.Redis,
    stub_service: StubService,
    status: str,
) -> None:
    subscribe(redis_client, "tenant-a", status)

    response = gateway.request("GET", "/api/v1/sales/orders", token=mint())

    problem = assert_problem(response, 402, "subscription-required")
    assert problem["subscription_status"] == status
    assert stub_service.requests == []


def test_a_402_carries_the_ratelimit_fields(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    subscribe(redis_client, "tenant-a", "cancelled")

    response = gateway.request("GET", "/api/v1/sales/orders", token=mint())

    assert response.status == 402
    assert response.headers["ratelimit-policy"].startswith('"user";q=300;w=60')
    assert response.headers["ratelimit"].startswith('"user";r=299;')


def test_within_grace_the_request_is_served_with_the_days_remaining(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    subscribe(
        redis_client, "tenant-a", "past_due", period_end=time.time() - 2 * SECONDS_PER_DAY, grace_days=7
    )

    response = gateway.request("GET", "/api/v1/sales/orders", token=mint())

    assert response.status == 200
    assert response.headers["x-subscription-grace-days-remaining"] == "5"


def test_a_paid_up_tenant_gets_no_grace_header(gateway: LambdaGateway, mint: Callable[..., str]) -> None:
    response = gateway.request("GET", "/api/v1/sales/orders", token=mint())

    assert "x-subscription-grace-days-remaining" not in response.headers


def test_past_grace_the_tenant_gets_a_402_problem(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    subscribe(
        redis_client, "tenant-a", "past_due", period_end=time.time() - 8 * SECONDS_PER_DAY, grace_days=7
    )

    assert_problem(gateway.request("GET", "/api/v1/sales/orders", token=mint()), 402, "subscription-required")


def test_an_operators_override_wins_over_the_cached_subscription(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    subscribe(redis_client, "tenant-a", "cancelled")
    redis_client.hset(redis_keyspace.subscription_override_key("tenant-a"), mapping={"status": "active"})

    assert gateway.request("GET", "/api/v1/sales/orders", token=mint()).status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/tenants/tenant-a/billing"),
        ("POST", "/api/v1/tenants/tenant-a/billing/checkout"),
        ("GET", "/api/v1/tenants/tenant-a/subscription"),
        ("PUT", "/api/v1/tenants/tenant-a/subscription/plan"),
    ],
)
def test_billing_and_subscription_routes_stay_open_without_a_subscription(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis, method: str, path: str
) -> None:
    subscribe(redis_client, "tenant-a", "cancelled")

    assert gateway.request(method, path, token=mint(), body="{}").status == 200


def test_configured_exempt_paths_replace_the_defaults(
    start_gateway: GatewayStarter, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    subscribe(redis_client, "tenant-a", "cancelled")
    gateway = start_gateway(POLICY_EXEMPT_PATHS="/api/v1/sales/status")

    assert gateway.request("GET", "/api/v1/sales/status", token=mint()).status == 200
    assert gateway.request("GET", "/api/v1/tenants/tenant-a/billing", token=mint()).status == 402


# --- subscription: the tenant service on a cache miss --------------------------------------------
def test_on_a_miss_the_tenant_service_is_asked_once_and_its_answer_cached(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService, redis_client: redis.Redis
) -> None:
    stub_service.reply(
        200, [("Content-Type", "application/json")], b'{"status": "active", "plan": "starter"}'
    )
    context = gateway.context_for(mint(NEW_TENANT))

    first = gateway.request("GET", "/api/v1/sales/orders", context=context)
    second = gateway.request("GET", "/api/v1/sales/orders", context=context)

    assert (first.status, second.status) == (200, 200)
    assert subscription_lookups(stub_service) == 1
    assert redis_client.hgetall(redis_keyspace.subscription_key(NEW_TENANT))["plan"] == "starter"


def test_the_tenant_service_is_asked_with_the_requests_id(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService
) -> None:
    stub_service.reply(200, [("Content-Type", "application/json")], b'{"status": "active"}')

    response = gateway.request("GET", "/api/v1/sales/orders", token=mint(NEW_TENANT))

    lookup = next(request for request in stub_service.requests if request.path == SUBSCRIPTION_PATH)
    assert lookup.header("x-request-id") == response.headers["x-request-id"]


def test_a_cached_answer_is_kept_for_subscription_cache_seconds(
    start_gateway: GatewayStarter,
    mint: Callable[..., str],
    stub_service: StubService,
    redis_client: redis.Redis,
) -> None:
    stub_service.reply(200, [("Content-Type", "application/json")], b'{"status": "active"}')
    gateway = start_gateway(SUBSCRIPTION_CACHE_SECONDS="42")

    gateway.request("GET", "/api/v1/sales/orders", token=mint(NEW_TENANT))

    assert 40 <= redis_client.ttl(redis_keyspace.subscription_key(NEW_TENANT)) <= 42


def test_a_404_from_the_tenant_service_is_a_402_remembered_for_a_minute(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService, redis_client: redis.Redis
) -> None:
    stub_service.reply(404)
    context = gateway.context_for(mint(NEW_TENANT))

    first = gateway.request("GET", "/api/v1/sales/orders", context=context)
    second = gateway.request("GET", "/api/v1/sales/orders", context=context)

    assert_problem(first, 402, "subscription-required")
    assert second.status == 402
    assert subscription_lookups(stub_service) == 1
    assert 55 <= redis_client.ttl(redis_keyspace.subscription_key(NEW_TENANT)) <= 60


@pytest.fixture
def gateway_without_tenant_service(start_gateway: GatewayStarter, closed_port: int) -> LambdaGateway:
    return start_gateway(TENANT_SERVICE_URL=f"http://127.0.0.1:{closed_port}")


@pytest.mark.parametrize("method", READS)
def test_with_the_tenant_service_unreachable_reads_of_an_unknown_tenant_pass(
    gateway_without_tenant_service: LambdaGateway, mint: Callable[..., str], method: str
) -> None:
    assert (
        gateway_without_tenant_service.request(method, "/api/v1/sales/orders", token=mint(NEW_TENANT)).status
        == 200
    )


@pytest.mark.parametrize("method", WRITES)
def test_with_the_tenant_service_unreachable_writes_of_an_unknown_tenant_get_a_503_problem(
    gateway_without_tenant_service: LambdaGateway,
    mint: Callable[..., str],
    stub_service: StubService,
    method: str,
) -> None:
    response = gateway_without_tenant_service.request(
        method, "/api/v1/sales/orders", token=mint(NEW_TENANT), body="{}"
    )

    assert_problem(response, 503, "state-unavailable")
    assert int(response.headers["retry-after"]) >= 1
    assert stub_service.requests == []


def test_with_the_tenant_service_unreachable_a_cached_tenant_is_unaffected(
    gateway_without_tenant_service: LambdaGateway, mint: Callable[..., str]
) -> None:
    assert (
        gateway_without_tenant_service.request("POST", "/api/v1/orders/", token=mint(), body="{}").status
        == 200
    )


# --- read-only -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", WRITES)
def test_a_read_only_tenant_gets_a_403_problem_naming_the_reason_for_writes(
    gateway: LambdaGateway,
    mint: Callable[..., str],
    redis_client: redis.Redis,
    stub_service: StubService,
    method: str,
) -> None:
    make_read_only(redis_client, "tenant-a", "data migration")

    response = gateway.request(method, "/api/v1/inventory/stock/1", token=mint(), body="{}")

    problem = assert_problem(response, 403, "tenant-read-only")
    assert problem["reason"] == "data migration"
    assert "data migration" in problem["detail"]
    assert stub_service.requests == []


@pytest.mark.parametrize("method", READS)
def test_a_read_only_tenant_may_still_read(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis, method: str
) -> None:
    make_read_only(redis_client, "tenant-a")

    assert gateway.request(method, "/api/v1/inventory/stock/1", token=mint()).status == 200


def test_a_read_only_403_carries_the_ratelimit_fields(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    make_read_only(redis_client, "tenant-a")

    response = gateway.request("POST", "/api/v1/orders/", token=mint(), body="{}")

    assert response.status == 403
    assert response.headers["ratelimit-policy"]
    assert response.headers["ratelimit"].startswith('"user";r=299;')


@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth/logout", "/api/v1/tenants/tenant-a/billing/checkout", "/api/v1/auth/change-password"],
)
def test_a_read_only_tenant_can_still_log_out_and_pay(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis, path: str
) -> None:
    make_read_only(redis_client, "tenant-a")

    assert gateway.request("POST", path, token=mint(), body="{}").status == 200


def test_lifting_read_only_lets_writes_through_on_the_next_request(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    make_read_only(redis_client, "tenant-a")
    context = gateway.context_for(mint())
    assert gateway.request("POST", "/api/v1/orders/", context=context, body="{}").status == 403

    redis_client.delete(redis_keyspace.read_only_key("tenant-a"))

    assert gateway.request("POST", "/api/v1/orders/", context=context, body="{}").status == 200


# --- tenant access -------------------------------------------------------------------------------
def test_a_tenant_in_the_path_that_the_token_does_not_list_is_a_403_problem(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService
) -> None:
    response = gateway.request("GET", "/api/v1/tenants/tenant-b/sales/orders", token=mint("tenant-a"))

    problem = assert_problem(response, 403, "tenant-forbidden")
    assert problem["tenant_id"] == "tenant-b"
    assert stub_service.requests == []


def test_an_x_tenant_id_that_the_token_does_not_list_is_a_403_problem(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService
) -> None:
    response = gateway.request(
        "GET", "/api/v1/sales/orders", token=mint("tenant-a"), headers={"x-tenant-id": "tenant-b"}
    )

    assert_problem(response, 403, "tenant-forbidden")
    assert stub_service.requests == []


def test_an_x_tenant_id_the_token_lists_is_carried_downstream(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService
) -> None:
    token = mint("tenant-a", ("tenant-a", "tenant-b"))

    gateway.request("GET", "/api/v1/sales/orders", token=token, headers={"x-tenant-id": "tenant-b"})

    assert stub_service.last_request.header_values("x-tenant-id") == ["tenant-b"]


def test_the_path_tenant_wins_over_x_tenant_id_downstream(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService
) -> None:
    token = mint("tenant-a", ("tenant-a", "tenant-b"))

    gateway.request(
        "GET", "/api/v1/tenants/tenant-b/sales/orders", token=token, headers={"x-tenant-id": "tenant-a"}
    )

    assert stub_service.last_request.header_values("x-tenant-id") == ["tenant-b"]


def test_without_a_choice_the_tokens_active_tenant_is_carried_downstream(
    gateway: LambdaGateway, mint: Callable[..., str], stub_service: StubService
) -> None:
    gateway.request("GET", "/api/v1/sales/orders", token=mint("tenant-a", ("tenant-a", "tenant-b")))

    assert stub_service.last_request.header_values("x-tenant-id") == ["tenant-a"]


def test_the_policies_of_the_chosen_tenant_apply(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    make_read_only(redis_client, "tenant-b", "chargeback")
    token = mint("tenant-a", ("tenant-a", "tenant-b"))

    response = gateway.request(
        "POST", "/api/v1/orders/", token=token, headers={"x-tenant-id": "tenant-b"}, body="{}"
    )

    assert assert_problem(response, 403, "tenant-read-only")["reason"] == "chargeback"


def test_a_chosen_tenants_subscription_applies_not_the_active_ones(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    subscribe(redis_client, "tenant-b", "cancelled")
    token = mint("tenant-a", ("tenant-a", "tenant-b"))

    response = gateway.request("GET", "/api/v1/tenants/tenant-b/sales/orders", token=token)

    assert response.status == 402
    assert json.loads(response.body)["subscription_status"] == "cancelled"

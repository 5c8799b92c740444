"""Rate limits through the proxy handler, against a real Redis: budgets, rules, overrides, headers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import MetricReader
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.stub_service import StubService

LONG_WINDOW = "600"  # one request every 600/N s comes back: none within a test


@pytest.fixture
def mint(dev_keys: DevKeyPair) -> Callable[..., str]:
    def mint(user_id: str = "user-1", tenant_id: str = "tenant-a") -> str:
        return dev_keys.mint(user_id=user_id, tenant_id=tenant_id)

    return mint


def send(gateway: LambdaGateway, count: int, method: str, path: str, **options: Any) -> list[int]:
    """The statuses of ``count`` identical requests; a token's authorizer context is computed once."""
    token = options.get("token")
    if token is not None and "context" not in options:
        options["context"] = gateway.context_for(token)
    return [gateway.request(method, path, **options).status for _ in range(count)]


def login(gateway: LambdaGateway, name: str, source_ip: str, field: str = "email") -> ProxyResponse:
    body = json.dumps({field: name, "password": "wrong"})
    return gateway.request(
        "POST",
        "/api/v1/auth/login",
        body=body,
        source_ip=source_ip,
        headers={"content-type": "application/json"},
    )


# --- per user ------------------------------------------------------------------------------------
def test_a_user_over_the_limit_gets_a_429_problem_with_retry_after(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="3", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    context = gateway.context_for(token := mint())
    assert send(gateway, 3, "GET", "/api/v1/sales/orders", token=token, context=context) == [200, 200, 200]

    response = gateway.request("GET", "/api/v1/sales/orders", token=token, context=context)

    problem = assert_problem(response, 429, "rate-limited")
    assert problem["detail"]
    assert 1 <= int(response.headers["retry-after"]) <= 200  # one interval: 600 s / 3


def test_a_refused_request_never_reaches_the_service(
    start_gateway: GatewayStarter, mint: Callable[..., str], stub_service: StubService
) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="1", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    send(gateway, 3, "GET", "/api/v1/sales/orders", token=mint())

    assert len(stub_service.requests) == 1


def test_a_successful_response_carries_the_ratelimit_fields_of_each_bucket(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    gateway = start_gateway(
        RATE_LIMIT_REQUESTS="10",
        RATE_LIMIT_WINDOW_SECONDS="60",
        RATE_LIMIT_TENANT_REQUESTS="100",
        RATE_LIMIT_TENANT_WINDOW_SECONDS="60",
    )

    response = gateway.request("GET", "/api/v1/sales/orders", token=mint())

    assert response.status == 200
    assert response.headers["ratelimit-policy"] == '"user";q=10;w=60, "tenant";q=100;w=60'
    assert response.headers["ratelimit"] == '"user";r=9;t=6, "tenant";r=99;t=1'


def test_a_429_carries_the_ratelimit_fields_with_nothing_remaining(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="1", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    token = mint()
    gateway.request("GET", "/api/v1/sales/orders", token=token)

    response = gateway.request("GET", "/api/v1/sales/orders", token=token)

    assert response.status == 429
    assert response.headers["ratelimit-policy"].startswith('"user";q=1;w=600')
    assert response.headers["ratelimit"].startswith('"user";r=0;')


def test_each_user_has_a_budget_of_their_own(start_gateway: GatewayStarter, mint: Callable[..., str]) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="2", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    send(gateway, 3, "GET", "/api/v1/sales/orders", token=mint("user-1"))

    assert send(gateway, 2, "GET", "/api/v1/sales/orders", token=mint("user-2")) == [200, 200]


def test_a_refusal_is_counted_by_route_template(
    start_gateway: GatewayStarter, mint: Callable[..., str], metric: MetricReader
) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="1", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    before = metric("gateway_rate_limit_exceeded_total", endpoint="/api/v1/sales/{proxy+}")

    send(gateway, 3, "GET", "/api/v1/sales/orders/1", token=mint())

    assert metric("gateway_rate_limit_exceeded_total", endpoint="/api/v1/sales/{proxy+}") == before + 2


# --- per tenant ----------------------------------------------------------------------------------
def test_the_tenant_budget_is_shared_by_its_users(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    gateway = start_gateway(RATE_LIMIT_TENANT_REQUESTS="3", RATE_LIMIT_TENANT_WINDOW_SECONDS=LONG_WINDOW)

    first = send(gateway, 2, "GET", "/api/v1/sales/orders", token=mint("user-1"))
    second = send(gateway, 2, "GET", "/api/v1/sales/orders", token=mint("user-2"))

    assert first + second == [200, 200, 200, 429]


def test_the_tenant_budget_does_not_limit_another_tenant(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    gateway = start_gateway(RATE_LIMIT_TENANT_REQUESTS="1", RATE_LIMIT_TENANT_WINDOW_SECONDS=LONG_WINDOW)
    send(gateway, 2, "GET", "/api/v1/sales/orders", token=mint("user-1", "tenant-a"))

    assert send(gateway, 1, "GET", "/api/v1/sales/orders", token=mint("user-2", "tenant-b")) == [200]


def test_a_user_refused_by_their_own_limit_spends_none_of_the_tenants_budget(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    gateway = start_gateway(
        RATE_LIMIT_REQUESTS="2",
        RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW,
        RATE_LIMIT_TENANT_REQUESTS="3",
        RATE_LIMIT_TENANT_WINDOW_SECONDS=LONG_WINDOW,
    )
    assert send(gateway, 6, "GET", "/api/v1/sales/orders", token=mint("user-1")) == [200, 200] + [429] * 4

    assert send(gateway, 2, "GET", "/api/v1/sales/orders", token=mint("user-2")) == [200, 429]


# --- rules and overrides -------------------------------------------------------------------------
def test_a_plan_rule_limits_the_tenants_on_that_plan_only(
    start_gateway: GatewayStarter, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    redis_client.hset(redis_keyspace.subscription_key("tenant-b"), "plan", "starter")
    rules = [{"name": "starter", "plan": "starter", "requests": 2, "window_seconds": 600}]
    gateway = start_gateway(RATE_LIMIT_RULES=json.dumps(rules))

    starter = send(gateway, 3, "GET", "/api/v1/sales/orders", token=mint("user-2", "tenant-b"))
    professional = send(gateway, 3, "GET", "/api/v1/sales/orders", token=mint("user-1", "tenant-a"))

    assert (starter, professional) == ([200, 200, 429], [200, 200, 200])


def test_a_tenant_rule_wins_over_a_plan_rule(start_gateway: GatewayStarter, mint: Callable[..., str]) -> None:
    rules = [
        {"name": "pro", "plan": "professional", "requests": 50, "window_seconds": 600},
        {"name": "tight", "tenant": "tenant-a", "plan": "professional", "requests": 1, "window_seconds": 600},
    ]
    gateway = start_gateway(RATE_LIMIT_RULES=json.dumps(rules))

    assert send(gateway, 2, "GET", "/api/v1/sales/orders", token=mint()) == [200, 429]


def test_a_tenants_override_in_redis_wins_over_every_rule(
    start_gateway: GatewayStarter, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    redis_client.hset(redis_keyspace.rate_limit_overrides_key("tenant-a"), "user", "2:600000")
    rules = [{"name": "vip", "tenant": "tenant-a", "requests": 100, "window_seconds": 60}]
    gateway = start_gateway(RATE_LIMIT_RULES=json.dumps(rules))

    statuses = send(gateway, 3, "GET", "/api/v1/sales/orders", token=mint())

    assert statuses == [200, 200, 429]


def test_a_tenants_override_of_the_tenant_budget_is_reported_in_the_fields(
    start_gateway: GatewayStarter, mint: Callable[..., str], redis_client: redis.Redis
) -> None:
    redis_client.hset(redis_keyspace.rate_limit_overrides_key("tenant-a"), "tenant", "7:70000")
    gateway = start_gateway()

    response = gateway.request("GET", "/api/v1/sales/orders", token=mint())

    assert '"tenant";q=7;w=70' in response.headers["ratelimit-policy"]


def test_a_route_rule_gives_its_routes_a_budget_of_their_own(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    rules = [{"name": "exports", "route": "/api/v1/sales/exports**", "requests": 2, "window_seconds": 600}]
    gateway = start_gateway(
        RATE_LIMIT_RULES=json.dumps(rules), RATE_LIMIT_REQUESTS="3", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW
    )
    token = mint()

    exports = send(gateway, 3, "GET", "/api/v1/sales/exports/2024.csv", token=token)
    others = send(gateway, 4, "GET", "/api/v1/sales/orders", token=token)

    assert (exports, others) == ([200, 200, 429], [200, 200, 200, 429])


def test_a_method_rule_applies_to_that_method_only(
    start_gateway: GatewayStarter, mint: Callable[..., str]
) -> None:
    rules = [
        {"name": "writes", "method": "post", "route": "/api/v1/**", "requests": 1, "window_seconds": 600}
    ]
    gateway = start_gateway(RATE_LIMIT_RULES=json.dumps(rules))
    token = mint()

    writes = send(gateway, 2, "POST", "/api/v1/orders/", token=token, body="{}")
    reads = send(gateway, 2, "GET", "/api/v1/orders/", token=token)

    assert (writes, reads) == ([200, 429], [200, 200])


# --- without a token: per address ----------------------------------------------------------------
def test_anonymous_requests_are_limited_per_source_address_whatever_x_forwarded_for_says(
    start_gateway: GatewayStarter,
) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="2", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)

    statuses = [
        gateway.request(
            "POST",
            "/api/v1/auth/refresh",
            source_ip="198.51.100.7",
            headers={"x-forwarded-for": f"10.0.0.{n}"},
        ).status
        for n in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_another_source_address_has_a_budget_of_its_own(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(RATE_LIMIT_REQUESTS="1", RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    send(gateway, 2, "POST", "/api/v1/auth/refresh", source_ip="198.51.100.7")

    assert send(gateway, 1, "POST", "/api/v1/auth/refresh", source_ip="198.51.100.8") == [200]


def test_logins_from_one_address_are_limited_whatever_the_names(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(LOGIN_RATE_LIMIT_IP_REQUESTS="3", LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS=LONG_WINDOW)

    statuses = [login(gateway, f"user{n}@example.com", "198.51.100.7").status for n in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_logins_for_one_name_are_limited_whatever_the_addresses(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(
        LOGIN_RATE_LIMIT_NAME_REQUESTS="2", LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS=LONG_WINDOW
    )

    statuses = [login(gateway, "ana@example.com", f"198.51.100.{n}").status for n in range(3)]

    assert statuses == [200, 200, 429]


def test_the_login_name_budget_ignores_case_and_the_field_it_came_in(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(
        LOGIN_RATE_LIMIT_NAME_REQUESTS="2", LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS=LONG_WINDOW
    )
    login(gateway, "ana@example.com", "198.51.100.1")
    login(gateway, "ANA@Example.com", "198.51.100.2", field="username")

    assert login(gateway, " Ana@example.com ", "198.51.100.3").status == 429


def test_registrations_share_the_login_limits(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(
        LOGIN_RATE_LIMIT_NAME_REQUESTS="1", LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS=LONG_WINDOW
    )
    body = json.dumps({"email": "new@example.com", "password": "x"})
    login(gateway, "new@example.com", "198.51.100.1")

    response = gateway.request("POST", "/api/v1/auth/register", body=body, source_ip="198.51.100.2")

    assert response.status == 429


def test_a_login_refusal_says_which_budgets_apply(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(
        LOGIN_RATE_LIMIT_NAME_REQUESTS="1", LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS=LONG_WINDOW
    )
    login(gateway, "ana@example.com", "198.51.100.1")

    response = login(gateway, "ana@example.com", "198.51.100.1")

    assert_problem(response, 429, "rate-limited")
    assert [item.split(";")[0] for item in response.headers["ratelimit"].split(", ")] == [
        '"ip"',
        '"login-ip"',
        '"login-name"',
    ]


@pytest.mark.parametrize("value", ["lots", "5", "5:soon", "-1:60000"])
def test_a_malformed_tenant_override_is_ignored_rather_than_taken_for_an_outage(
    gateway: LambdaGateway, mint: Callable[..., str], redis_client: redis.Redis, value: str
) -> None:
    redis_client.hset(redis_keyspace.rate_limit_overrides_key("tenant-a"), "user", value)

    response = gateway.request("POST", "/api/v1/orders/", token=mint(), body="{}")

    assert response.status == 200
    assert response.headers["ratelimit-policy"].startswith('"user";q=300;w=60')

"""Demo mode through the real handlers and a real Redis: session tenants, account types, expiry,
guard rails, subscriptions, rate limits and demo backends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.policies.subscription import Subscription
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import service_base_url
from tests.integration.conftest import GatewayStarter
from tests.integration.policies.test_policies_round_trip import commands_sent_by
from tests.support.demo_sessions import start_demo_session
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.redis_server import RedisProcess
from tests.support.stub_service import StubService

OLD_ACCOUNT_TYPES = ["individual_bakery", "professional_bakery", "central_baker", "enterprise_chain"]
BOTH_TYPES = "use one of professional, enterprise"
LONG_WINDOW = "600"  # no request comes back within a test

# An enterprise demo: a central bakery and its two outlets. None of them pays: demo tenants never do.
ENTERPRISE_SESSION = "enterprise-session"
CENTRAL, OUTLET_1, OUTLET_2 = "demo-central", "demo-outlet-1", "demo-outlet-2"
ENTERPRISE_TENANTS = [CENTRAL, OUTLET_1, OUTLET_2]
# A professional demo: one bakery (its record lists an outlet, which a professional session ignores).
PROFESSIONAL_SESSION = "professional-session"
BAKERY, RECORDED_OUTLET = "demo-bakery", "demo-bakery-outlet"
REAL_TENANT = "tenant-a"  # a paying tenant of the platform

SALES = "/api/v1/sales/summary"
CREATE = "/api/v1/demo/sessions"
CREATED_AT_SERVICE = "/demo-svc" + CREATE
ROUTE_FORMS = ["path", "header", "active"]
Minter = Callable[..., str]


@pytest.fixture
def mint(dev_keys: DevKeyPair) -> Minter:
    def mint(
        account_type: str = "enterprise",
        *,
        session_id: str = ENTERPRISE_SESSION,
        tenant_id: str = CENTRAL,
        tenant_ids: list[str] | None = None,
        user_id: str = "demo-user",
    ) -> str:
        return dev_keys.mint(
            user_id=user_id,
            tenant_id=tenant_id,
            tenant_ids=tenant_ids,
            roles=["owner"],
            extra_claims={"is_demo": True, "demo_session_id": session_id, "demo_account_type": account_type},
        )

    return mint


@pytest.fixture
def enterprise(redis_client: redis.Redis) -> None:
    start_demo_session(redis_client, ENTERPRISE_SESSION, "enterprise", CENTRAL, (OUTLET_1, OUTLET_2))


@pytest.fixture
def professional(redis_client: redis.Redis) -> None:
    start_demo_session(redis_client, PROFESSIONAL_SESSION, "professional", BAKERY, (RECORDED_OUTLET,))


def request_on(gateway: LambdaGateway, token: str, form: str, tenant: str, **options: Any) -> ProxyResponse:
    """A sales request on ``tenant``, named by the path, by the client's X-Tenant-ID, or (``active``)
    by the token's active tenant."""
    headers = dict(options.pop("headers", {}))
    if form == "path":
        return gateway.request("GET", f"/api/v1/tenants/{tenant}/sales/summary", token=token, headers=headers)
    if form == "header":
        return gateway.request("GET", SALES, token=token, headers={**headers, "x-tenant-id": tenant})
    return gateway.request("GET", SALES, token=token, headers=headers)


def create_session(gateway: LambdaGateway, body: str, source_ip: str = "198.51.100.7") -> ProxyResponse:
    return gateway.request(
        "POST", CREATE, body=body, headers={"content-type": "application/json"}, source_ip=source_ip
    )


def assert_unauthorized(response: ProxyResponse, problem_type: str) -> dict[str, Any]:
    problem = assert_problem(response, 401, problem_type)
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    return problem


def assert_tenant_forbidden(response: ProxyResponse, tenant: str, stub_service: StubService) -> None:
    """Refused with ``tenant-forbidden`` naming ``tenant``, and nothing reached a service."""
    assert assert_problem(response, 403, "tenant-forbidden")["tenant_id"] == tenant
    assert stub_service.requests == []


def assert_forwarded_for(gateway: LambdaGateway, token: str, tenant: str, stub_service: StubService) -> None:
    """A sales read with ``token`` is forwarded, on behalf of ``tenant``."""
    assert gateway.request("GET", SALES, token=token).status == 200
    assert stub_service.last_request.header_values("x-tenant-id") == [tenant]


# --- an enterprise demo user reaches exactly its session's tenants -------------------------------


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("tenant", ENTERPRISE_TENANTS)
@pytest.mark.parametrize("form", ROUTE_FORMS)
def test_an_enterprise_demo_user_reaches_each_session_tenant_through_each_route_form(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, form: str, tenant: str
) -> None:
    token = mint(tenant_id=tenant if form == "active" else CENTRAL)

    response = request_on(gateway, token, form, tenant)

    assert response.status == 200
    assert stub_service.last_request.path.startswith("/sales-svc/")
    assert stub_service.last_request.header_values("x-tenant-id") == [tenant]


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("form", ROUTE_FORMS)
def test_an_enterprise_demo_users_demo_headers_reach_the_service_and_forged_copies_do_not(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, form: str
) -> None:
    forged = {
        "x-demo-session-id": "someone-elses-session",
        "x-demo-account-type": "professional",
        "x-user-id": "someone-else",
        "x-user-roles": "admin",
    }

    request_on(gateway, mint(tenant_id=OUTLET_1), form, OUTLET_1, headers=forged)

    request = stub_service.last_request
    assert request.header_values("x-demo-session-id") == [ENTERPRISE_SESSION]
    assert request.header_values("x-demo-account-type") == ["enterprise"]
    assert request.header_values("x-user-id") == ["demo-user"]
    assert request.header_values("x-user-roles") == ["owner"]
    assert request.header_values("x-tenant-id") == [OUTLET_1]


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("form", ["path", "header"])
@pytest.mark.parametrize("tenant", [REAL_TENANT, BAKERY])
def test_an_enterprise_demo_user_is_refused_a_tenant_outside_its_session(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, form: str, tenant: str
) -> None:
    token = mint(tenant_ids=[CENTRAL, REAL_TENANT])

    response = request_on(gateway, token, form, tenant)

    assert_tenant_forbidden(response, tenant, stub_service)


# --- a professional demo user reaches its bakery and nothing else --------------------------------
@pytest.mark.usefixtures("professional")
def test_a_professional_demo_user_reaches_its_bakery(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter
) -> None:
    token = mint("professional", session_id=PROFESSIONAL_SESSION, tenant_id=BAKERY)

    assert_forwarded_for(gateway, token, BAKERY, stub_service)


@pytest.mark.usefixtures("professional", "enterprise")
@pytest.mark.parametrize("form", ["path", "header"])
@pytest.mark.parametrize("tenant", [REAL_TENANT, RECORDED_OUTLET, CENTRAL, OUTLET_1])
def test_a_professional_demo_user_is_refused_every_other_tenant(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, form: str, tenant: str
) -> None:
    # The token lists the real tenant itself: the session decides, not the token.
    token = mint(
        "professional", session_id=PROFESSIONAL_SESSION, tenant_id=BAKERY, tenant_ids=[BAKERY, REAL_TENANT]
    )

    response = request_on(gateway, token, form, tenant)

    assert_tenant_forbidden(response, tenant, stub_service)


@pytest.mark.usefixtures("professional")
def test_a_professional_demo_users_active_tenant_outside_its_session_becomes_its_bakery(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter
) -> None:
    token = mint("professional", session_id=PROFESSIONAL_SESSION, tenant_id=REAL_TENANT)

    assert_forwarded_for(gateway, token, BAKERY, stub_service)


# --- old account type names, wherever they appear ------------------------------------------------
@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("old_name", OLD_ACCOUNT_TYPES)
def test_a_token_with_an_old_account_type_is_a_401_naming_both_types(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, old_name: str
) -> None:
    response = gateway.request("GET", SALES, token=mint(old_name))

    problem = assert_unauthorized(response, "invalid-demo-account-type")
    assert problem["detail"] == "demo_account_type must be one of professional, enterprise"
    assert stub_service.requests == []


@pytest.mark.parametrize("old_name", OLD_ACCOUNT_TYPES)
@pytest.mark.parametrize("token_type", ["professional", "enterprise"])
def test_a_stored_session_with_an_old_account_type_is_a_401_naming_both_types(
    gateway: LambdaGateway,
    stub_service: StubService,
    redis_client: redis.Redis,
    mint: Minter,
    old_name: str,
    token_type: str,
) -> None:
    start_demo_session(redis_client, ENTERPRISE_SESSION, old_name, CENTRAL, (OUTLET_1,))

    response = gateway.request("GET", SALES, token=mint(token_type))

    problem = assert_unauthorized(response, "invalid-demo-account-type")
    assert problem["detail"].endswith(BOTH_TYPES)
    assert stub_service.requests == []


@pytest.mark.parametrize("old_name", OLD_ACCOUNT_TYPES)
def test_a_creation_with_an_old_account_type_is_a_400_naming_both_types_and_never_forwarded(
    gateway: LambdaGateway, stub_service: StubService, old_name: str
) -> None:
    response = create_session(gateway, json.dumps({"account_type": old_name}))

    problem = assert_problem(response, 400, "invalid-demo-account-type")
    assert problem["detail"] == f"account_type: {old_name!r} is not a demo account type; {BOTH_TYPES}"
    assert problem["valid_account_types"] == ["professional", "enterprise"]
    assert stub_service.requests == []


@pytest.mark.parametrize("body", ["{}", '{"account_type": null}', '{"account_type": "Enterprise"}'])
def test_a_creation_without_a_valid_account_type_is_a_400_naming_both_types(
    gateway: LambdaGateway, stub_service: StubService, body: str
) -> None:
    problem = assert_problem(create_session(gateway, body), 400, "invalid-demo-account-type")

    assert problem["detail"].endswith(BOTH_TYPES)
    assert stub_service.requests == []


@pytest.mark.parametrize("body", ["", "not json", '"enterprise"', '["enterprise"]'])
def test_a_creation_body_that_is_not_a_json_object_is_a_400_naming_both_types_never_forwarded(
    gateway: LambdaGateway, stub_service: StubService, body: str
) -> None:
    problem = assert_problem(create_session(gateway, body), 400, "invalid-demo-account-type")

    assert problem["detail"].endswith(BOTH_TYPES)
    assert stub_service.requests == []


@pytest.mark.parametrize("account_type", ["professional", "enterprise"])
def test_a_creation_with_a_valid_account_type_reaches_the_demo_session_service_unchanged(
    gateway: LambdaGateway, stub_service: StubService, account_type: str
) -> None:
    body = json.dumps({"account_type": account_type, "locale": "es"})

    response = create_session(gateway, body)

    assert response.status == 200
    assert stub_service.last_request.path == CREATED_AT_SERVICE
    assert stub_service.last_request.body == body.encode()


# --- a session that is over ----------------------------------------------------------------------
def test_a_token_whose_session_record_is_gone_is_a_401_demo_session_expired(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter
) -> None:
    assert_unauthorized(gateway.request("GET", SALES, token=mint()), "demo-session-expired")
    assert stub_service.requests == []


def test_a_token_whose_session_is_past_its_end_is_a_401_demo_session_expired(
    gateway: LambdaGateway, redis_client: redis.Redis, mint: Minter
) -> None:
    start_demo_session(redis_client, ENTERPRISE_SESSION, "enterprise", CENTRAL, seconds_left=-1)

    assert_unauthorized(gateway.request("GET", SALES, token=mint()), "demo-session-expired")


def test_a_cached_verdict_is_refused_once_its_session_ends(
    gateway: LambdaGateway, redis_client: redis.Redis, mint: Minter
) -> None:
    # GIVEN a verdict cached by API Gateway while the session had a second left (its record stays)
    start_demo_session(redis_client, ENTERPRISE_SESSION, "enterprise", CENTRAL, seconds_left=1)
    context = gateway.context_for(mint())
    assert context["authenticated"] is True

    # WHEN the session's end passes
    time.sleep(1.05)

    # THEN the cached verdict no longer serves
    assert_unauthorized(gateway.request("GET", SALES, context=context), "demo-session-expired")


def test_a_session_deleted_while_its_verdict_is_cached_is_refused_in_one_redis_round_trip(
    start_private_gateway: GatewayStarter,
    private_redis: RedisProcess,
    stub_service: StubService,
    mint: Minter,
) -> None:
    gateway = start_private_gateway()
    client = private_redis.endpoint().client()
    start_demo_session(client, ENTERPRISE_SESSION, "enterprise", CENTRAL, (OUTLET_1,))
    context = gateway.context_for(mint())
    assert gateway.request("GET", SALES, context=context).status == 200  # warm: connection, script
    client.delete(redis_keyspace.demo_session_key(ENTERPRISE_SESSION))
    client.close()
    stub_service.reset()
    responses: list[ProxyResponse] = []

    def send() -> ProxyResponse:
        responses.append(gateway.request("GET", SALES, context=context))
        return responses[-1]

    assert commands_sent_by(private_redis, send) == (401, ["EVALSHA"])
    assert_unauthorized(responses[0], "demo-session-expired")
    assert stub_service.requests == []


def test_with_redis_down_a_demo_token_is_a_503_state_unavailable(
    start_private_gateway: GatewayStarter,
    private_redis: RedisProcess,
    stub_service: StubService,
    mint: Minter,
) -> None:
    gateway = start_private_gateway()
    private_redis.stop()

    response = gateway.request("GET", SALES, token=mint())

    assert_problem(response, 503, "state-unavailable")
    assert response.headers["retry-after"]
    assert stub_service.requests == []


# --- guard rails ---------------------------------------------------------------------------------
@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        *(
            (method, f"/api/v1/tenants/{CENTRAL}/subscription")
            for method in ("POST", "PUT", "PATCH", "DELETE")
        ),
        *(
            (method, f"/api/v1/tenants/{OUTLET_1}/billing/card")
            for method in ("POST", "PUT", "PATCH", "DELETE")
        ),
        ("DELETE", f"/api/v1/tenants/{CENTRAL}"),
        ("POST", f"/api/v1/tenants/{CENTRAL}/invitations"),
        ("POST", f"/api/v1/tenants/{OUTLET_2}/members/invite"),
        ("POST", "/api/v1/notifications/email"),
        ("POST", f"/api/v1/tenants/{CENTRAL}/notifications/whatsapp"),
    ],
)
def test_each_default_blocked_operation_is_a_403_for_a_demo_user(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, method: str, path: str
) -> None:
    response = gateway.request(method, path, token=mint(), body="{}")

    assert_problem(response, 403, "demo-operation-forbidden")
    assert stub_service.requests == []


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/tenants/{CENTRAL}/subscription"),
        ("GET", f"/api/v1/tenants/{CENTRAL}/members"),
        ("POST", f"/api/v1/tenants/{CENTRAL}/orders/"),
        ("DELETE", f"/api/v1/tenants/{CENTRAL}/orders/7"),
    ],
)
def test_operations_outside_the_guard_rails_are_served_to_a_demo_user(
    gateway: LambdaGateway, mint: Minter, method: str, path: str
) -> None:
    assert gateway.request(method, path, token=mint(), body="{}").status == 200


def test_the_guard_rails_do_not_hold_a_regular_user(gateway: LambdaGateway, dev_keys: DevKeyPair) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id=REAL_TENANT)

    response = gateway.request("POST", f"/api/v1/tenants/{REAL_TENANT}/invitations", token=token, body="{}")

    assert response.status == 200


@pytest.mark.usefixtures("enterprise")
def test_configured_blocked_operations_apply(start_gateway: GatewayStarter, mint: Minter) -> None:
    gateway = start_gateway(DEMO_BLOCKED_OPERATIONS="GET /api/v1/sales/**;DELETE /api/v1/tenants/*/orders/*")

    assert_problem(gateway.request("GET", SALES, token=mint()), 403, "demo-operation-forbidden")


@pytest.mark.usefixtures("enterprise")
def test_configured_blocked_operations_replace_the_defaults(
    start_gateway: GatewayStarter, mint: Minter
) -> None:
    gateway = start_gateway(DEMO_BLOCKED_OPERATIONS="GET /api/v1/sales/**")

    response = gateway.request("POST", f"/api/v1/tenants/{CENTRAL}/invitations", token=mint(), body="{}")

    assert response.status == 200


@pytest.mark.usefixtures("enterprise")
def test_a_percent_encoded_spelling_of_a_blocked_operation_is_a_403(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter
) -> None:
    response = gateway.request("POST", f"/api/v1/tenants/{CENTRAL}/%69nvitations", token=mint(), body="{}")

    assert response.status == 403
    assert stub_service.requests == []


@pytest.mark.usefixtures("enterprise")
def test_a_blocked_operation_spelled_with_a_trailing_slash_is_a_403(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter
) -> None:
    response = gateway.request("DELETE", f"/api/v1/tenants/{CENTRAL}/", token=mint())

    assert response.status == 403
    assert stub_service.requests == []


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("path", ["/api/v1/notifications", f"/api/v1/tenants/{CENTRAL}/notifications"])
def test_sending_to_the_notifications_collection_is_a_403(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, path: str
) -> None:
    response = gateway.request("POST", path, token=mint(), body="{}")

    assert response.status == 403
    assert stub_service.requests == []


# --- subscriptions -------------------------------------------------------------------------------
def subscription_lookups(stub: StubService) -> int:
    return sum(
        request.path.startswith("/tenants-svc/") and request.path.endswith("/subscription")
        for request in stub.requests
    )


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("tenant", ENTERPRISE_TENANTS)
def test_a_demo_request_never_asks_the_tenant_service_about_a_subscription(
    gateway: LambdaGateway, stub_service: StubService, mint: Minter, method: str, tenant: str
) -> None:
    response = gateway.request(method, f"/api/v1/tenants/{tenant}/orders/", token=mint(), body="{}")

    assert response.status == 200
    assert subscription_lookups(stub_service) == 0


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("status", ["cancelled", "none"])
def test_a_demo_tenant_without_a_paying_subscription_is_served(
    gateway: LambdaGateway, redis_client: redis.Redis, mint: Minter, status: str
) -> None:
    fields: dict[Any, Any] = Subscription(status, "professional", 0, 0).to_hash()
    redis_client.hset(redis_keyspace.subscription_key(CENTRAL), mapping=fields)

    assert gateway.request("POST", "/api/v1/orders/", token=mint(), body="{}").status == 200


# --- rate limits ---------------------------------------------------------------------------------
def statuses(gateway: LambdaGateway, token: str, count: int) -> list[int]:
    context = gateway.context_for(token)
    return [gateway.request("GET", SALES, context=context).status for _ in range(count)]


@pytest.mark.usefixtures("enterprise")
def test_a_demo_session_over_its_limit_gets_a_429(start_gateway: GatewayStarter, mint: Minter) -> None:
    gateway = start_gateway(DEMO_RATE_LIMIT_REQUESTS="2", DEMO_RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    context = gateway.context_for(mint())
    assert [gateway.request("GET", SALES, context=context).status for _ in range(2)] == [200, 200]

    response = gateway.request("GET", SALES, context=context)

    assert_problem(response, 429, "rate-limited")
    assert response.headers["ratelimit-policy"] == f'"demo";q=2;w={LONG_WINDOW}'


@pytest.mark.usefixtures("enterprise")
def test_a_demo_user_draws_on_the_demo_budget_not_the_user_budget(
    start_gateway: GatewayStarter, mint: Minter
) -> None:
    gateway = start_gateway(
        RATE_LIMIT_REQUESTS="1",
        RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW,
        DEMO_RATE_LIMIT_REQUESTS="3",
        DEMO_RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW,
    )

    assert statuses(gateway, mint(), 4) == [200, 200, 200, 429]


@pytest.mark.usefixtures("enterprise", "professional")
def test_each_demo_session_has_its_own_budget(start_gateway: GatewayStarter, mint: Minter) -> None:
    gateway = start_gateway(DEMO_RATE_LIMIT_REQUESTS="2", DEMO_RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    assert statuses(gateway, mint(), 3) == [200, 200, 429]

    other = mint("professional", session_id=PROFESSIONAL_SESSION, tenant_id=BAKERY)

    assert statuses(gateway, other, 1) == [200]


@pytest.mark.usefixtures("enterprise")
def test_the_users_of_one_demo_session_share_its_budget(start_gateway: GatewayStarter, mint: Minter) -> None:
    gateway = start_gateway(DEMO_RATE_LIMIT_REQUESTS="2", DEMO_RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    assert statuses(gateway, mint(user_id="demo-user-1"), 2) == [200, 200]

    assert statuses(gateway, mint(user_id="demo-user-2", tenant_id=OUTLET_1), 1) == [429]


@pytest.mark.usefixtures("enterprise")
def test_a_demo_session_over_its_limit_leaves_regular_users_served(
    start_gateway: GatewayStarter, dev_keys: DevKeyPair, mint: Minter
) -> None:
    gateway = start_gateway(DEMO_RATE_LIMIT_REQUESTS="1", DEMO_RATE_LIMIT_WINDOW_SECONDS=LONG_WINDOW)
    assert statuses(gateway, mint(user_id="user-1"), 2) == [200, 429]

    assert statuses(gateway, dev_keys.mint(user_id="user-1", tenant_id=REAL_TENANT), 1) == [200]


# --- demo session creation, per address ----------------------------------------------------------
CREATION_LIMITED = {
    "DEMO_SESSION_RATE_LIMIT_IP_REQUESTS": "1",
    "DEMO_SESSION_RATE_LIMIT_IP_WINDOW_SECONDS": LONG_WINDOW,
}
VALID_CREATION = json.dumps({"account_type": "enterprise"})


def test_a_second_demo_creation_from_one_address_gets_a_429(
    start_gateway: GatewayStarter, stub_service: StubService
) -> None:
    gateway = start_gateway(**CREATION_LIMITED)
    assert create_session(gateway, VALID_CREATION).status == 200

    response = create_session(gateway, VALID_CREATION)

    assert_problem(response, 429, "rate-limited")
    assert '"demo-creation-ip";q=1' in response.headers["ratelimit-policy"]
    assert len(stub_service.requests) == 1


def test_another_address_may_still_create_a_demo(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(**CREATION_LIMITED)
    assert create_session(gateway, VALID_CREATION, source_ip="198.51.100.7").status == 200

    assert create_session(gateway, VALID_CREATION, source_ip="198.51.100.8").status == 200


def test_the_creation_limit_is_checked_before_the_account_type(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(**CREATION_LIMITED)
    assert create_session(gateway, VALID_CREATION).status == 200

    response = create_session(gateway, json.dumps({"account_type": "central_baker"}))

    assert_problem(response, 429, "rate-limited")


CREATION_SPELLINGS = [f"{CREATE}/", "/api/v1/demo/%73essions"]


@pytest.mark.parametrize("path", CREATION_SPELLINGS)
def test_a_creation_spelled_another_way_still_has_its_account_type_checked(
    gateway: LambdaGateway, stub_service: StubService, path: str
) -> None:
    body = json.dumps({"account_type": "central_baker"})

    response = gateway.request("POST", path, body=body, headers={"content-type": "application/json"})

    assert response.status == 400
    assert stub_service.requests == []


@pytest.mark.parametrize("path", CREATION_SPELLINGS)
def test_a_creation_spelled_another_way_still_draws_on_the_creation_limit(
    start_gateway: GatewayStarter, path: str
) -> None:
    gateway = start_gateway(**CREATION_LIMITED)
    assert create_session(gateway, VALID_CREATION).status == 200

    response = gateway.request("POST", path, body=VALID_CREATION, source_ip="198.51.100.7")

    assert response.status == 429


def test_the_creation_limit_leaves_the_demo_services_other_routes_open(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway(**CREATION_LIMITED)
    assert create_session(gateway, VALID_CREATION).status == 200

    response = gateway.request("GET", f"{CREATE}/abc", source_ip="198.51.100.7")

    assert response.status == 200


# --- demo backends -------------------------------------------------------------------------------
@pytest.fixture
def demo_sales_gateway(start_gateway: GatewayStarter, stub_service: StubService) -> LambdaGateway:
    return start_gateway(DEMO_SALES_SERVICE_URL=service_base_url(stub_service, "demo-sales"))


@pytest.mark.usefixtures("enterprise")
@pytest.mark.parametrize("path", [SALES, f"/api/v1/tenants/{OUTLET_1}/sales/summary"])
def test_a_demo_users_sales_traffic_goes_to_the_demo_sales_backend(
    demo_sales_gateway: LambdaGateway, stub_service: StubService, mint: Minter, path: str
) -> None:
    assert demo_sales_gateway.request("GET", path, token=mint()).status == 200

    assert stub_service.last_request.path == "/demo-sales-svc" + path


def test_a_regular_users_sales_traffic_still_goes_to_the_sales_service(
    demo_sales_gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id=REAL_TENANT)

    assert demo_sales_gateway.request("GET", SALES, token=token).status == 200

    assert stub_service.last_request.path == "/sales-svc" + SALES


@pytest.mark.usefixtures("enterprise")
def test_a_demo_users_traffic_to_a_service_without_a_demo_backend_goes_to_the_service(
    demo_sales_gateway: LambdaGateway, stub_service: StubService, mint: Minter
) -> None:
    assert demo_sales_gateway.request("GET", "/api/v1/orders/", token=mint()).status == 200

    assert stub_service.last_request.path == "/orders-svc/api/v1/orders/"

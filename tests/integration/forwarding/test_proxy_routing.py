"""The proxy function routes each path to its service's URL, on every stage, and refuses the rest."""

from __future__ import annotations

import pytest

from bakery_gateway.constants import SERVICES, service_url_variable
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import PROXY_ROUTE_KEY, LambdaGateway, assert_problem
from tests.support.stub_service import StubService


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-b"], roles=["owner"])


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_route_reaches_its_url(
    gateway: LambdaGateway, stub_service: StubService, token: str, service: str
) -> None:
    response = gateway.request("GET", f"/api/v1/{service}/", token=token)

    assert response.status == 200
    assert stub_service.last_request.path == f"/{service}-svc/api/v1/{service}/"


def test_the_tenant_form_reaches_the_named_service_acting_on_the_paths_tenant(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request("GET", "/api/v1/tenants/tenant-b/inventory/stock", token=token)

    assert response.status == 200
    assert stub_service.last_request.path == "/inventory-svc/api/v1/tenants/tenant-b/inventory/stock"
    assert stub_service.last_request.header("x-tenant-id") == "tenant-b"


def test_tenant_members_go_to_the_tenant_service(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request("GET", "/api/v1/tenants/tenant-a/members", token=token)

    assert response.status == 200
    assert stub_service.last_request.path == "/tenants-svc/api/v1/tenants/tenant-a/members"


def test_a_tenant_the_token_does_not_list_is_forbidden(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request("GET", "/api/v1/tenants/tenant-z/sales/orders", token=token)

    problem = assert_problem(response, 403, "tenant-forbidden")
    assert problem["tenant_id"] == "tenant-z"
    assert stub_service.requests == []


def test_a_named_stage_routes_the_same_as_the_default_stage(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request("GET", "/api/v1/sales/products", token=token, stage="prod")

    assert response.status == 200
    assert stub_service.last_request.path == "/sales-svc/api/v1/sales/products"


def test_an_unknown_service_is_a_404_problem(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    assert_problem(gateway.request("GET", "/api/v1/bakeries/1", token=token), 404, "not-found")
    assert stub_service.requests == []


@pytest.mark.parametrize("path", ["/", "/metrics", "/api/v2/sales/1", "/admin"])
def test_a_path_outside_the_api_is_a_404_problem(gateway: LambdaGateway, token: str, path: str) -> None:
    # API Gateway answers these itself (no route); the proxy's own answer, for a host sending it every path.
    assert_problem(gateway.request("GET", path, token=token, route_key=PROXY_ROUTE_KEY), 404, "not-found")


def test_an_unconfigured_service_is_a_503_problem(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(**{service_url_variable("forecasting"): ""})

    problem = assert_problem(
        gateway.request("GET", "/api/v1/forecasting/predict", token=token), 503, "service-unavailable"
    )

    assert "not configured" in problem["detail"]
    assert stub_service.requests == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sales/../auth/users",
        "/api/v1/sales/%2e%2e/auth/users",
        "/api/v1/sales/x%2f..%2f..%2fauth",
        "/api/v1/sales/x%5c..%5cauth",
        "/api/v1/sales/%252e%252e/auth",
        "/api/v1/sales/x%00",
        "/api/v1/sales//x",
    ],
)
def test_an_ambiguous_path_is_a_400_problem_and_reaches_no_service(
    gateway: LambdaGateway, stub_service: StubService, token: str, path: str
) -> None:
    assert_problem(gateway.request("GET", path, token=token), 400, "bad-request")
    assert stub_service.requests == []

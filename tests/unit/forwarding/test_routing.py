"""Routing: /api/v1/{service}/** and /api/v1/tenants/{tenant_id}/{service}/** to the service's URL."""

from __future__ import annotations

import pytest

from bakery_gateway.constants import SERVICES
from bakery_gateway.errors import BadRequestError, DownstreamUnavailableError, RouteNotFoundError
from bakery_gateway.forwarding.routing import resolve

SERVICE_URLS = {service: f"http://{service}-service:8000" for service in SERVICES}
OTHER_SERVICES = [service for service in SERVICES if service != "tenants"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_routes_to_its_url(service: str) -> None:
    route = resolve(f"/api/v1/{service}/", SERVICE_URLS)

    assert route.service == service
    assert route.base_url == f"http://{service}-service:8000"
    assert route.path == f"/api/v1/{service}/"


@pytest.mark.parametrize("service", OTHER_SERVICES)
def test_a_service_path_keeps_its_path_and_has_no_tenant(service: str) -> None:
    route = resolve(f"/api/v1/{service}/items/42", SERVICE_URLS)

    assert route.service == service
    assert route.path == f"/api/v1/{service}/items/42"
    assert route.tenant_id is None
    assert route.template == f"/api/v1/{service}/{{proxy+}}"


@pytest.mark.parametrize("service", OTHER_SERVICES)
def test_the_tenant_form_routes_to_the_named_service_with_the_tenant(service: str) -> None:
    route = resolve(f"/api/v1/tenants/tenant-7/{service}/items", SERVICE_URLS)

    assert route.service == service
    assert route.base_url == f"http://{service}-service:8000"
    assert route.tenant_id == "tenant-7"
    assert route.path == f"/api/v1/tenants/tenant-7/{service}/items"
    assert route.template == f"/api/v1/tenants/{{tenant_id}}/{service}/{{proxy+}}"


@pytest.mark.parametrize("rest", ["members", "members/user-1", "", "subscription", "tenants"])
def test_a_tenant_path_that_names_no_other_service_goes_to_the_tenant_service(rest: str) -> None:
    path = "/api/v1/tenants/tenant-7" + (f"/{rest}" if rest else "")

    route = resolve(path, SERVICE_URLS)

    assert route.service == "tenants"
    assert route.base_url == "http://tenants-service:8000"
    assert route.tenant_id == "tenant-7"


def test_the_tenant_collection_itself_goes_to_the_tenant_service_without_a_tenant() -> None:
    route = resolve("/api/v1/tenants/", SERVICE_URLS)

    assert (route.service, route.tenant_id) == ("tenants", None)


def test_a_trailing_slash_is_kept_in_the_forwarded_path() -> None:
    assert resolve("/api/v1/sales/", SERVICE_URLS).path == "/api/v1/sales/"


@pytest.mark.parametrize(("path", "name"), [("/api/v1/bakeries/1", "bakeries"), ("/api/v1/SALES/1", "SALES")])
def test_an_unknown_service_is_a_404_error(path: str, name: str) -> None:
    with pytest.raises(RouteNotFoundError, match=f"no service is named '{name}'") as caught:
        resolve(path, SERVICE_URLS)

    assert caught.value.status == 404


@pytest.mark.parametrize("path", ["/", "/api", "/api/v1", "/api/v2/sales/1", "/health/x", "/v1/api/sales"])
def test_a_path_outside_the_api_is_not_found(path: str) -> None:
    with pytest.raises(RouteNotFoundError):
        resolve(path, SERVICE_URLS)


def test_a_known_but_unconfigured_service_is_a_503_error() -> None:
    urls = {service: url for service, url in SERVICE_URLS.items() if service != "forecasting"}

    with pytest.raises(DownstreamUnavailableError, match="forecasting service is not configured") as caught:
        resolve("/api/v1/forecasting/predict", urls)

    assert caught.value.status == 503


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sales/../auth/users",
        "/api/v1/sales/./items",
        "/api/v1/sales/%2e%2e/auth",
        "/api/v1/sales/%2E%2E/auth",
        "/api/v1/sales/.%2e/auth",
        "/api/v1/sales/items%2f..%2fauth",
        "/api/v1/sales/items%2F..%2Fauth",
        "/api/v1/sales/items%5c..%5cauth",
        "/api/v1/sales/a%2fb",
        "/api/v1/tenants/tenant-7%2Fsales/orders",
        "/api/v1/sales/a%5Cb",
        "/api/v1/sales/items\\..\\auth",
        "/api/v1/sales/%252e%252e/auth",
        "/api/v1/sales/items%252f..",
        "/api/v1/sales/items%00.json",
        "/api/v1/sales/items\x00",
        "/api/v1/sales/items%0d%0aX-Injected:1",
        "/api/v1/sales/items%7f",
        "/api/v1/sales//items",
        "/api/v1//sales/items",
        "//api/v1/sales/items",
        "/api/v1/sales/%ff%fe",
        "api/v1/sales/items",
        "/api/v1/sales/" + "a" * 2100,
    ],
)
def test_an_ambiguous_path_is_a_bad_request(path: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        resolve(path, SERVICE_URLS)

    assert caught.value.status == 400


@pytest.mark.parametrize(
    "path", ["/api/v1/sales/caf%C3%A9", "/api/v1/sales/a%20b", "/api/v1/sales/item.v2..json"]
)
def test_a_harmless_encoded_path_is_routed_as_received(path: str) -> None:
    assert resolve(path, SERVICE_URLS).path == path


@pytest.mark.parametrize(
    ("path", "unscoped"),
    [
        ("/api/v1/tenants/t1/auth/login", "/api/v1/auth/login"),
        ("/api/v1/tenants/t%2e1/auth/login/", "/api/v1/auth/login"),
        ("/api/v1/auth/login", "/api/v1/auth/login"),
        ("/api/v1/tenants/t1/billing", "/api/v1/tenants/t1/billing"),
        ("/api/v1/tenants/t1", "/api/v1/tenants/t1"),
    ],
)
def test_the_unscoped_path_names_the_route_without_the_tenant_form(path: str, unscoped: str) -> None:
    assert resolve(path, SERVICE_URLS).unscoped_path == unscoped

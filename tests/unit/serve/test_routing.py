"""Route selection as API Gateway selects: the most specific path, then an explicit method over ANY."""

from __future__ import annotations

import pytest

from bakery_gateway.api.routes import HTTP_ROUTES, HttpRoute
from bakery_gateway.serve.routing import RouteTable

TABLE: RouteTable[HttpRoute] = RouteTable(HTTP_ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "route_key"),
    [
        ("GET", "/api/v1/sales/items", "ANY /api/v1/{proxy+}"),
        ("POST", "/api/v1/auth/logout", "POST /api/v1/auth/logout"),
        ("GET", "/api/v1/auth/logout", "ANY /api/v1/{proxy+}"),
        ("GET", "/api/v1/alerts/stream", "GET /api/v1/alerts/stream"),
        ("DELETE", "/api/v1/demo/sessions/s-1", "ANY /api/v1/demo/{proxy+}"),
        ("PUT", "/api/v1/admin/tenants/t-1/policy", "ANY /api/v1/admin/{proxy+}"),
        ("POST", "/internal/alerts", "POST /internal/alerts"),
        ("GET", "/health", "GET /health"),
    ],
)
def test_the_most_specific_route_of_the_table_is_chosen(method: str, path: str, route_key: str) -> None:
    match = TABLE.match(method, path)

    assert match is not None
    assert match.route.route_key == route_key


@pytest.mark.parametrize(("method", "path"), [("GET", "/internal/alerts"), ("GET", "/"), ("POST", "/health")])
def test_a_path_or_method_outside_every_route_matches_none(method: str, path: str) -> None:
    assert TABLE.match(method, path) is None


def test_a_greedy_parameter_is_given_to_the_route() -> None:
    match = TABLE.match("GET", "/api/v1/sales/items/7")

    assert match is not None
    assert match.path_parameters == {"proxy": "sales/items/7"}

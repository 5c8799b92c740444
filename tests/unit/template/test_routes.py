"""The gateway's route table (``api/routes.py``) is template.yaml's HTTP API, in both directions.

Every route of the template is in the table with the same function and the same guard, and every
route of the table is in the template; the authorizers agree on their function, identity sources
and cache TTL (the template's defaults: ``read_http_api`` with no environment). The paths the
functions judge inside those routes are served by the route and function the table says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery_gateway.api.routes import (
    API_PREFIX,
    DEMO_SESSIONS_PATH,
    FUNCTION_TIMEOUT_SECONDS,
    GATEWAY_API_ROUTES,
    HTTP_ROUTES,
    LOGIN_PATHS,
    LOGOUT_PATH,
    PROXY_FUNCTION,
    PUBLIC_ROUTE_KEYS,
    QUERY_TOKEN_ROUTE_KEYS,
    STREAM_TOKEN_AUTHORIZER,
    TOKEN_AUTHORIZER,
    Authorizer,
    HttpRoute,
)
from bakery_gateway.serve.routing import RouteTable
from bakery_local.template import IAM_AUTHORIZER, HttpApiSpec, RouteSpec, read_http_api

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
# How a route reads in both: method, path pattern, function, the Lambda authorizer's name (None for
# a public or an IAM route), and whether IAM guards it.
RouteFacts = tuple[str, str, str, str | None, bool]


@pytest.fixture(scope="module")
def api() -> HttpApiSpec:
    return read_http_api(TEMPLATE, environ={})


def template_facts(route: RouteSpec) -> RouteFacts:
    return (route.method, route.path, route.function, route.authorizer, route.iam)


def table_facts(route: HttpRoute) -> RouteFacts:
    guard = route.authorizer
    lambda_authorizer = guard.name if guard is not None and not guard.is_iam else None
    return (route.method, route.path, route.function, lambda_authorizer, guard is not None and guard.is_iam)


def table_authorizers() -> dict[str, Authorizer]:
    guards = {route.authorizer for route in HTTP_ROUTES if route.authorizer is not None}
    return {guard.name: guard for guard in guards if not guard.is_iam}


def test_every_template_route_is_in_the_table_with_its_function_and_guard(api: HttpApiSpec) -> None:
    table = {table_facts(route) for route in HTTP_ROUTES}

    assert {template_facts(route) for route in api.routes} - table == set()


def test_every_table_route_is_in_the_template_with_its_function_and_guard(api: HttpApiSpec) -> None:
    template = {template_facts(route) for route in api.routes}

    assert {table_facts(route) for route in HTTP_ROUTES} - template == set()


def test_the_table_names_each_route_once() -> None:
    keys = [route.route_key for route in HTTP_ROUTES]

    assert len(keys) == len(set(keys))


def test_the_iam_guard_is_the_one_the_template_names_aws_iam() -> None:
    iam = {
        route.authorizer for route in HTTP_ROUTES if route.authorizer is not None and route.authorizer.is_iam
    }

    assert {guard.name for guard in iam} == {IAM_AUTHORIZER}


def test_every_authorizer_of_the_template_is_in_the_table_and_back(api: HttpApiSpec) -> None:
    assert set(table_authorizers()) == set(api.authorizers)


@pytest.mark.parametrize("name", sorted(table_authorizers()))
def test_each_authorizer_has_the_templates_function_identity_sources_and_cache(
    api: HttpApiSpec, name: str
) -> None:
    table, template = table_authorizers()[name], api.authorizers[name]

    assert (table.function, table.identity_headers, table.identity_query_strings, table.ttl_seconds) == (
        template.function,
        template.identity_headers,
        template.identity_query_strings,
        template.ttl_seconds,
    )


@pytest.mark.parametrize(
    "route", [route for route in HTTP_ROUTES if route.token_in_query], ids=lambda route: route.route_key
)
def test_a_route_that_takes_its_token_from_the_query_names_no_identity_source(route: HttpRoute) -> None:
    # API Gateway answers 401 without asking the authorizer when an identity source is missing: a
    # header source would refuse the very clients (EventSource) the query token is for.
    assert route.authorizer is not None
    assert (route.authorizer.identity_headers, route.authorizer.identity_query_strings) == ((), ())
    assert route.authorizer.ttl_seconds == 0  # API Gateway caches only by identity sources


@pytest.mark.parametrize("function", sorted(FUNCTION_TIMEOUT_SECONDS))
def test_each_functions_timeout_is_the_templates(api: HttpApiSpec, function: str) -> None:
    assert FUNCTION_TIMEOUT_SECONDS[function] == api.functions[function].timeout_seconds


def test_every_function_behind_a_route_has_its_timeout_in_the_table() -> None:
    assert {route.function for route in HTTP_ROUTES} <= set(FUNCTION_TIMEOUT_SECONDS)


def test_the_public_route_keys_are_the_templates_routes_without_any_auth(api: HttpApiSpec) -> None:
    assert {route.route_key for route in api.routes if route.authorizer is None and not route.iam} == (
        PUBLIC_ROUTE_KEYS
    )


def test_the_query_token_route_keys_are_the_templates_routes_of_the_stream_authorizer(
    api: HttpApiSpec,
) -> None:
    # The stream's authorizer has no identity source: it reads the token from ?token= itself.
    stream = {route.route_key for route in api.routes if route.authorizer == STREAM_TOKEN_AUTHORIZER.name}

    assert stream == QUERY_TOKEN_ROUTE_KEYS


# --- the paths the functions judge, inside the template's routes ------------------------------------
def route_taken(api: HttpApiSpec, method: str, path: str) -> RouteSpec:
    """The template route API Gateway chooses for a request (the most specific path, then the method)."""
    match = RouteTable[RouteSpec](api.routes).match(method, path)
    assert match is not None, f"no template route serves {method} {path}"
    return match.route


@pytest.mark.parametrize(
    ("method", "path"),
    sorted((method, path) for path, methods in GATEWAY_API_ROUTES.items() for method in methods),
)
def test_each_of_the_proxys_own_api_routes_reaches_the_proxy(
    api: HttpApiSpec, method: str, path: str
) -> None:
    assert path.startswith(API_PREFIX)
    assert route_taken(api, method, path).function == PROXY_FUNCTION


@pytest.mark.parametrize("path", sorted(LOGIN_PATHS))
def test_logins_and_registrations_reach_the_proxy_without_the_authorizer(api: HttpApiSpec, path: str) -> None:
    route = route_taken(api, "POST", path)

    assert (route.function, route.route_key in PUBLIC_ROUTE_KEYS) == (PROXY_FUNCTION, True)


def test_the_demo_sessions_path_reaches_the_proxy_without_the_authorizer(api: HttpApiSpec) -> None:
    route = route_taken(api, "POST", DEMO_SESSIONS_PATH)

    assert (route.function, route.route_key in PUBLIC_ROUTE_KEYS) == (PROXY_FUNCTION, True)


def test_the_logout_reaches_the_proxy_behind_the_token_authorizer(api: HttpApiSpec) -> None:
    route = route_taken(api, "POST", LOGOUT_PATH)

    assert (route.function, route.authorizer) == (PROXY_FUNCTION, TOKEN_AUTHORIZER.name)

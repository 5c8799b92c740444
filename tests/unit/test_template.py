"""template.yaml agrees with the code: every setting is a parameter, every public route is public."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakery_gateway import constants as names
from bakery_gateway.proxy_app import PUBLIC_ROUTE_KEYS
from bakery_local.template import load_template, read_http_api

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def setting_variables() -> list[str]:
    """Every environment variable the settings read (constants named after themselves)."""
    variables = [value for name, value in vars(names).items() if name.isupper() and value == name]
    variables += [names.service_url_variable(service) for service in names.SERVICES]
    return sorted(set(variables))


@pytest.mark.parametrize("variable", setting_variables())
def test_every_setting_reaches_the_functions_from_a_template_parameter(
    template: dict[str, Any], variable: str
) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    assert variable in variables
    assert set(variables[variable]) == {"Ref"}
    assert variables[variable]["Ref"] in template["Parameters"]


def test_the_proxys_public_routes_are_the_templates_routes_without_the_authorizer() -> None:
    api = read_http_api(TEMPLATE, environ={})

    public = {
        route.route_key
        for route in api.routes
        if route.authorizer is None and route.function == "ProxyFunction"
    }

    assert public == PUBLIC_ROUTE_KEYS


def test_every_function_route_but_the_public_ones_is_behind_the_authorizer() -> None:
    api = read_http_api(TEMPLATE, environ={})

    unprotected = {route.route_key for route in api.routes if route.authorizer is None}

    assert unprotected <= PUBLIC_ROUTE_KEYS

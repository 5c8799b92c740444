"""template.yaml agrees with the code: every setting is a parameter, every public route is public."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakery_gateway import constants as names
from bakery_gateway.alerts.ingress import EVENTBRIDGE_DETAIL_TYPE, EVENTBRIDGE_SOURCE
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


def test_every_function_route_but_the_public_ones_is_behind_the_authorizer_or_iam() -> None:
    api = read_http_api(TEMPLATE, environ={})

    unprotected = {route.route_key for route in api.routes if route.authorizer is None and not route.iam}

    assert unprotected <= PUBLIC_ROUTE_KEYS


def test_the_internal_alerts_route_is_iam_authorized_on_the_fanout_function() -> None:
    api = read_http_api(TEMPLATE, environ={})

    (route,) = [route for route in api.routes if route.route_key == "POST /internal/alerts"]

    assert (route.function, route.iam, route.authorizer) == ("FanoutFunction", True, None)


def test_the_fanout_functions_eventbridge_rule_matches_what_producers_send(template: dict[str, Any]) -> None:
    events = template["Resources"]["FanoutFunction"]["Properties"]["Events"]

    (rule,) = [event for event in events.values() if event["Type"] == "EventBridgeRule"]

    assert rule["Properties"]["Pattern"] == {
        "source": [EVENTBRIDGE_SOURCE],
        "detail-type": [EVENTBRIDGE_DETAIL_TYPE],
    }

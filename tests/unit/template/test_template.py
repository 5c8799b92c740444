"""template.yaml agrees with the code: every setting is a parameter with the same default and no
wider range, every public route is public."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakery_gateway import constants as names
from bakery_gateway.api.routes import PUBLIC_ROUTE_KEYS
from bakery_gateway.realtime.alerts.ingress import (
    EVENTBRIDGE_DETAIL_TYPE,
    EVENTBRIDGE_SOURCE,
    TRAINING_DETAIL_TYPE,
    TRAINING_EVENTBRIDGE_SOURCE,
)
from bakery_gateway.settings import every_setting
from bakery_gateway.settings.declarations import Number, Whole
from bakery_local.template import load_template, read_http_api

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


# Settings that come from the template's own resources, not from a parameter, set on the one
# function that uses them: variable -> function.
FUNCTION_LEVEL_VARIABLES = {names.WEBSOCKET_MANAGEMENT_URL: "FanoutFunction"}
# Settings only local runs have: a plain Redis password or log key never reaches Lambda (the
# functions read them from the secrets REDIS_PASSWORD_SECRET_ID and USER_ID_LOG_KEY_SECRET_ID name).
LOCAL_ONLY_VARIABLES = {names.REDIS_PASSWORD, names.USER_ID_LOG_KEY}
# `bakery-gateway serve`'s own limits on its clients (ServerSettings): API Gateway holds the clients
# on AWS, and no function reads them.
SERVE_ONLY_VARIABLES = set(names.SERVE_VARIABLES)
# Settings the nested Redis stack provides when it is created, else their parameter:
# !If [RedisCreated, <the stack's output>, !Ref <parameter>] (tests/unit/template/test_deploy_template.py).
REDIS_STACK_VARIABLES = {names.REDIS_HOST, names.REDIS_PORT, names.REDIS_TLS, names.REDIS_PASSWORD_SECRET_ID}
# API Gateway's CORS configuration: no function reads them (serve does: ServerSettings); the template
# wires each to its parameter so that the local runtime reads the variable as a deploy reads the
# parameter (local/template.py).
API_GATEWAY_VARIABLES = {names.CORS_ORIGINS, names.CORS_ALLOW_CREDENTIALS}
# Where a deploy's default deliberately differs from the code's: on AWS the keys come from this SSM
# parameter unless another source is set; a local run has no SSM.
DEPLOY_DEFAULTS = {names.JWT_PUBLIC_KEYS_SSM_PARAMETER: "/bakery-ia/gateway/jwt-public-keys"}

DECLARED = {declaration.variable: declaration for declaration in every_setting()}


def setting_variables() -> list[str]:
    """Every variable the settings declare, and API Gateway's, but the function-level ones."""
    variables = set(DECLARED) | API_GATEWAY_VARIABLES
    return sorted(variables - set(FUNCTION_LEVEL_VARIABLES) - LOCAL_ONLY_VARIABLES - SERVE_ONLY_VARIABLES)


def parameter_of(template: dict[str, Any], variable: str) -> dict[str, Any]:
    """The parameter a variable of the functions' Globals is wired to."""
    value = template["Globals"]["Function"]["Environment"]["Variables"][variable]
    if variable in REDIS_STACK_VARIABLES:
        value = value["Fn::If"][2]
    parameter: dict[str, Any] = template["Parameters"][value["Ref"]]
    return parameter


@pytest.mark.parametrize("variable", setting_variables())
def test_every_setting_reaches_the_functions_from_a_template_parameter(
    template: dict[str, Any], variable: str
) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    assert variable in variables
    value = variables[variable]
    if variable in REDIS_STACK_VARIABLES:
        condition, _from_stack, value = value["Fn::If"]
        assert condition == "RedisCreated"
    assert set(value) == {"Ref"}
    assert value["Ref"] in template["Parameters"]


def test_every_environment_variable_name_is_a_declared_setting() -> None:
    constants = {value for name, value in vars(names).items() if name.isupper() and value == name}

    assert constants - set(DECLARED) == set()


@pytest.mark.parametrize("variable", setting_variables())
def test_a_parameters_default_means_the_settings_default(template: dict[str, Any], variable: str) -> None:
    declaration = DECLARED[variable]
    default = str(parameter_of(template, variable).get("Default", ""))

    # An empty default is "not configured": the function takes the code's default.
    assert declaration.read({variable: default}) == declaration.read(
        {variable: DEPLOY_DEFAULTS.get(variable, "")}
    )


@pytest.mark.parametrize("variable", setting_variables())
def test_a_value_the_template_accepts_is_one_the_settings_accept(
    template: dict[str, Any], variable: str
) -> None:
    """The parameter's range and allowed values lie within the setting's: a deploy CloudFormation
    accepts never fails the functions' cold start."""
    parse, parameter = DECLARED[variable].parse, parameter_of(template, variable)

    if isinstance(parse, Whole | Number):
        if parse.minimum is not None:
            assert parameter.get("MinValue", parse.minimum - 1) >= parse.minimum
        if parse.maximum is not None:
            assert parameter.get("MaxValue", parse.maximum + 1) <= parse.maximum
    for allowed in parameter.get("AllowedValues", []):
        DECLARED[variable].read({variable: str(allowed)})


@pytest.mark.parametrize(("variable", "function"), sorted(FUNCTION_LEVEL_VARIABLES.items()))
def test_a_function_level_setting_is_set_on_its_function_only(
    template: dict[str, Any], variable: str, function: str
) -> None:
    resources = template["Resources"]
    holders = {
        name
        for name, resource in resources.items()
        if variable in resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
    }

    assert holders == {function}
    assert variable not in template["Globals"]["Function"]["Environment"]["Variables"]


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


def test_the_fanout_functions_eventbridge_rules_match_what_producers_send(template: dict[str, Any]) -> None:
    events = template["Resources"]["FanoutFunction"]["Properties"]["Events"]

    patterns = [
        event["Properties"]["Pattern"] for event in events.values() if event["Type"] == "EventBridgeRule"
    ]

    assert sorted(patterns, key=str) == sorted(
        [
            {"source": [EVENTBRIDGE_SOURCE], "detail-type": [EVENTBRIDGE_DETAIL_TYPE]},
            {"source": [TRAINING_EVENTBRIDGE_SOURCE], "detail-type": [TRAINING_DETAIL_TYPE]},
        ],
        key=str,
    )


WEBSOCKET_ROUTES = {"$connect", "$disconnect", "$default", "subscribe", "unsubscribe", "ping"}


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def test_the_websocket_api_selects_routes_by_the_messages_action(template: dict[str, Any]) -> None:
    (api,) = resources_of_type(template, "AWS::ApiGatewayV2::Api").values()

    assert (api["Properties"]["ProtocolType"], api["Properties"]["RouteSelectionExpression"]) == (
        "WEBSOCKET",
        "$request.body.action",
    )


def test_every_websocket_route_is_integrated_with_the_websocket_function(template: dict[str, Any]) -> None:
    routes = resources_of_type(template, "AWS::ApiGatewayV2::Route").values()
    (integration,) = resources_of_type(template, "AWS::ApiGatewayV2::Integration").values()

    assert {route["Properties"]["RouteKey"] for route in routes} == WEBSOCKET_ROUTES
    assert {route["Properties"]["Target"]["Fn::Sub"] for route in routes} == {
        "integrations/${WebSocketIntegration}"
    }
    assert "${WebSocketFunction.Arn}" in integration["Properties"]["IntegrationUri"]["Fn::Sub"]


def test_only_connect_is_authorized_with_the_token_from_the_query_string(template: dict[str, Any]) -> None:
    routes = resources_of_type(template, "AWS::ApiGatewayV2::Route").values()
    (authorizer,) = resources_of_type(template, "AWS::ApiGatewayV2::Authorizer").values()

    authorized = {
        route["Properties"]["RouteKey"] for route in routes if "AuthorizerId" in route["Properties"]
    }

    assert authorized == {"$connect"}
    assert authorizer["Properties"]["IdentitySource"] == ["route.request.querystring.token"]
    assert "${AuthorizerFunction.Arn}" in authorizer["Properties"]["AuthorizerUri"]["Fn::Sub"]


def manage_connections_holders(template: dict[str, Any]) -> dict[str, list[Any]]:
    holders: dict[str, list[Any]] = {}
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if "execute-api:ManageConnections" in str(statement.get("Action")):
                    holders.setdefault(name, []).append(statement["Resource"])
    return holders


def test_only_the_fanout_function_may_post_to_connections_of_this_api(template: dict[str, Any]) -> None:
    holders = manage_connections_holders(template)

    assert list(holders) == ["FanoutFunction"]
    (resource,) = holders["FanoutFunction"]
    assert resource["Fn::Sub"].endswith(":${WebSocketApi}/${WebSocketStageName}/POST/@connections/*")


# Each function that serves requests runs at the memory size its parameter sets (the power-tuning
# bench's recommendation by default); the others at FunctionMemorySize.
MEMORY_PARAMETERS = {
    "ProxyFunction": "ProxyMemorySize",
    "AuthorizerFunction": "AuthorizerMemorySize",
    "PolicyFunction": "PolicyMemorySize",
    "WebSocketFunction": "WebSocketMemorySize",
    "FanoutFunction": "FunctionMemorySize",
}


@pytest.mark.parametrize(("function", "parameter"), sorted(MEMORY_PARAMETERS.items()))
def test_each_function_runs_at_the_memory_size_of_its_own_parameter(
    template: dict[str, Any], function: str, parameter: str
) -> None:
    functions = read_http_api(TEMPLATE, {}).functions

    assert functions[function].memory_mb == int(template["Parameters"][parameter]["Default"])

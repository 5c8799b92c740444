"""Reads ``template.yaml``'s WebSocket API: its routes, their integrations' functions, its authorizer.

An ``AWS::ApiGatewayV2::Api`` with ``ProtocolType: WEBSOCKET``, the ``AWS::ApiGatewayV2::Route``s whose
``ApiId`` refers to it (``RouteKey``, ``AuthorizationType``, ``AuthorizerId``, ``Target:
integrations/<Integration>``), each ``AWS::ApiGatewayV2::Integration``'s ``IntegrationUri`` (the
function it invokes), the ``AWS::ApiGatewayV2::Authorizer`` (``IdentitySource``, ``AuthorizerUri``) and
the ``AWS::ApiGatewayV2::Stage``. A template without a WebSocket API gives ``None``: nothing to serve.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakery_gateway import bounded_json
from bakery_gateway.api.platform_limits import WEBSOCKET_MESSAGE_BYTES
from bakery_local.template import FUNCTION_TYPE, Resolver, TemplateError, load_template

API_TYPE = "AWS::ApiGatewayV2::Api"
ROUTE_TYPE = "AWS::ApiGatewayV2::Route"
INTEGRATION_TYPE = "AWS::ApiGatewayV2::Integration"
AUTHORIZER_TYPE = "AWS::ApiGatewayV2::Authorizer"
STAGE_TYPE = "AWS::ApiGatewayV2::Stage"
DEFAULT_ROUTE = "$default"
CONNECT_ROUTE = "$connect"
DISCONNECT_ROUTE = "$disconnect"
_QUERY_SOURCE = "route.request.querystring."
_HEADER_SOURCE = "route.request.header."


@dataclass(frozen=True)
class WebSocketAuthorizerSpec:
    name: str  # the authorizer's logical id
    function: str  # logical id of the Lambda function
    identity_query: tuple[str, ...] = ()  # query string parameter names (route.request.querystring.x)
    identity_headers: tuple[str, ...] = ()  # lower-case header names (route.request.header.x)


@dataclass(frozen=True)
class WebSocketRouteSpec:
    route_key: str  # $connect, $disconnect, $default or a selected value such as "subscribe"
    function: str  # logical id of the integration's function
    authorizer: str | None = None  # the authorizer's logical id (CUSTOM authorization, $connect only)


@dataclass(frozen=True)
class WebSocketApiSpec:
    name: str  # the API's logical id
    route_selection_expression: str  # e.g. $request.body.action
    routes: Mapping[str, WebSocketRouteSpec]
    authorizers: Mapping[str, WebSocketAuthorizerSpec] = field(default_factory=dict)
    stage: str = "$default"

    def select_route(self, body: str) -> WebSocketRouteSpec | None:
        """The route a message goes to: the selection expression's value, else ``$default``."""
        selected = select_value(self.route_selection_expression, body)
        if selected is not None and selected in self.routes and not selected.startswith("$"):
            return self.routes[selected]
        return self.routes.get(DEFAULT_ROUTE)


def select_value(expression: str, body: str) -> str | None:
    """``$request.body.a.b`` evaluated on a JSON message; None when the body has no such string."""
    prefix = "$request.body."
    if not expression.startswith(prefix):
        return None
    try:
        value: Any = bounded_json.loads(body, max_bytes=WEBSOCKET_MESSAGE_BYTES)
    except ValueError:
        return None
    for part in expression[len(prefix) :].split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, str) else None


def read_websocket_api(
    template_path: Path, environ: Mapping[str, str] | None = None
) -> WebSocketApiSpec | None:
    """The WebSocket API of ``template_path``, or None when the template declares none."""
    template = load_template(template_path)
    resolver = Resolver(template, os.environ if environ is None else environ)
    resources: Mapping[str, Any] = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    functions = {name for name, resource in resources.items() if resource.get("Type") == FUNCTION_TYPE}
    apis = [
        name
        for name, resource in resources.items()
        if resource.get("Type") == API_TYPE
        and str(resolver.resolve(resource.get("Properties", {})).get("ProtocolType", "")).upper()
        == "WEBSOCKET"
    ]
    if not apis:
        return None
    if len(apis) > 1:
        raise TemplateError(f"expected at most one WebSocket {API_TYPE}, found {len(apis)}")
    api_id = apis[0]

    def of_api(resource_type: str) -> dict[str, dict[str, Any]]:
        found = {}
        for name, resource in resources.items():
            if resource.get("Type") != resource_type:
                continue
            properties = resolver.resolve(resource.get("Properties", {}))
            if properties.get("ApiId") == api_id:
                found[name] = properties
        return found

    api = resolver.resolve(resources[api_id].get("Properties", {}))
    integrations = {
        name: _function_of(name, properties.get("IntegrationUri"), functions)
        for name, properties in of_api(INTEGRATION_TYPE).items()
    }
    authorizers = {
        name: _authorizer_spec(name, properties, functions)
        for name, properties in of_api(AUTHORIZER_TYPE).items()
    }
    routes = {}
    for name, properties in of_api(ROUTE_TYPE).items():
        route_key = str(properties["RouteKey"])
        target = str(properties.get("Target", ""))
        integration = target.removeprefix("integrations/")
        if integration not in integrations:
            raise TemplateError(f"route {name}: Target {target!r} is not integrations/<Integration>")
        custom = str(properties.get("AuthorizationType", "NONE")).upper() == "CUSTOM"
        authorizer = properties.get("AuthorizerId") if custom else None
        if authorizer is not None and authorizer not in authorizers:
            raise TemplateError(f"route {name}: AuthorizerId {authorizer!r} is not an {AUTHORIZER_TYPE}")
        routes[route_key] = WebSocketRouteSpec(route_key, integrations[integration], authorizer)
    stages = [str(properties.get("StageName", "$default")) for properties in of_api(STAGE_TYPE).values()]
    return WebSocketApiSpec(
        name=api_id,
        route_selection_expression=str(api.get("RouteSelectionExpression", "$request.body.action")),
        routes=routes,
        authorizers=authorizers,
        stage=stages[0] if stages else "$default",
    )


def _function_of(owner: str, uri: Any, functions: set[str]) -> str:
    """The function an ``IntegrationUri``/``AuthorizerUri`` invokes (``.../functions/<Fn>/invocations``,
    ``!GetAtt Fn.Arn`` or ``Fn.Arn`` inside a ``!Sub``)."""
    if isinstance(uri, dict) and "GetAtt" in uri and uri["GetAtt"][0] in functions:
        return str(uri["GetAtt"][0])
    text = json.dumps(uri)
    named = [name for name in functions if re.search(rf"\b{re.escape(name)}\b", text)]
    if len(named) != 1:
        raise TemplateError(f"{owner}: cannot tell which function {text} invokes")
    return named[0]


def _authorizer_spec(
    name: str, properties: Mapping[str, Any], functions: set[str]
) -> WebSocketAuthorizerSpec:
    sources = properties.get("IdentitySource") or []
    if isinstance(sources, str):
        sources = [item.strip() for item in sources.split(",")]
    query = tuple(s[len(_QUERY_SOURCE) :] for s in sources if s.startswith(_QUERY_SOURCE))
    headers = tuple(s[len(_HEADER_SOURCE) :].lower() for s in sources if s.startswith(_HEADER_SOURCE))
    return WebSocketAuthorizerSpec(
        name=name,
        function=_function_of(name, properties.get("AuthorizerUri"), functions),
        identity_query=query,
        identity_headers=headers,
    )

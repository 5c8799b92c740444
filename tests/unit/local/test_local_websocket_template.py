"""The local runtime reads the template's WebSocket API: routes, their functions, the authorizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakery_local.websocket_template import WebSocketApiSpec, read_websocket_api, select_value

HTTP_ONLY = """
Resources:
  ProxyFunction:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, CodeUri: functions/proxy/}
"""

WEBSOCKET = (
    HTTP_ONLY
    + """
  WebSocketFunction:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, CodeUri: functions/websocket/}
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, CodeUri: functions/authorizer/}
  WebSocketApi:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: ws
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: $request.body.action
  WebSocketIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref WebSocketApi
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/functions/${WebSocketFunction.Arn}/x
  ConnectAuthorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref WebSocketApi
      AuthorizerType: REQUEST
      IdentitySource: [route.request.querystring.token]
      AuthorizerUri: !GetAtt AuthorizerFunction.Arn
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref WebSocketApi
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref ConnectAuthorizer
      Target: !Join [/, [integrations, !Ref WebSocketIntegration]]
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref WebSocketApi
      RouteKey: $default
      Target: !Sub integrations/${WebSocketIntegration}
  SubscribeRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref WebSocketApi
      RouteKey: subscribe
      Target: !Sub integrations/${WebSocketIntegration}
  WebSocketStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref WebSocketApi, StageName: prod, AutoDeploy: true}
"""
)


def read(tmp_path: Path, text: str) -> WebSocketApiSpec | None:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return read_websocket_api(path, environ={})


@pytest.fixture
def api(tmp_path: Path) -> WebSocketApiSpec:
    spec = read(tmp_path, WEBSOCKET)
    assert spec is not None
    return spec


def test_a_template_without_a_websocket_api_serves_none(tmp_path: Path) -> None:
    assert read(tmp_path, HTTP_ONLY) is None


def test_each_route_invokes_its_integrations_function(api: WebSocketApiSpec) -> None:
    assert {key: route.function for key, route in api.routes.items()} == {
        "$connect": "WebSocketFunction",
        "$default": "WebSocketFunction",
        "subscribe": "WebSocketFunction",
    }


def test_only_the_connect_route_has_the_authorizer(api: WebSocketApiSpec) -> None:
    assert {key for key, route in api.routes.items() if route.authorizer} == {"$connect"}


def test_the_authorizer_reads_its_function_and_query_string_identity(api: WebSocketApiSpec) -> None:
    authorizer = api.authorizers["ConnectAuthorizer"]

    assert (authorizer.function, authorizer.identity_query, authorizer.identity_headers) == (
        "AuthorizerFunction",
        ("token",),
        (),
    )


def test_the_stage_and_selection_expression_come_from_the_template(api: WebSocketApiSpec) -> None:
    assert (api.stage, api.route_selection_expression) == ("prod", "$request.body.action")


def test_a_message_goes_to_the_route_its_action_names(api: WebSocketApiSpec) -> None:
    route = api.select_route('{"action": "subscribe", "topic": "alerts"}')

    assert route is not None
    assert route.route_key == "subscribe"


@pytest.mark.parametrize(
    "body", ['{"action": "nope"}', "not json", '{"action": "$connect"}', '{"action": 1}']
)
def test_a_message_without_a_known_action_goes_to_the_default_route(api: WebSocketApiSpec, body: str) -> None:
    route = api.select_route(body)

    assert route is not None
    assert route.route_key == "$default"


def test_a_nested_selection_expression_follows_the_path() -> None:
    assert select_value("$request.body.meta.kind", '{"meta": {"kind": "x"}}') == "x"

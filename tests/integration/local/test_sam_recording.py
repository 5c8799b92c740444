"""The event `sam local generate-event apigateway http-api-proxy` records, through the proxy function.

The recording is kept verbatim in tests/events/; the tests adapt a copy through ``load_event``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import HTTP_API_PROXY_SAM, load_event
from tests.support.lambda_gateway import PROXY_ROUTE_KEY, LambdaGateway, assert_problem
from tests.support.stub_service import StubService


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", roles=["owner"])


def routed_recording(gateway: LambdaGateway, verdict_on: str, **overrides: Any) -> dict[str, Any]:
    """The recorded POST, given our route, a path of ours and our authorizer's verdict on a token."""
    return load_event(
        HTTP_API_PROXY_SAM,
        route_key=PROXY_ROUTE_KEY,
        path="/api/v1/sales/orders",
        authorizer=gateway.context_for(verdict_on),
        **overrides,
    )


def test_the_sam_recording_routed_to_a_service_is_forwarded_whole(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    # GIVEN the recorded POST, given our route, a path of ours, the token and our authorizer's verdict
    event = routed_recording(gateway, token, token=token)

    # WHEN the proxy function handles it
    response = gateway.invoke(event)

    # THEN the service receives everything the recording carries, and the identity of the token
    assert response.status == 200
    request = stub_service.last_request
    assert request.method == "POST"
    assert request.path == "/sales-svc/api/v1/sales/orders"
    assert request.query == "parameter1=value1&parameter1=value2&parameter2=value"
    assert request.body == b'{"test":"body"}'
    assert request.header_values("cookie") == ["cookie1; cookie2"]
    assert request.header_values("header1") == ["value1"]
    assert request.header_values("header2") == ["value1,value2"]
    assert request.header_values("x-forwarded-for") == ["192.168.0.1/32"]
    assert request.header_values("x-user-id") == ["user-1"]
    assert request.header_values("x-tenant-id") == ["tenant-a"]


def test_the_sam_recording_on_a_named_stage_is_routed_the_same(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    event = routed_recording(gateway, token, stage="prod")

    assert gateway.invoke(event).status == 200
    assert stub_service.last_request.path == "/sales-svc/api/v1/sales/orders"


def test_the_sam_recording_with_its_jwt_authorizer_context_is_refused_401(
    gateway: LambdaGateway, stub_service: StubService
) -> None:
    # Its requestContext.authorizer is a JWT authorizer's claims, not our Lambda authorizer's verdict.
    event = load_event(HTTP_API_PROXY_SAM, route_key=PROXY_ROUTE_KEY, path="/api/v1/sales/orders")

    assert_problem(gateway.invoke(event), 401, "invalid-token")
    assert stub_service.requests == []


def test_the_sam_recording_as_recorded_is_a_404_problem(gateway: LambdaGateway) -> None:
    # /path/to/resource is no route of ours.
    assert_problem(gateway.invoke(load_event(HTTP_API_PROXY_SAM)), 404, "not-found")

"""Events as `sam local start-api` sends them (recorded from it), through the real functions.

SAM's emulator differs from API Gateway in shapes the functions must accept (``edge/lambda_event.py``): header
names as the client spelled them, the ``Cookie`` header beside a parsed ``cookies`` list, the
request's method in the route key of an ``ANY`` route, ``"stageVariables": null``.
"""

from __future__ import annotations

from typing import Any

from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import (
    SAM_LOCAL_AUTHORIZER_REQUEST,
    SAM_LOCAL_PROXY,
    SAM_LOCAL_STREAM_AUTHORIZER_REQUEST,
    load_event,
)
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse
from tests.support.stub_service import StubService


def through_sam(gateway: LambdaGateway, token: str, **overrides: Any) -> ProxyResponse:
    """What SAM's emulator does for a request to an authorized route: the recorded authorizer event
    with ``token``, then the recorded proxy event with the authorizer's context."""
    verdict = gateway.invoke_authorizer(load_event(SAM_LOCAL_AUTHORIZER_REQUEST, token=token), [token])
    return gateway.invoke(
        load_event(SAM_LOCAL_PROXY, token=token, authorizer=verdict["context"], **overrides)
    )


def test_sams_recorded_request_reaches_the_service_with_the_tokens_identity(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="u-1", tenant_id="bakery-1", roles=["owner"])

    response = through_sam(gateway, token)

    assert response.status == 200
    request = stub_service.last_request
    assert (request.method, request.path) == ("POST", "/sales-svc/api/v1/sales/items")
    assert request.query == "day=mon&day=tue&q=a%20b", "repeated keys and encoding kept"
    assert request.header_values("x-user-id") == ["u-1"], "the client's X-User-Id is dropped"
    assert request.header_values("x-tenant-id") == ["bakery-1"]
    assert request.header_values("x-request-id") == ["req-1"]
    assert request.header_values("cookie") == ["theme=dark; lang=fr"]
    assert request.body == b'{"item":"flour"}'


def test_a_public_any_route_in_sams_spelling_needs_no_token(
    gateway: LambdaGateway, stub_service: StubService
) -> None:
    # SAM names POST /api/v1/demo/sessions's route "POST /api/v1/demo/{proxy+}" (API Gateway: "ANY ...").
    event = load_event(
        SAM_LOCAL_PROXY,
        path="/api/v1/demo/accounts",
        method="GET",
        route_key="GET /api/v1/demo/{proxy+}",
        authorizer=None,
    )
    del event["headers"]["Authorization"]

    response = gateway.invoke(event)

    assert response.status == 200
    assert stub_service.last_request.path == "/demo-svc/api/v1/demo/accounts"


def test_a_query_token_on_the_stream_route_is_verified_from_sams_event(
    gateway: LambdaGateway, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="u-1", tenant_id="bakery-1")
    event = load_event(SAM_LOCAL_STREAM_AUTHORIZER_REQUEST, query=f"tenant_id=bakery-1&token={token}")

    verdict = gateway.invoke_authorizer(event, [token])

    assert verdict["context"]["authenticated"] is True
    assert verdict["context"]["user_id"] == "u-1"

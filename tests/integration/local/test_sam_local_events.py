"""Events as `sam local start-api` sends them (recorded from it), through the real functions.

SAM's emulator differs from API Gateway in shapes the functions must accept (``events.py``): header
names as the client spelled them, the ``Cookie`` header beside a parsed ``cookies`` list, the
request's method in the route key of an ``ANY`` route, ``"stageVariables": null``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bakery_local.dev_tokens import DevKeyPair
from bakery_local.invoker import LambdaContext
from tests.support.events import (
    SAM_LOCAL_AUTHORIZER_REQUEST,
    SAM_LOCAL_PROXY,
    SAM_LOCAL_STREAM_AUTHORIZER_REQUEST,
    load_event,
)
from tests.support.lambda_gateway import ProxyResponse, assert_nothing_leaks
from tests.support.lambda_runtime import AUTHORIZER_MODULE, PROXY_MODULE, LambdaRuntime
from tests.support.stub_service import StubService

Handler = Any


@pytest.fixture
def functions(lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]) -> tuple[Handler, Handler]:
    """The authorizer's and the proxy's handlers, cold-started with the gateway's environment."""
    authorizer = lambda_runtime.cold_start(AUTHORIZER_MODULE, gateway_environment)
    proxy = lambda_runtime.cold_start(PROXY_MODULE, gateway_environment)
    return authorizer.handler, proxy.handler


def through_sam(functions: tuple[Handler, Handler], token: str, **overrides: Any) -> ProxyResponse:
    """What SAM's emulator does for a request to an authorized route: the recorded authorizer event
    with ``token``, then the recorded proxy event with the authorizer's context."""
    authorize, proxy = functions
    verdict = authorize(load_event(SAM_LOCAL_AUTHORIZER_REQUEST, token=token), LambdaContext())
    event = load_event(SAM_LOCAL_PROXY, token=token, authorizer=verdict["context"], **overrides)
    response = ProxyResponse(proxy(event, LambdaContext()))
    assert_nothing_leaks(response.body.decode("latin-1"), token)
    return response


def test_sams_recorded_request_reaches_the_service_with_the_tokens_identity(
    functions: tuple[Handler, Handler], stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="u-1", tenant_id="bakery-1", roles=["owner"])

    response = through_sam(functions, token)

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
    functions: tuple[Handler, Handler], stub_service: StubService
) -> None:
    # SAM names POST /api/v1/demo/sessions's route "POST /api/v1/demo/{proxy+}" (API Gateway: "ANY ...").
    _, proxy = functions
    event = load_event(
        SAM_LOCAL_PROXY,
        path="/api/v1/demo/accounts",
        method="GET",
        route_key="GET /api/v1/demo/{proxy+}",
        authorizer=None,
    )
    del event["headers"]["Authorization"]

    response = ProxyResponse(proxy(event, LambdaContext()))

    assert response.status == 200
    assert stub_service.last_request.path == "/demo-svc/api/v1/demo/accounts"


def test_a_query_token_on_the_stream_route_is_verified_from_sams_event(
    functions: tuple[Handler, Handler], dev_keys: DevKeyPair
) -> None:
    authorize, _ = functions
    token = dev_keys.mint(user_id="u-1", tenant_id="bakery-1")
    event = load_event(SAM_LOCAL_STREAM_AUTHORIZER_REQUEST, query=f"tenant_id=bakery-1&token={token}")

    verdict = authorize(event, LambdaContext())

    assert verdict["context"]["authenticated"] is True
    assert verdict["context"]["user_id"] == "u-1"

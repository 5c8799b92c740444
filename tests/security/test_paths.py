"""Path tricks: none reaches a service other than the one the normalised path names, none skips the
authorizer. Each trick is sent as an API Gateway event to the real handlers (``gateway``) and as raw
bytes to the local runtime (``runtime``), since HTTP client libraries would normalise it first."""

from __future__ import annotations

import pytest

from tests.e2e.runtime import RunningGateway
from tests.security.raw_http import get
from tests.support.lambda_gateway import LambdaGateway
from tests.support.stub_service import StubService

# Each starts under the sales service and, decoded or resolved, would name another one (or escape /api/v1).
TRICKS = {
    "dot-dot": "/api/v1/sales/../auth/users",
    "dot-dot at the end": "/api/v1/sales/orders/..",
    "single dot": "/api/v1/sales/./orders",
    "encoded dot-dot": "/api/v1/sales/%2e%2e/auth/users",
    "upper-case encoded dot-dot": "/api/v1/sales/%2E%2E/auth/users",
    "half-encoded dot-dot": "/api/v1/sales/.%2e/auth/users",
    "encoded slash": "/api/v1/sales%2f..%2fauth/users",
    "encoded slash in a segment": "/api/v1/sales/a%2F..%2F..%2Fauth",
    "double-encoded dot-dot": "/api/v1/sales/%252e%252e/auth/users",
    "double-encoded slash": "/api/v1/sales/..%252fauth/users",
    "backslash encoded": "/api/v1/sales/..%5cauth/users",
    "null byte": "/api/v1/sales/orders%00.json",
    "line feed": "/api/v1/sales/orders%0d%0aX-User-ID:%20admin",
    "overlong utf-8 dot": "/api/v1/sales/%c0%ae%c0%ae/auth/users",
    "empty segment": "/api/v1/sales//auth/users",
    "overlong path": "/api/v1/sales/" + "a/" * 2000,
}
# Starting under a public route (no authorizer at API Gateway), then naming a protected service.
PUBLIC_ESCAPES = {
    "demo dot-dot": "/api/v1/demo/../sales/orders",
    "demo encoded dot-dot": "/api/v1/demo/%2e%2e/sales/orders",
    "demo encoded slash": "/api/v1/demo/..%2fsales/orders",
    "demo double-encoded": "/api/v1/demo/%252e%252e/sales/orders",
    "demo backslash": "/api/v1/demo/..%5csales/orders",
}


@pytest.mark.parametrize("path", TRICKS.values(), ids=TRICKS.keys())
def test_a_path_trick_is_refused_before_any_service(
    gateway: LambdaGateway, stub_service: StubService, token: str, path: str
) -> None:
    response = gateway.request("GET", path, token=token)

    # 400 from the router; a line feed already fails to match the proxy's route (404).
    assert response.status in (400, 404), response.raw
    assert stub_service.requests == []


@pytest.mark.parametrize("path", PUBLIC_ESCAPES.values(), ids=PUBLIC_ESCAPES.keys())
def test_a_public_route_cannot_be_escaped_into_a_protected_service(
    gateway: LambdaGateway, stub_service: StubService, path: str
) -> None:
    response = gateway.request("POST", path)  # no token: API Gateway routed it to the public demo route

    assert response.status == 400, response.raw
    assert stub_service.requests == []


def test_an_encoded_letter_is_read_as_the_letter_and_goes_to_the_service_the_path_names(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request("GET", "/api/v1/%73ales/orders", token=token)  # %73 = "s"

    assert response.status == 200
    assert stub_service.last_request.path.startswith("/sales-svc/")


# --- the same tricks as bytes on the wire, through the local runtime ---------------------------------
@pytest.mark.parametrize(
    "path", [*TRICKS.values(), "/api/v1/sales/..\\auth/users"], ids=[*TRICKS, "backslash"]
)
def test_a_path_trick_on_the_wire_reaches_no_service(
    runtime: RunningGateway, received: StubService, token: str, path: str
) -> None:
    response = get(runtime.url, path, token)

    assert 400 <= response.status < 500, response
    assert received.requests == []


@pytest.mark.parametrize("path", [*TRICKS.values(), *PUBLIC_ESCAPES.values()], ids=[*TRICKS, *PUBLIC_ESCAPES])
def test_a_path_trick_without_a_token_never_reaches_a_service(
    runtime: RunningGateway, received: StubService, path: str
) -> None:
    response = get(runtime.url, path)

    assert 400 <= response.status < 500, response
    assert received.requests == []


def test_a_raw_null_byte_in_the_request_line_is_refused(
    runtime: RunningGateway, received: StubService
) -> None:
    response = get(runtime.url, "/api/v1/sales/orders\x00/../../auth")

    assert response.status in (0, 400)
    assert received.requests == []

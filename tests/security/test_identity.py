"""A client can never choose its identity: copies of the gateway's identity headers are dropped, and
``X-Forwarded-For`` neither reaches a service as sent nor moves a client to another rate-limit bucket."""

from __future__ import annotations

import json

import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.runtime import RunningGateway
from tests.integration.conftest import GatewayStarter
from tests.security.raw_http import request_bytes, send_raw
from tests.support.lambda_gateway import LambdaGateway, assert_problem
from tests.support.stub_service import StubService

PATH = "/api/v1/sales/orders"
FORGED = {
    "x-user-id": "admin",
    "x-user-roles": "admin,superuser",
    "x-demo-session-id": "someone-elses-session",
    "x-demo-account-type": "enterprise",
    "x-forwarded-for": "10.0.0.1",
    "x-forwarded-host": "internal.bakery.example",
    "x-forwarded-proto": "http",
    "forwarded": "for=10.0.0.1;proto=http",
    "x-request-id": "req-0001",  # a sane id: kept, but as the gateway's own single header
}


def test_forged_identity_headers_never_reach_the_service(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    assert gateway.request("GET", PATH, token=token, headers=FORGED).status == 200

    received = stub_service.last_request
    assert received.header_values("x-user-id") == ["user-1"]
    assert received.header_values("x-user-roles") == ["owner"]
    assert received.header_values("x-tenant-id") == ["tenant-a"]
    assert "x-demo-session-id" not in received.header_names
    assert "x-demo-account-type" not in received.header_names
    assert "forwarded" not in received.header_names
    assert received.header_values("x-forwarded-for") == ["203.0.113.10"]  # API Gateway's sourceIp
    # One value: the proxy's own (API Gateway sets X-Forwarded-Proto in front of it).
    assert len(received.header_values("x-forwarded-proto")) == 1
    assert received.header_values("x-forwarded-host") != ["internal.bakery.example"]
    assert received.header_values("x-request-id") == ["req-0001"]


@pytest.mark.parametrize("name", ["X-User-ID", "x-USER-id", "X-User-Roles", "X-Demo-Session-Id"])
def test_forged_identity_headers_are_dropped_whatever_their_case(
    gateway: LambdaGateway, stub_service: StubService, token: str, name: str
) -> None:
    gateway.request("GET", PATH, token=token, headers={name: "forged"})

    assert "forged" not in [value for _, value in stub_service.last_request.headers]


def test_a_public_route_passes_on_no_identity_a_client_sends(
    gateway: LambdaGateway, stub_service: StubService
) -> None:
    body = json.dumps({"email": "baker@example.com", "password": "wrong"})

    gateway.request("POST", "/api/v1/auth/login", body=body, headers={**FORGED, "x-tenant-id": "tenant-b"})

    received = stub_service.last_request
    for name in ("x-user-id", "x-user-roles", "x-tenant-id", "x-demo-session-id", "x-demo-account-type"):
        assert name not in received.header_names, name


def test_x_tenant_id_of_a_tenant_not_in_the_token_is_refused_not_used(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request("GET", PATH, token=token, headers={"x-tenant-id": "tenant-b"})

    assert_problem(response, 403, "tenant-forbidden")
    assert stub_service.requests == []


def test_a_token_whose_demo_claims_lack_a_session_gets_no_demo_identity(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    # is_demo without a live session record: the session is looked up, never taken from the token.
    token = dev_keys.mint(
        user_id="user-1",
        tenant_id="tenant-a",
        extra_claims={"is_demo": True, "demo_session_id": "made-up", "demo_account_type": "enterprise"},
    )

    response = gateway.request("GET", PATH, token=token)

    assert response.status == 401
    assert stub_service.requests == []


def test_x_forwarded_for_does_not_escape_the_login_rate_limit_per_address(
    start_gateway: GatewayStarter, stub_service: StubService
) -> None:
    gateway = start_gateway(
        **{names.LOGIN_RATE_LIMIT_IP_REQUESTS: "2", names.LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS: "600"}
    )

    statuses = [
        gateway.request(
            "POST",
            "/api/v1/auth/login",
            body=json.dumps({"email": f"user{attempt}@example.com", "password": "guess"}),
            headers={"content-type": "application/json", "x-forwarded-for": f"198.51.100.{attempt}"},
            source_ip="203.0.113.66",
        ).status
        for attempt in range(4)
    ]

    assert statuses == [200, 200, 429, 429]
    assert len(stub_service.requests) == 2


def test_x_forwarded_for_does_not_escape_the_per_user_rate_limit(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(**{names.RATE_LIMIT_REQUESTS: "2", names.RATE_LIMIT_WINDOW_SECONDS: "600"})
    context = gateway.context_for(token)

    statuses = [
        gateway.request(
            "GET", PATH, context=context, token=token, headers={"x-forwarded-for": f"198.51.100.{attempt}"}
        ).status
        for attempt in range(3)
    ]

    assert statuses == [200, 200, 429]


# Spellings a WSGI server (or nginx with underscores_in_headers) reads as the gateway's own headers,
# and members of the families only the gateway speaks for.
RESPELLED = {
    "X_User_ID": "admin",
    "X_Tenant_ID": "tenant-b",
    "X_User_Roles": "admin",
    "X_Demo_Session_Id": "someone-elses-session",
    "X_Demo_Account_Type": "enterprise",
    "X_Request_ID": "req-forged",
    "X-Demo-Tenant": "tenant-b",
    "X-Demo-Anything": "forged",
    "X_Forwarded_For": "10.0.0.1",
    "X-Forwarded-Prefix": "/admin",
    "X-Forwarded-Server": "internal.bakery.example",
    "X-Forwarded-Ssl": "on",
    "X-Forwarded-Scheme": "http",
    "X-Forwarded-Uri": "/api/v1/admin",
    "X-Forwarded-Client-Cert": "forged",
    "X_API_Key": "bk_forged",
}


@pytest.mark.parametrize(("name", "value"), sorted(RESPELLED.items()))
def test_an_identity_header_in_any_spelling_never_reaches_the_service(
    gateway: LambdaGateway, stub_service: StubService, token: str, name: str, value: str
) -> None:
    assert gateway.request("GET", PATH, token=token, headers={name: value}).status == 200

    received = stub_service.last_request
    assert name.lower() not in received.header_names
    assert value not in [received_value for _, received_value in received.headers]


def test_x_forwarded_proto_is_the_gateways_own_on_the_wire(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    # The runtime is reached over http: a client claiming anything else is not believed.
    headers = [
        ("Authorization", f"Bearer {token}"),
        ("X-Forwarded-Proto", "https"),
        ("X_Forwarded_Proto", "gopher"),
    ]

    response = send_raw(runtime.url, request_bytes("GET", PATH, headers))

    assert response.status == 200
    assert received.last_request.header_values("x-forwarded-proto") == ["http"]
    assert "x_forwarded_proto" not in received.last_request.header_names

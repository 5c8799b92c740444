"""The proxy function forwards requests and answers unchanged: query, headers, bodies, cookies, ids."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from bakery_local.dev_tokens import DevKeyPair
from tests.support.demo_sessions import start_demo_session
from tests.support.lambda_gateway import LambdaGateway
from tests.support.stub_service import StubService

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\x00\xff" * 64


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", roles=["owner", "baker"])


# --- the request, as the service receives it -----------------------------------------------------
def test_repeated_query_keys_reach_the_service_in_order(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    gateway.request("GET", "/api/v1/sales/orders", token=token, query="status=open&tag=a&tag=b&empty=")

    assert stub_service.last_request.query == "status=open&tag=a&tag=b&empty="


def test_a_binary_body_arrives_byte_identical(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    body = os.urandom(4096) + PNG

    response = gateway.request(
        "POST",
        "/api/v1/pos/uploads",
        token=token,
        body=body,
        headers={"content-type": "application/octet-stream"},
    )

    assert response.status == 200
    assert stub_service.last_request.body == body
    assert stub_service.last_request.header("content-length") == str(len(body))


def test_a_text_body_arrives_unchanged(gateway: LambdaGateway, stub_service: StubService, token: str) -> None:
    body = '{"product": "pain au chocolat", "qty": 12, "note": "ñ€"}'

    gateway.request(
        "POST", "/api/v1/orders/", token=token, body=body, headers={"content-type": "application/json"}
    )

    assert stub_service.last_request.body == body.encode()


def test_a_binary_answer_comes_back_base64_encoded(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(200, [("Content-Type", "image/png")], PNG)

    response = gateway.request("GET", "/api/v1/recipes/1/photo", token=token)

    assert response.is_base64
    assert response.body == PNG
    assert response.headers["content-type"] == "image/png"


def test_a_json_answer_comes_back_as_text(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(200, [("Content-Type", "application/json")], b'{"items": []}')

    response = gateway.request("GET", "/api/v1/inventory/stock", token=token)

    assert not response.is_base64
    assert response.raw["body"] == '{"items": []}'


def test_every_set_cookie_of_the_service_comes_back_in_cookies(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(
        200,
        [
            ("Set-Cookie", "session=abc; Path=/; HttpOnly"),
            ("Set-Cookie", "theme=dark; Path=/"),
            ("Content-Type", "text/plain"),
        ],
        b"ok",
    )

    response = gateway.request("GET", "/api/v1/auth/me", token=token)

    assert response.cookies == ["session=abc; Path=/; HttpOnly", "theme=dark; Path=/"]
    assert "set-cookie" not in response.headers


def test_the_clients_cookies_reach_the_service_as_one_cookie_header(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    gateway.request("GET", "/api/v1/sales/", token=token, cookies=["a=1", "b=2"])

    assert stub_service.last_request.header_values("cookie") == ["a=1; b=2"]


def test_a_multi_value_request_header_reaches_the_service_whole(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    # HTTP API joins the values of a repeated header with commas into one header.
    gateway.request(
        "GET", "/api/v1/sales/", token=token, headers={"accept": "text/csv, application/json;q=0.9"}
    )

    assert stub_service.last_request.header_values("accept") == ["text/csv, application/json;q=0.9"]


def test_a_non_ascii_request_header_reaches_the_service_as_the_bytes_the_client_sent(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    # API Gateway hands a header's UTF-8 bytes over as text; they go on unchanged, not as a 500.
    response = gateway.request("GET", "/api/v1/sales/", token=token, headers={"x-bakery-name": "Café Müller"})

    assert response.status == 200
    received = stub_service.last_request.header_values("x-bakery-name")  # read as Latin-1, as HTTP does
    assert [value.encode("latin-1") for value in received] == ["Café Müller".encode()]


def test_the_services_status_and_headers_come_back(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(
        201, [("Content-Type", "text/plain"), ("Location", "/api/v1/orders/9"), ("ETag", '"v1"')], b"made"
    )

    response = gateway.request("POST", "/api/v1/orders/", token=token, body="{}")

    assert response.status == 201
    assert response.headers["location"] == "/api/v1/orders/9"
    assert response.headers["etag"] == '"v1"'
    assert response.body == b"made"


# --- identity headers ----------------------------------------------------------------------------
def test_the_gateway_sends_the_tokens_identity(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    gateway.request("GET", "/api/v1/sales/", token=token)

    request = stub_service.last_request
    assert request.header_values("x-user-id") == ["user-1"]
    assert request.header_values("x-tenant-id") == ["tenant-a"]
    assert request.header_values("x-user-roles") == ["owner,baker"]
    assert request.header_values("authorization") == [f"Bearer {token}"]
    assert "x-demo-session-id" not in request.header_names


def test_a_clients_identity_headers_never_reach_the_service(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    forged = {
        "x-user-id": "admin",
        "x-user-roles": "superadmin",
        "x-demo-session-id": "forged",
        "x-demo-account-type": "enterprise",
        "x-forwarded-for": "10.0.0.1",
    }

    gateway.request("GET", "/api/v1/sales/", token=token, headers=forged)

    request = stub_service.last_request
    assert request.header_values("x-user-id") == ["user-1"]
    assert request.header_values("x-user-roles") == ["owner,baker"]
    assert "x-demo-session-id" not in request.header_names
    assert "x-demo-account-type" not in request.header_names
    assert request.header_values("x-forwarded-for") == ["203.0.113.10"]


def test_a_demo_caller_sends_its_demo_headers(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair, redis_client: redis.Redis
) -> None:
    start_demo_session(redis_client, "session-9", "enterprise", "demo-parent", ("demo-outlet-1",))
    token = dev_keys.mint(
        user_id="demo-user",
        tenant_id="demo-parent",
        tenant_ids=["demo-outlet-1"],
        extra_claims={"is_demo": True, "demo_session_id": "session-9", "demo_account_type": "enterprise"},
    )

    gateway.request("GET", "/api/v1/tenants/demo-outlet-1/sales/summary", token=token)

    request = stub_service.last_request
    assert request.header_values("x-demo-session-id") == ["session-9"]
    assert request.header_values("x-demo-account-type") == ["enterprise"]
    assert request.header_values("x-tenant-id") == ["demo-outlet-1"]


def test_hop_by_hop_headers_of_the_client_are_not_forwarded(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    gateway.request(
        "GET", "/api/v1/sales/", token=token, headers={"te": "trailers", "x-hop": "1", "connection": "x-hop"}
    )

    assert {"te", "x-hop"}.isdisjoint(stub_service.last_request.header_names)


# --- request ids ---------------------------------------------------------------------------------
def test_a_sane_client_request_id_is_kept_forwarded_and_echoed(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request(
        "GET", "/api/v1/sales/", token=token, headers={"x-request-id": "client-req-42"}
    )

    assert response.headers["x-request-id"] == "client-req-42"
    assert stub_service.last_request.header_values("x-request-id") == ["client-req-42"]


def test_an_insane_client_request_id_is_replaced_forwarded_and_echoed(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request(
        "GET", "/api/v1/sales/", token=token, headers={"x-request-id": "<script>alert(1)</script>"}
    )

    replaced = response.headers["x-request-id"]
    assert uuid.UUID(replaced).version == 4
    assert stub_service.last_request.header_values("x-request-id") == [replaced]


def test_the_services_own_request_id_header_does_not_replace_the_gateways(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(200, [("X-Request-ID", "service-invented"), ("Content-Type", "text/plain")], b"ok")

    response = gateway.request(
        "GET", "/api/v1/sales/", token=token, headers={"x-request-id": "client-req-42"}
    )

    assert response.headers["x-request-id"] == "client-req-42"

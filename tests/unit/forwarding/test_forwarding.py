"""Forwarding: which headers reach the service and come back, and how a failing service is reported."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip

import httpx
import pytest

from bakery_gateway.api.identity import Identity
from bakery_gateway.errors import (
    BadDownstreamResponseError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from bakery_gateway.forwarding.downstream import (
    ClientOrigin,
    DownstreamResponse,
    Headers,
    downstream_headers,
    forward,
    response_headers,
)
from tests.support.identities import demo_identity, identity

ORIGIN = ClientOrigin(source_ip="203.0.113.10", protocol="https", host="api.bakery-ia.com")
USER = identity(roles=("admin", "baker"))
DEMO_USER = demo_identity(tenant_id="demo-tenant", tenant_ids=("demo-tenant",))
FORGED_IDENTITY = [
    ("x-user-id", "admin"),
    ("x-tenant-id", "someone-elses-tenant"),
    ("x-user-roles", "superadmin"),
    ("x-demo-session-id", "forged-session"),
    ("x-demo-account-type", "enterprise"),
    ("x-request-id", "client-chosen-id"),
    ("x-forwarded-for", "10.0.0.1"),
    ("x-forwarded-proto", "http"),
    ("x-forwarded-host", "internal.example"),
    ("x-forwarded-port", "8080"),
    ("forwarded", "for=10.0.0.1"),
]


def forwarded(
    client_headers: Headers, identity: Identity | None = USER, tenant_id: str | None = "tenant-a"
) -> Headers:
    return downstream_headers(
        client_headers, identity=identity, tenant_id=tenant_id, request_id="gateway-request-id", origin=ORIGIN
    )


def values(headers: Headers, name: str) -> list[str]:
    return [value for key, value in headers if key == name]


# --- request headers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ],
)
def test_hop_by_hop_request_headers_are_dropped(name: str) -> None:
    assert values(forwarded([(name, "x"), ("accept", "application/json")]), name) == []


def test_headers_listed_in_connection_are_dropped() -> None:
    headers = forwarded(
        [("connection", "keep-alive, X-Session-Hop"), ("x-session-hop", "1"), ("x-kept", "2")]
    )

    assert values(headers, "x-session-hop") == []
    assert values(headers, "x-kept") == ["2"]


def test_a_clients_identity_and_forwarding_headers_are_replaced_by_the_gateways() -> None:
    headers = forwarded(FORGED_IDENTITY)

    assert values(headers, "x-user-id") == ["user-1"]
    assert values(headers, "x-tenant-id") == ["tenant-a"]
    assert values(headers, "x-user-roles") == ["admin,baker"]
    assert values(headers, "x-request-id") == ["gateway-request-id"]
    assert values(headers, "x-forwarded-for") == ["203.0.113.10"]
    assert values(headers, "x-forwarded-proto") == ["https"]
    assert values(headers, "x-forwarded-host") == ["api.bakery-ia.com"]
    assert values(headers, "x-forwarded-port") == []
    assert values(headers, "forwarded") == []


def test_a_non_demo_caller_sends_no_demo_headers_even_when_the_client_forged_them() -> None:
    headers = forwarded(FORGED_IDENTITY)

    assert values(headers, "x-demo-session-id") == []
    assert values(headers, "x-demo-account-type") == []


def test_a_demo_caller_sends_its_session_and_account_type() -> None:
    headers = forwarded(FORGED_IDENTITY, identity=DEMO_USER, tenant_id="demo-tenant")

    assert values(headers, "x-demo-session-id") == ["session-1"]
    assert values(headers, "x-demo-account-type") == ["enterprise"]
    assert values(headers, "x-user-id") == ["demo-user"]


def test_without_an_identity_no_identity_header_reaches_the_service() -> None:
    headers = forwarded(FORGED_IDENTITY, identity=None, tenant_id=None)

    names = {name for name, _ in headers}
    assert names.isdisjoint(
        {"x-user-id", "x-tenant-id", "x-user-roles", "x-demo-session-id", "x-demo-account-type"}
    )
    assert values(headers, "x-request-id") == ["gateway-request-id"]


def test_the_selected_tenant_is_the_one_sent() -> None:
    assert values(forwarded([], tenant_id="tenant-b"), "x-tenant-id") == ["tenant-b"]


def test_the_tokens_active_tenant_is_sent_when_none_was_selected() -> None:
    assert values(forwarded([], tenant_id=None), "x-tenant-id") == ["tenant-a"]


def test_a_caller_without_an_active_tenant_sends_no_tenant_header() -> None:
    # a token with --tenants a,b and no --tenant, on a path that names none
    no_active_tenant = dataclasses.replace(USER, tenant_id=None)

    assert values(forwarded([], identity=no_active_tenant, tenant_id=None), "x-tenant-id") == []


def test_authorization_is_forwarded_end_to_end() -> None:
    assert values(forwarded([("authorization", "Bearer abc.def.ghi")]), "authorization") == [
        "Bearer abc.def.ghi"
    ]


def test_end_to_end_headers_keep_their_order_and_repeats() -> None:
    client = [("accept", "text/html"), ("x-custom", "1"), ("accept", "application/json"), ("cookie", "a=1")]

    headers = forwarded(client)

    assert [pair for pair in headers if pair[0] in ("accept", "x-custom", "cookie")] == client


def test_host_and_content_length_are_left_to_the_http_client() -> None:
    headers = forwarded([("host", "api.bakery-ia.com"), ("content-length", "999")])

    assert values(headers, "host") == []
    assert values(headers, "content-length") == []


# --- response headers ----------------------------------------------------------------------------
def test_hop_by_hop_response_headers_are_dropped_and_the_request_id_is_the_gateways() -> None:
    downstream = [
        ("connection", "close, x-internal-hop"),
        ("x-internal-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("content-length", "12"),
        ("x-request-id", "service-made-this-up"),
        ("content-type", "application/json"),
    ]

    headers = response_headers(downstream, "gateway-request-id")

    assert headers == [("content-type", "application/json"), ("x-request-id", "gateway-request-id")]


def test_every_set_cookie_of_the_service_is_kept() -> None:
    downstream = [
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2; HttpOnly"),
        ("content-encoding", "gzip"),
    ]

    headers = response_headers(downstream, "rid")

    assert values(headers, "set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert values(headers, "content-encoding") == ["gzip"]


# --- forward() -----------------------------------------------------------------------------------
async def send_through(
    transport: httpx.AsyncBaseTransport, deadline_seconds: float = 5.0
) -> DownstreamResponse:
    async with httpx.AsyncClient(transport=transport) as client:
        return await forward(
            client,
            method="POST",
            url="http://sales-service:8000/api/v1/sales/orders?a=1",
            headers=[("content-type", "application/json")],
            body=b'{"qty": 2}',
            service="sales",
            deadline_seconds=deadline_seconds,
        )


def failing_with(error: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(handler)


async def test_the_answer_comes_back_raw_without_decoding_its_content() -> None:
    compressed = gzip.compress(b'{"ok": true}')

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.content == b'{"qty": 2}'
        assert request.url.query == b"a=1"
        headers = [("Content-Encoding", "gzip"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        # A stream, as a real transport gives: forward() reads it raw.
        return httpx.Response(201, headers=headers, stream=httpx.ByteStream(compressed))

    answer = await send_through(httpx.MockTransport(handler))

    assert answer.status == 201
    assert answer.body == compressed
    assert ("set-cookie", "a=1") in answer.headers
    assert ("set-cookie", "b=2") in answer.headers


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused"), DownstreamUnavailableError),
        (httpx.ConnectTimeout("slow connect"), DownstreamUnavailableError),
        (httpx.PoolTimeout("pool full"), DownstreamUnavailableError),
        (httpx.ReadTimeout("slow read"), DownstreamTimeoutError),
        (httpx.WriteTimeout("slow write"), DownstreamTimeoutError),
        (httpx.RemoteProtocolError("garbage"), BadDownstreamResponseError),
        (httpx.ReadError("reset"), BadDownstreamResponseError),
    ],
)
async def test_transport_failures_become_the_matching_gateway_error(
    error: Exception, expected: type[Exception]
) -> None:
    with pytest.raises(expected, match="sales service"):
        await send_through(failing_with(error))


async def test_a_service_that_trickles_its_answer_past_the_deadline_times_out() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(DownstreamTimeoutError):
        await send_through(httpx.MockTransport(handler), deadline_seconds=0.05)


@pytest.mark.parametrize(
    "name",
    [
        "x_user_id",
        "x_tenant_id",
        "x_user_roles",
        "x_demo_session_id",
        "x_request_id",
        "x_api_key",
        "x-demo-tenant",
        "x_demo_anything",
        "x-forwarded-prefix",
        "x-forwarded-server",
        "x_forwarded_ssl",
    ],
)
def test_a_gateway_header_in_any_spelling_is_dropped(name: str) -> None:
    sent = forwarded([(name, "forged")])

    assert name not in [sent_name for sent_name, _ in sent]
    assert "forged" not in [value for _, value in sent]


def test_a_look_alike_of_a_gateway_header_is_passed_on() -> None:
    sent = forwarded([("x-user-identifier", "kept"), ("x-demonstration", "kept")])

    assert [value for _, value in sent].count("kept") == 2


@pytest.mark.parametrize("protocol", ["gopher", "", "HTTPS; x"])
def test_a_protocol_other_than_http_or_https_is_sent_as_https(protocol: str) -> None:
    sent = downstream_headers(
        [],
        identity=None,
        tenant_id=None,
        request_id="r",
        origin=ClientOrigin(source_ip="203.0.113.10", protocol=protocol, host="h"),
    )

    assert values(sent, "x-forwarded-proto") == ["https"]


@pytest.mark.parametrize("status", [999, 600, 101, 199])
async def test_a_status_that_is_not_a_final_one_is_an_invalid_answer(status: int) -> None:
    with pytest.raises(BadDownstreamResponseError, match="invalid status"):
        await send_through(
            httpx.MockTransport(lambda request: httpx.Response(status, stream=httpx.ByteStream(b"")))
        )

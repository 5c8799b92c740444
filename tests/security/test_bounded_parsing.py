"""No input reaches a 500: documents nested, huge or malformed, wherever the gateway reads JSON.

Python's parser raises ``RecursionError`` (not ``ValueError``) on ``[`` a thousand deep. Each attack
sends such a document where the gateway parses one — a token's claims, the bodies it reads itself, a
WebSocket message, the alerts ingress — and expects the refusal of that place: 401, 400, or the
protocol's error message, with the connection kept.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from websockets.sync.client import connect

from bakery_gateway import bounded_json
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.runtime import RunningGateway
from tests.support.events import FANOUT_HTTP_API, WEBSOCKET_AUTHORIZER_REQUEST, load_event, load_recording
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.lambda_runtime import AUTHORIZER_MODULE, LambdaRuntime
from tests.support.stub_service import StubService

FANOUT_MODULE = "bakery_functions.fanout.app"
DEEP = "[" * 5000
JSON = {"content-type": "application/json"}
RECEIVE_SECONDS = 5


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def deep_token(segment: str) -> str:
    """A compact JWS whose header or payload is ``[`` a thousand deep (about 1.7 KB, under the 8 KB cap)."""
    header, payload = b64url(b'{"alg":"RS256"}'), b64url(b'{"sub":"x"}')
    deep = b64url(b"[" * 1000)
    parts = (deep, payload) if segment == "header" else (header, deep)
    return ".".join([*parts, b64url(b"signature")])


@pytest.mark.parametrize("segment", ["header", "payload"])
def test_a_token_nested_a_thousand_deep_is_a_401_on_a_protected_route(
    gateway: LambdaGateway, stub_service: StubService, segment: str
) -> None:
    response = gateway.request("GET", "/api/v1/sales/orders", token=deep_token(segment))

    assert_problem(response, 401, "invalid-token")
    assert stub_service.requests == []


def test_a_token_nested_a_thousand_deep_is_a_401_on_the_alert_streams_query(gateway: LambdaGateway) -> None:
    token = deep_token("payload")
    context = gateway.authorize(None, path="/api/v1/alerts/stream", query=f"token={token}")["context"]

    response = gateway.request("GET", "/api/v1/alerts/stream", context=context, query=f"token={token}")

    assert_problem(response, 401, "invalid-token")


def test_a_token_nested_a_thousand_deep_is_denied_on_websocket_connect(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]
) -> None:
    authorizer = lambda_runtime.cold_start(AUTHORIZER_MODULE, gateway_environment).handler
    event = load_recording(WEBSOCKET_AUTHORIZER_REQUEST)
    event["queryStringParameters"] = {"token": deep_token("payload")}

    answer = authorizer(event, LambdaContext())

    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert answer["context"]["authenticated"] is False


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/register"])
def test_a_login_body_nested_deep_is_a_400(
    gateway: LambdaGateway, stub_service: StubService, path: str
) -> None:
    response = gateway.request("POST", path, body=DEEP, headers=JSON)

    assert_problem(response, 400, "bad-request")
    assert stub_service.requests == []


def test_a_demo_session_body_nested_deep_is_a_400(gateway: LambdaGateway, stub_service: StubService) -> None:
    response = gateway.request("POST", "/api/v1/demo/sessions", body=DEEP, headers=JSON)

    assert_problem(response, 400, "invalid-demo-account-type")
    assert stub_service.requests == []


def test_a_geocoding_body_nested_deep_is_a_400(gateway: LambdaGateway, token: str) -> None:
    response = gateway.request("POST", "/api/v1/geocode", token=token, body=DEEP, headers=JSON)

    assert_problem(response, 400, "invalid-geocode-request")


def test_an_internal_alert_body_nested_deep_is_a_400(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]
) -> None:
    fanout = lambda_runtime.cold_start(FANOUT_MODULE, gateway_environment).handler

    response = ProxyResponse(fanout(load_event(FANOUT_HTTP_API, body=DEEP), LambdaContext()))

    assert_problem(response, 400, "bad-request")


@pytest.mark.parametrize(
    "body",
    [
        "[" * 40 + "]" * 40,  # valid JSON, deeper than bounded_json.MAX_DEPTH
        json.dumps({"email": "a@example.com", "padding": "x" * bounded_json.REQUEST_BODY_BYTES}),
        '{"email": "a@example.com"',  # cut short
        "\ud800",  # not even UTF-8
    ],
)
def test_a_login_body_the_gateway_cannot_read_is_refused_not_forwarded(
    gateway: LambdaGateway, stub_service: StubService, body: str
) -> None:
    response = gateway.request(
        "POST", "/api/v1/auth/login", body=body.encode("utf-8", "surrogatepass"), headers=JSON
    )

    assert response.status in (400, 413)
    assert response.headers["content-type"] == "application/problem+json"
    assert stub_service.requests == []


# --- a WebSocket message, over real sockets through the local runtime ------------------------------
def answer_to(socket: Any, message: str) -> dict[str, Any]:
    socket.send(message)
    answer: dict[str, Any] = json.loads(socket.recv(timeout=RECEIVE_SECONDS))
    return answer


@pytest.mark.usefixtures("received")
def test_a_websocket_message_nested_deep_is_answered_with_an_error_and_the_connection_kept(
    runtime: RunningGateway, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    url = runtime.url.replace("http://", "ws://") + f"/ws?token={token}"
    with connect(url, open_timeout=RECEIVE_SECONDS) as socket:
        answer = answer_to(socket, DEEP)

        assert (answer["type"], answer["error"]) == ("error", "bad-request")
        assert answer_to(socket, '{"action": "ping"}') == {"type": "pong"}


@pytest.mark.usefixtures("received")
def test_a_websocket_connect_with_a_token_nested_deep_is_refused_and_the_runtime_keeps_serving(
    runtime: RunningGateway, dev_keys: DevKeyPair
) -> None:
    url = runtime.url.replace("http://", "ws://") + f"/ws?token={deep_token('payload')}"

    with pytest.raises(Exception, match="403"), connect(url, open_timeout=RECEIVE_SECONDS):
        pass
    assert "RecursionError" not in runtime.log()

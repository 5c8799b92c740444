"""Lambda's and API Gateway's quotas, in the handlers (docs/limits.md): what the functions do so a
client gets the gateway's own answer, never the platform's bare error.

- a request the proxy accepts travels in an event Lambda takes (6 MB), the largest included;
- a body over ``MAX_REQUEST_BYTES`` gets the 413 problem, in an event that still reaches the proxy;
- an answer Lambda cannot return (6 MB, as JSON) is a 502 problem naming the limit;
- a slow service is cut short so the 504 problem is out before the function's timeout;
- a WebSocket message over 128 KB is refused unread.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bakery_gateway.api.platform_limits import (
    HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES,
    LAMBDA_REQUEST_PAYLOAD_BYTES,
    LAMBDA_RESPONSE_PAYLOAD_BYTES,
    MIB,
    WEBSOCKET_MESSAGE_BYTES,
    invocation_payload_bytes,
    request_line_and_headers_bytes,
)
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.forwarding.routing import MAX_PATH_LENGTH
from bakery_gateway.settings import Settings
from tests.integration.conftest import GatewayStarter
from tests.integration.realtime.test_websocket_delivery import WEBSOCKET_MODULE, connect, send, start
from tests.support.lambda_gateway import LambdaGateway, assert_problem, function_event
from tests.support.lambda_runtime import LambdaRuntime
from tests.support.stub_service import StubService

PATH = "/api/v1/sales/uploads"
BINARY = {"content-type": "application/octet-stream"}


def largest_event(gateway: LambdaGateway, token: str, body: bytes) -> dict[str, Any]:
    """A POST of ``body`` whose request line and header values are HTTP API's 10,240 bytes, grown
    where its event holds them most often: the path (rawPath, http.path, pathParameters) as long as
    the router accepts, then the query (rawQueryString, queryStringParameters)."""
    path = PATH + "/" + "p" * (MAX_PATH_LENGTH - len(PATH) - 1)

    def event(query: str) -> dict[str, Any]:
        return function_event(
            "POST",
            path,
            query=query,
            token=token,
            headers=BINARY,
            body=body,
            context=gateway.context_for(token),
        )

    headers = [(b"", value.encode()) for value in event("q=")["headers"].values()]
    size = request_line_and_headers_bytes("POST", f"{path}?q=".encode(), "1.1", headers)
    return event("q=" + "v" * (HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES - size))


def test_the_largest_request_accepted_by_default_travels_in_an_event_lambda_takes(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    body = bytes(Settings().max_request_bytes)  # binary: base64 in the event, its largest form
    event = largest_event(gateway, token, body)

    assert invocation_payload_bytes(event) <= LAMBDA_REQUEST_PAYLOAD_BYTES
    assert gateway.invoke(event).status == 200
    assert len(stub_service.last_request.body) == len(body)


def test_a_body_over_the_default_limit_is_a_413_problem_in_an_event_that_reaches_the_proxy(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    limit = Settings().max_request_bytes
    event = function_event(
        "POST", PATH, token=token, headers=BINARY, body=bytes(limit + 1), context=gateway.context_for(token)
    )

    assert invocation_payload_bytes(event) <= LAMBDA_REQUEST_PAYLOAD_BYTES  # Lambda lets it in
    problem = assert_problem(gateway.invoke(event), 413, "payload-too-large")
    assert problem["max_bytes"] == limit
    assert stub_service.requests == []


def test_an_answer_lambda_cannot_return_is_a_502_problem_naming_the_limit(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(200, [("Content-Type", "application/octet-stream")], bytes(5 * MIB))  # base64: 6.7 MiB

    problem = assert_problem(gateway.request("GET", PATH, token=token), 502, "response-too-large")

    assert problem["max_bytes"] == LAMBDA_RESPONSE_PAYLOAD_BYTES
    assert (
        f"the sales service's answer is larger than the {LAMBDA_RESPONSE_PAYLOAD_BYTES} bytes"
        in (problem["detail"])
    )


def test_an_answer_counts_at_its_size_in_json_escapes_included(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    # 4 MiB of text, each quote escaped in the function's result: 8 MiB.
    stub_service.reply(200, [("Content-Type", "application/json")], b'"' * (4 * MIB))

    assert_problem(gateway.request("GET", PATH, token=token), 502, "response-too-large")


def test_an_answer_whose_base64_fits_goes_back_whole(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    body = bytes(range(256)) * (4 * MIB // 256)  # base64: 5.3 MiB
    stub_service.reply(200, [("Content-Type", "application/octet-stream")], body)

    response = gateway.request("GET", PATH, token=token)

    assert (response.status, response.body) == (200, body)


def test_a_slow_service_is_cut_short_so_the_504_is_out_before_the_functions_timeout(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(DOWNSTREAM_CONNECT_TIMEOUT_SECONDS="1", DOWNSTREAM_READ_TIMEOUT_SECONDS="25")
    stub_service.be_slow(10)
    function_timeout_left = 3.5

    started = time.monotonic()
    response = gateway.request(
        "GET",
        PATH,
        token=token,
        lambda_context=LambdaContext(timeout_seconds=function_timeout_left),
    )
    elapsed = time.monotonic() - started

    assert_problem(response, 504, "service-timeout")
    assert elapsed < function_timeout_left - 1  # the answer's margin is kept


def test_a_websocket_message_over_128_kb_is_refused_unread(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]
) -> None:
    websocket = start(lambda_runtime, WEBSOCKET_MODULE, gateway_environment)
    connect(websocket, "conn-1", "tenant-a")
    ping = json.dumps({"action": "ping", "padding": ""})
    padding = "x" * (WEBSOCKET_MESSAGE_BYTES - len(ping))

    largest = send(websocket, "conn-1", json.dumps({"action": "ping", "padding": padding}))
    over = send(websocket, "conn-1", json.dumps({"action": "ping", "padding": padding + "x"}))

    assert largest == {"type": "pong"}
    assert (over["type"], over["error"]) == ("error", "message-too-large")

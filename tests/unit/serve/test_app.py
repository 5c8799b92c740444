"""``ServeApp``: API Gateway's rules applied directly, and the route's function called with the request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from bakery_gateway.api import cors
from bakery_gateway.api.identity import Identity
from bakery_gateway.api.platform_limits import (
    HTTP_API_PAYLOAD_BYTES,
    HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES,
    LAMBDA_REQUEST_PAYLOAD_BYTES,
    LAMBDA_RESPONSE_PAYLOAD_BYTES,
)
from bakery_gateway.api.routes import (
    ALERT_STREAM_PATH,
    DEFAULT_AUTHORIZER_TTL_SECONDS,
    FANOUT_FUNCTION,
    POLICY_FUNCTION,
    PROXY_FUNCTION,
)
from bakery_gateway.serve.verdict_cache import VerdictCache
from tests.unit.serve.conftest import SLOW_SECONDS, TIMEOUT_SECONDS, TOKEN, Gateway, client_from

SERVICE_PATH = "/api/v1/sales/items"
AUTHORIZED = {"authorization": TOKEN}


# --- route selection (api.routes) -------------------------------------------------------------------
async def test_an_unknown_path_is_api_gateways_404_without_any_function(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    response = await client.get("/nowhere", headers=AUTHORIZED)

    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})
    assert gateway.authorizer.calls == []
    assert sum(gateway.calls(name) for name in gateway.functions) == 0


async def test_a_service_path_goes_to_the_proxy_function(gateway: Gateway, client: httpx.AsyncClient) -> None:
    response = await client.get(SERVICE_PATH, headers=AUTHORIZED)

    assert (response.status_code, response.text) == (200, PROXY_FUNCTION)
    [request] = gateway.functions[PROXY_FUNCTION].requests
    assert (request.route_key, request.raw_path) == ("ANY /api/v1/{proxy+}", SERVICE_PATH)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/admin/tenants/t-1/policy"), ("POST", "/api/v1/internal/subscription-events")],
)
async def test_admin_paths_and_subscription_pushes_go_to_the_policy_function(
    gateway: Gateway, client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, headers=AUTHORIZED)

    assert response.text == POLICY_FUNCTION
    assert gateway.calls(PROXY_FUNCTION) == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/auth/login"), ("GET", "/health"), ("POST", "/api/v1/demo/sessions")],
)
async def test_a_public_route_is_served_without_the_authorizer(
    gateway: Gateway, client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)

    assert response.status_code == 200
    assert gateway.authorizer.calls == []
    [request] = gateway.functions[PROXY_FUNCTION].requests
    assert request.verdict is None


async def test_the_function_gets_the_authorizers_verdict_in_the_request(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    await client.get(SERVICE_PATH, headers=AUTHORIZED)

    [request] = gateway.functions[PROXY_FUNCTION].requests
    assert isinstance(request.verdict, Identity)
    assert request.verdict.user_id == "user-1"


async def test_the_internal_alert_route_from_this_machine_goes_to_the_fanout(gateway: Gateway) -> None:
    async with client_from(gateway, "127.0.0.1") as client:
        response = await client.post("/internal/alerts", json={})

    assert response.text == FANOUT_FUNCTION
    assert gateway.authorizer.calls == []


async def test_the_internal_alert_route_from_elsewhere_is_forbidden_without_the_fanout(
    gateway: Gateway,
) -> None:
    async with client_from(gateway, "192.168.1.20") as client:
        response = await client.post("/internal/alerts", json={})

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert gateway.calls(FANOUT_FUNCTION) == 0


# --- the authorizer and its verdict cache -----------------------------------------------------------
async def test_a_request_without_the_identity_source_is_401_without_the_authorizer(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    response = await client.get(SERVICE_PATH)

    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert gateway.authorizer.calls == []
    assert gateway.calls(PROXY_FUNCTION) == 0


async def test_a_verdict_is_cached_per_identity_source(gateway: Gateway, client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.get(SERVICE_PATH, headers=AUTHORIZED)
    await client.get("/api/v1/admin/tenants/t-1/policy", headers=AUTHORIZED)  # any route of it

    assert len(gateway.authorizer.calls) == 1
    assert gateway.app.invocations == {"AuthorizerFunction": 1, PROXY_FUNCTION: 3, POLICY_FUNCTION: 1}


async def test_another_identity_source_asks_the_authorizer_again(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    await client.get(SERVICE_PATH, headers=AUTHORIZED)
    await client.get(SERVICE_PATH, headers={"authorization": "Bearer token-2"})

    assert len(gateway.authorizer.calls) == 2


async def test_a_verdict_is_asked_again_once_its_ttl_has_passed(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    now = [1000.0]
    gateway.app.cache = VerdictCache(clock=lambda: now[0])
    await client.get(SERVICE_PATH, headers=AUTHORIZED)
    now[0] += DEFAULT_AUTHORIZER_TTL_SECONDS - 1
    await client.get(SERVICE_PATH, headers=AUTHORIZED)
    now[0] += 1
    await client.get(SERVICE_PATH, headers=AUTHORIZED)

    assert len(gateway.authorizer.calls) == 2


async def test_a_denial_is_api_gateways_403_and_is_cached(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    first = await client.get(SERVICE_PATH, headers={"authorization": "Bearer deny"})
    second = await client.get(SERVICE_PATH, headers={"authorization": "Bearer deny"})

    assert [first.status_code, second.status_code] == [403, 403]
    assert first.json() == {"message": "Forbidden"}
    assert len(gateway.authorizer.calls) == 1
    assert gateway.calls(PROXY_FUNCTION) == 0


async def test_a_failing_authorizer_is_api_gateways_500_and_is_not_cached(
    gateway: Gateway, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(2):
        response = await client.get(SERVICE_PATH, headers={"authorization": "Bearer fail"})
        assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})

    assert len(gateway.authorizer.calls) == 2
    assert "authorizer TokenAuthorizer failed" in caplog.text


async def test_an_authorizer_past_its_timeout_is_api_gateways_500(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get(SERVICE_PATH, headers={"authorization": "Bearer slow"})

    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < SLOW_SECONDS


async def test_the_stream_route_without_identity_sources_asks_the_authorizer_every_time(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    # No identity source: API Gateway caches nothing (and streaming is off in this app: one answer).
    for _ in range(2):
        await client.get(f"{ALERT_STREAM_PATH}?token=abc")

    assert len(gateway.authorizer.calls) == 2
    assert gateway.authorizer.calls[0].query == {"token": ["abc"]}


async def test_the_authorizer_runs_on_a_thread_not_the_servers_loop(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    await client.get(SERVICE_PATH, headers=AUTHORIZED)

    assert gateway.authorizer.threads != [threading.get_ident()]


# --- the functions, on the server's loop, within the platform's limits ------------------------------
async def test_the_function_runs_on_the_servers_own_loop(gateway: Gateway, client: httpx.AsyncClient) -> None:
    await client.get(SERVICE_PATH, headers=AUTHORIZED)

    assert gateway.functions[PROXY_FUNCTION].loops == [asyncio.get_running_loop()]


async def test_many_requests_are_answered_at_once_on_one_loop(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    await client.get(SERVICE_PATH, headers=AUTHORIZED)  # the verdict cached
    started = time.monotonic()
    responses = await asyncio.gather(
        *(client.get(f"{SERVICE_PATH}/slow", headers=AUTHORIZED, timeout=5) for _ in range(8))
    )
    elapsed = time.monotonic() - started

    # Each outlasts the timeout alone; eight one after another would take eight timeouts.
    assert {response.status_code for response in responses} == {500}
    assert elapsed < 4 * TIMEOUT_SECONDS


async def test_a_failing_function_is_api_gateways_500(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get(f"{SERVICE_PATH}/fail", headers=AUTHORIZED)

    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert f"function {PROXY_FUNCTION} failed" in caplog.text


async def test_a_function_past_its_timeout_is_api_gateways_500(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get(f"{SERVICE_PATH}/slow", headers=AUTHORIZED)

    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < 1.0


async def test_a_function_past_its_timeout_is_stopped_not_left_running(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    await client.get(f"{SERVICE_PATH}/slow", headers=AUTHORIZED)

    assert gateway.functions[PROXY_FUNCTION].cancelled == 1


async def test_no_answer_within_the_integration_timeout_is_api_gateways_503(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    gateway.app.integration_timeout_seconds = 0.05  # before the function's own timeout

    response = await client.get(f"{SERVICE_PATH}/slow", headers=AUTHORIZED)

    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})


async def test_a_body_over_api_gateways_payload_limit_is_413_without_any_function(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        SERVICE_PATH, headers=AUTHORIZED, content=b"x" * (HTTP_API_PAYLOAD_BYTES + 1)
    )

    assert (response.status_code, response.json()) == (413, {"message": "Request Entity Too Large"})
    assert gateway.calls(PROXY_FUNCTION) == 0


async def test_a_result_over_lambdas_6_mb_is_returned_whole(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    gateway.functions[PROXY_FUNCTION].body = b"x" * (LAMBDA_RESPONSE_PAYLOAD_BYTES + 1)

    response = await client.get(SERVICE_PATH, headers=AUTHORIZED)

    assert (response.status_code, len(response.content)) == (200, LAMBDA_RESPONSE_PAYLOAD_BYTES + 1)


async def test_an_event_over_lambdas_6_mb_and_headers_over_http_apis_10240_bytes_are_served(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    padding = {"x-padding": "p" * (HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES * 2)}
    body = bytes(LAMBDA_REQUEST_PAYLOAD_BYTES + 1)

    response = await client.post(SERVICE_PATH, headers=AUTHORIZED | padding, content=body)

    assert response.status_code == 200
    assert [len(request.body) for request in gateway.functions[PROXY_FUNCTION].requests] == [len(body)]


async def test_an_answer_without_a_content_type_gets_lambdas_default(
    gateway: Gateway, client: httpx.AsyncClient
) -> None:
    gateway.functions[PROXY_FUNCTION].headers = [("x-request-id", "r-1"), ("Content-Length", "999")]

    response = await client.get(SERVICE_PATH, headers=AUTHORIZED)

    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(PROXY_FUNCTION))


# --- what a production server leaves out ------------------------------------------------------------
async def test_there_are_no_development_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/_local/status")

    assert response.status_code == 404


async def test_metrics_are_this_processs_registry(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert "gateway_requests_total" in response.text


async def test_a_websocket_is_refused(gateway: Gateway) -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await gateway.app({"type": "websocket", "path": "/"}, receive, send)

    assert sent == [{"type": "websocket.close", "code": 1008}]


# --- CORS, as the HTTP API's configuration says -----------------------------------------------------
ORIGIN = "https://app.example.com"


@pytest.fixture
def with_cors(gateway: Gateway) -> Gateway:
    gateway.app.cors = cors.gateway_cors([ORIGIN], allow_credentials=True)
    return gateway


async def test_a_preflight_is_answered_without_the_authorizer_or_a_function(
    with_cors: Gateway, client: httpx.AsyncClient
) -> None:
    response = await client.options(
        SERVICE_PATH, headers={"origin": ORIGIN, "access-control-request-method": "POST"}
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-max-age"] == str(cors.MAX_AGE_SECONDS)
    assert with_cors.authorizer.calls == []
    assert with_cors.calls(PROXY_FUNCTION) == 0


async def test_an_answer_to_an_allowed_origin_carries_the_gateways_cors_headers_only(
    with_cors: Gateway, client: httpx.AsyncClient
) -> None:
    with_cors.functions[PROXY_FUNCTION].headers = [("access-control-allow-origin", "*")]

    response = await client.get(SERVICE_PATH, headers={**AUTHORIZED, "origin": ORIGIN})

    assert response.headers.get_list("access-control-allow-origin") == [ORIGIN]
    assert response.headers["access-control-allow-credentials"] == "true"

"""edge/lambda_http.py, edge/lambda_event.py and forwarding/proxy_handler.py: events in, Lambda
responses out, and which way a request takes."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Route

from bakery_gateway.api.request import REQUEST_SCOPE_KEY
from bakery_gateway.api.routes import GATEWAY_API_ROUTES
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.edge.lambda_event import request_body, request_from_event, request_headers
from bakery_gateway.edge.lambda_http import AsgiAppHandler, lambda_response, run_on_container_loop
from bakery_gateway.errors import RateLimitedError
from bakery_gateway.forwarding.pipeline import ProxyAnswer, ProxyRequest
from bakery_gateway.forwarding.proxy_handler import ProxyHandler
from bakery_gateway.own_routes.app import create_app
from bakery_gateway.settings import Settings
from bakery_gateway.telemetry.request_record import RequestRecorder
from tests.support.events import HTTP_API_PROXY, SAM_LOCAL_PROXY, load_event


def event(method: str = "GET", path: str = "/api/v1/sales/items", **overrides: Any) -> dict[str, Any]:
    return load_event(HTTP_API_PROXY, method=method, path=path, **overrides)


class FakePipeline:
    """Answers every proxied request with ``outcome``: a ProxyAnswer, or an exception to raise."""

    def __init__(self, outcome: ProxyAnswer | Exception) -> None:
        self.outcome = outcome
        self.requests: list[ProxyRequest] = []

    async def respond(self, request: ProxyRequest) -> ProxyAnswer:
        self.requests.append(request)
        request.state["route_template"] = "/api/v1/sales/{proxy+}"
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class RecordingRecorder(RequestRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    def record(self, **fields: Any) -> None:
        self.records.append(fields)


def own_routes_unused() -> Any:
    raise AssertionError("the own routes' app was built for a proxied request")


def proxy_events(outcome: ProxyAnswer | Exception) -> tuple[ProxyHandler, FakePipeline, RecordingRecorder]:
    pipeline, recorder = FakePipeline(outcome), RecordingRecorder()
    events = ProxyHandler(pipeline, recorder, AsgiAppHandler(own_routes_unused), GATEWAY_API_ROUTES)  # type: ignore[arg-type]
    return events, pipeline, recorder


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


# --- responses ----------------------------------------------------------------------------------


def test_repeated_response_headers_are_joined_with_commas() -> None:
    response = lambda_response(200, [("Vary", "Accept"), ("vary", "Origin")], b"{}")

    assert response["headers"]["vary"] == "Accept,Origin"


def test_set_cookie_headers_become_the_cookies_list() -> None:
    response = lambda_response(200, [("set-cookie", "a=1"), ("set-cookie", "b=2")], b"{}")

    assert response["cookies"] == ["a=1", "b=2"]
    assert "set-cookie" not in response["headers"]


def test_a_response_without_a_content_type_is_labelled_json() -> None:
    assert lambda_response(204, [], b"")["headers"]["content-type"] == "application/json"


def test_json_and_problem_bodies_go_back_as_text() -> None:
    json_body = lambda_response(200, [("content-type", "application/json")], b'{"a":1}')
    problem = lambda_response(429, [("content-type", "application/problem+json")], b'{"b":2}')

    assert (json_body["body"], json_body["isBase64Encoded"]) == ('{"a":1}', False)
    assert (problem["body"], problem["isBase64Encoded"]) == ('{"b":2}', False)


def test_a_binary_body_goes_back_base64_encoded() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00"
    response = lambda_response(200, [("content-type", "image/png")], png)

    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == png


def test_a_compressed_body_under_a_text_type_goes_back_base64_encoded_unchanged() -> None:
    compressed = gzip.compress(b'{"a":1}')
    response = lambda_response(
        200, [("content-type", "application/json"), ("content-encoding", "gzip")], compressed
    )

    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == compressed


def test_an_empty_body_is_empty_text() -> None:
    response = lambda_response(204, [("content-type", "image/png")], b"")

    assert (response["body"], response["isBase64Encoded"]) == ("", False)


# --- requests -----------------------------------------------------------------------------------


def test_request_header_names_are_lower_case_and_cookies_one_header() -> None:
    headers = request_headers({"headers": {"X-Thing": "1"}, "cookies": ["a=1", "b=2"]})

    assert headers == {"x-thing": "1", "cookie": "a=1; b=2"}


def test_the_clients_cookie_header_wins_over_the_cookies_sams_emulator_parsed_from_it() -> None:
    # SAM's emulator sends the Cookie header as sent, and a cookies list parsed from it: a repeated
    # name kept once, quotes removed. API Gateway sends only the list.
    sent = 'id=1; id=2; note="a b"'
    event = load_event(SAM_LOCAL_PROXY, extra_headers={"Cookie": sent}, cookies=["id=1", "note=a b"])

    assert request_headers(event)["cookie"] == sent


def test_a_non_ascii_header_value_keeps_the_bytes_the_client_sent() -> None:
    headers = request_headers({"headers": {"x-name": "Café"}})

    assert headers["x-name"].encode("latin-1") == "Café".encode()


def test_a_base64_body_is_decoded_and_an_absent_one_is_empty() -> None:
    assert (
        request_body({"body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}) == b"\x00\x01"
    )
    assert request_body({"body": '{"a":1}', "isBase64Encoded": False}) == b'{"a":1}'
    assert request_body({}) == b""


# --- which way ----------------------------------------------------------------------------------


def test_the_own_routes_table_is_the_apps_api_routes() -> None:
    unused: PerEventLoop[Any] = PerEventLoop(lambda: None)
    app = create_app(Settings(), redis_clients=unused, http_clients=unused, blocking_redis_clients=unused)
    own = {
        route.path: frozenset(route.methods or ()) - {"HEAD"}
        for route in app.router.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
    }

    assert own == dict(GATEWAY_API_ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "proxied"),
    [
        ("GET", "/api/v1/sales/items", True),
        ("GET", "/api/v1/health", False),
        ("POST", "/api/v1/health", True),  # not our route's method: the path is a service's
        ("GET", "/api/v1/alerts/stream", False),
        ("GET", "/api/v1/alerts/stream/", True),
        ("POST", "/api/v1/geocode", False),
        ("GET", "/health", False),
        ("GET", "/docs", False),
    ],
)
def test_service_paths_are_proxied_and_the_gateways_own_routes_are_not(
    method: str, path: str, proxied: bool
) -> None:
    events, _, _ = proxy_events(ProxyAnswer(200, [], b""))

    assert events.is_proxied(request_from_event(event(method, path))) is proxied


def test_a_proxied_request_never_builds_the_own_routes_app(loop: asyncio.AbstractEventLoop) -> None:
    answer = ProxyAnswer(200, [("content-type", "application/json")], b'{"ok":true}')
    events, pipeline, _ = proxy_events(answer)

    response = loop.run_until_complete(events(event(), None))

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"ok": True}
    assert pipeline.requests[0].request.method == "GET"


def test_a_refusal_is_a_problem_with_the_request_id(loop: asyncio.AbstractEventLoop) -> None:
    events, _, recorder = proxy_events(RateLimitedError("slow down", headers={"Retry-After": "3"}))

    response = loop.run_until_complete(events(event(extra_headers={"x-request-id": "req-1"}), None))

    assert response["statusCode"] == 429
    assert response["headers"]["content-type"] == "application/problem+json"
    assert response["headers"]["retry-after"] == "3"
    assert json.loads(response["body"])["instance"] == "req-1"
    assert recorder.records[0]["status"] == 429
    assert recorder.records[0]["error"] is None


def test_an_unexpected_error_is_a_500_problem_without_a_stack_trace(loop: asyncio.AbstractEventLoop) -> None:
    events, _, recorder = proxy_events(RuntimeError("boom in /srv/secret.py"))

    response = loop.run_until_complete(events(event(), None))

    assert response["statusCode"] == 500
    assert json.loads(response["body"])["type"].endswith("/internal-error")
    assert "boom" not in response["body"]
    assert "Traceback" not in response["body"]
    assert isinstance(recorder.records[0]["error"], RuntimeError)


def test_a_body_that_is_not_base64_is_a_500_problem_not_an_escaped_error(
    loop: asyncio.AbstractEventLoop,
) -> None:
    events, _, _ = proxy_events(ProxyAnswer(200, [], b""))
    broken = {**event(), "body": "not base64!", "isBase64Encoded": True}

    response = loop.run_until_complete(events(broken, None))

    assert response["statusCode"] == 500
    assert response["headers"]["content-type"] == "application/problem+json"


def test_each_proxied_request_is_recorded_once_under_its_route_template(
    loop: asyncio.AbstractEventLoop,
) -> None:
    events, _, recorder = proxy_events(ProxyAnswer(200, [], b"abc"))

    loop.run_until_complete(events(event(), None))

    (record,) = recorder.records
    assert (record["method"], record["route"], record["response_size"]) == (
        "GET",
        "/api/v1/sales/{proxy+}",
        3,
    )


def test_an_asgi_app_that_raises_gives_a_500_problem(loop: asyncio.AbstractEventLoop) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    response = loop.run_until_complete(AsgiAppHandler(lambda: broken)(event(path="/health"), None))

    assert response["statusCode"] == 500
    assert "boom" not in response["body"]


def test_an_asgi_app_gets_the_request_read_from_the_event_and_never_the_event(
    loop: asyncio.AbstractEventLoop,
) -> None:
    scopes: list[Any] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent = event(method="post", path="/health", stage="prod")
    loop.run_until_complete(AsgiAppHandler(lambda: recording)(sent, None))

    (scope,) = scopes
    assert scope[REQUEST_SCOPE_KEY] == request_from_event(sent)
    assert (scope["method"], scope["path"]) == ("POST", "/health")
    assert not any(key.startswith("aws.") for key in scope)


def test_an_unreadable_event_for_an_asgi_app_is_a_500_problem(loop: asyncio.AbstractEventLoop) -> None:
    broken = {**event(path="/health"), "body": "not base64!", "isBase64Encoded": True}

    response = loop.run_until_complete(AsgiAppHandler(own_routes_unused)(broken, None))

    assert response["statusCode"] == 500
    assert response["headers"]["content-type"] == "application/problem+json"


def test_the_container_loop_is_made_once_per_thread_and_reused() -> None:
    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    first = run_on_container_loop(running_loop())

    assert run_on_container_loop(running_loop()) is first

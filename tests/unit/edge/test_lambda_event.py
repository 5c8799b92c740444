"""The payload 2.0 event adapter: named stages, methods, headers, route keys, the authorizer's verdict."""

from __future__ import annotations

import pytest

from bakery_gateway.api.identity import Identity, Unauthenticated
from bakery_gateway.edge.lambda_event import request_from_event, request_headers
from tests.support.events import HTTP_API_PROXY, HTTP_API_PROXY_SAM, SAM_LOCAL_PROXY, load_event


def test_a_named_stage_is_taken_off_the_path() -> None:
    event = load_event(HTTP_API_PROXY, path="/api/v1/sales/products", stage="prod")
    assert event["rawPath"] == "/prod/api/v1/sales/products"

    request = request_from_event(event)

    assert request.raw_path == "/api/v1/sales/products"
    assert request.path == "/api/v1/sales/products"
    assert event["rawPath"] == "/prod/api/v1/sales/products", "the caller's event is not changed"


def test_the_default_stage_leaves_the_path_alone() -> None:
    event = load_event(HTTP_API_PROXY)

    request = request_from_event(event)

    assert (request.raw_path, request.path) == (event["rawPath"], event["requestContext"]["http"]["path"])


def test_a_path_that_only_starts_like_the_stage_is_left_alone() -> None:
    event = load_event(HTTP_API_PROXY, path="/production/api/v1/sales", route_key="$default")
    event["requestContext"]["stage"] = "prod"

    assert request_from_event(event).raw_path == "/production/api/v1/sales"


def test_the_lambda_authorizers_verdict_is_read_from_the_request_context() -> None:
    refused = request_from_event(load_event(HTTP_API_PROXY, authorizer={"authenticated": False}))
    accepted = request_from_event(load_event(HTTP_API_PROXY))

    assert refused.verdict == Unauthenticated("token refused")
    assert isinstance(accepted.verdict, Identity)
    assert accepted.verdict.user_id == "user-recorded"


def test_a_refusal_keeps_the_reason_and_problem_type_the_authorizer_gave() -> None:
    context = Unauthenticated("token revoked", "token-revoked").to_context()

    request = request_from_event(load_event(HTTP_API_PROXY, authorizer=context))

    assert request.verdict == Unauthenticated("token revoked", "token-revoked")


def test_an_event_without_a_lambda_authorizer_has_no_verdict() -> None:
    assert request_from_event(load_event(HTTP_API_PROXY, authorizer=None)).verdict is None
    assert request_from_event(load_event(HTTP_API_PROXY_SAM)).verdict is None  # a JWT authorizer's shape


def test_an_authenticated_context_without_an_identity_cannot_be_read() -> None:
    event = load_event(HTTP_API_PROXY, authorizer={"authenticated": True, "user_id": "u"})

    with pytest.raises(KeyError):
        request_from_event(event)


@pytest.mark.parametrize("method", ["post", "Post", "pOST"])
def test_a_method_is_read_in_upper_case(method: str) -> None:
    event = load_event(HTTP_API_PROXY, method=method, stage="prod")

    request = request_from_event(event)

    assert request.method == "POST"
    assert request.raw_path == "/api/v1/sales/products"
    assert event["requestContext"]["http"]["method"] == method, "the caller's event is not changed"


def test_an_event_already_normal_is_read_as_it_is() -> None:
    event = load_event(HTTP_API_PROXY, method="DELETE", query="a=1&a=2")

    request = request_from_event(event)

    assert (request.method, request.raw_path, request.query_string) == ("DELETE", event["rawPath"], "a=1&a=2")
    assert (request.source_ip, request.host, request.scheme) == (
        "203.0.113.10",
        "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
        "https",
    )
    assert request.query == {"a": ["1", "2"]}


def test_header_names_are_read_lower_case_whoever_spelled_them() -> None:
    event = load_event(SAM_LOCAL_PROXY)  # SAM's emulator: "Authorization", "X-User-Id"

    read = request_from_event(event).headers

    assert read["authorization"] == event["headers"]["Authorization"]
    assert read["x-user-id"] == "someone-else"
    assert request_headers(load_event(HTTP_API_PROXY)) == load_event(HTTP_API_PROXY)["headers"]


def test_an_event_without_headers_has_none() -> None:
    assert request_headers({"headers": None}) == {}
    assert request_headers({}) == {}


def test_the_body_is_read_as_bytes() -> None:
    assert request_from_event(load_event(HTTP_API_PROXY, body=b"\x00\xff")).body == b"\x00\xff"
    assert request_from_event(load_event(HTTP_API_PROXY, body='{"a":1}')).body == b'{"a":1}'


def test_stage_variables_are_read_and_sams_null_is_none() -> None:
    with_variables = load_event(HTTP_API_PROXY, stage_variables={"sseWaitSeconds": "0"})

    assert request_from_event(with_variables).stage_variables == {"sseWaitSeconds": "0"}
    assert request_from_event(load_event(SAM_LOCAL_PROXY)).stage_variables == {}


@pytest.mark.parametrize(
    ("route_key", "read_as"),
    [
        ("ANY /api/v1/demo/{proxy+}", "ANY /api/v1/demo/{proxy+}"),  # API Gateway's key of an ANY route
        ("POST /api/v1/demo/{proxy+}", "ANY /api/v1/demo/{proxy+}"),  # SAM's emulator's: the method
        ("GET /health", "GET /health"),
        ("POST /health", "POST /health"),  # an explicit method is not an ANY: no route of ours
        ("POST /api/v1/{proxy+}", "ANY /api/v1/{proxy+}"),
        ("$default", "$default"),
    ],
)
def test_a_route_key_is_read_in_api_gateways_spelling_also_from_sams_emulator(
    route_key: str, read_as: str
) -> None:
    assert request_from_event(load_event(HTTP_API_PROXY, route_key=route_key)).route_key == read_as


def test_an_event_without_a_route_key_has_none() -> None:
    assert request_from_event(load_event(HTTP_API_PROXY, routeKey=None)).route_key == ""

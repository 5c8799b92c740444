"""Reading API Gateway events: named stages, request ids, the authorizer context."""

from __future__ import annotations

import uuid

import pytest

from bakery_gateway.edge.lambda_event import (
    authorizer_context,
    headers,
    normalize,
    request_id,
    route_key_in,
    strip_stage,
)
from tests.support.events import HTTP_API_PROXY, HTTP_API_PROXY_SAM, SAM_LOCAL_PROXY, load_event


def test_a_named_stage_is_taken_off_the_path() -> None:
    event = load_event(HTTP_API_PROXY, path="/api/v1/sales/products", stage="prod")
    assert event["rawPath"] == "/prod/api/v1/sales/products"

    stripped = strip_stage(event)

    assert stripped["rawPath"] == "/api/v1/sales/products"
    assert stripped["requestContext"]["http"]["path"] == "/api/v1/sales/products"
    assert event["rawPath"] == "/prod/api/v1/sales/products", "the caller's event is not changed"


def test_the_default_stage_leaves_the_path_alone() -> None:
    event = load_event(HTTP_API_PROXY)

    assert strip_stage(event) is event


def test_a_path_that_only_starts_like_the_stage_is_left_alone() -> None:
    event = load_event(HTTP_API_PROXY, path="/production/api/v1/sales", route_key="$default")
    event["requestContext"]["stage"] = "prod"

    assert strip_stage(event)["rawPath"] == "/production/api/v1/sales"


@pytest.mark.parametrize("value", ["abc-123", "a" * 128, "req.1:2_3", str(uuid.uuid4())])
def test_a_sane_client_request_id_is_kept(value: str) -> None:
    assert request_id(value) == value


@pytest.mark.parametrize(
    "value",
    [None, "", "a" * 129, "has space", "semi;colon", "new\nline", "-leading", "<script>", "Root=1-abc"],
)
def test_an_unsafe_client_request_id_is_replaced_by_a_uuid(value: str | None) -> None:
    generated = request_id(value)

    assert generated != value
    assert uuid.UUID(generated).version == 4


def test_the_lambda_authorizer_context_is_read_from_the_request_context() -> None:
    assert authorizer_context(load_event(HTTP_API_PROXY, authorizer={"authenticated": False})) == {
        "authenticated": False
    }


def test_an_event_without_a_lambda_authorizer_has_no_context() -> None:
    assert authorizer_context(load_event(HTTP_API_PROXY, authorizer=None)) is None
    assert authorizer_context(load_event(HTTP_API_PROXY_SAM)) is None  # a JWT authorizer's shape


@pytest.mark.parametrize("method", ["post", "Post", "pOST"])
def test_a_method_is_read_in_upper_case(method: str) -> None:
    event = load_event(HTTP_API_PROXY, method=method, stage="prod")

    normalized = normalize(event)

    assert normalized["requestContext"]["http"]["method"] == "POST"
    assert normalized["rawPath"] == "/api/v1/sales/products"
    assert event["requestContext"]["http"]["method"] == method, "the caller's event is not changed"


def test_an_event_already_normal_is_returned_as_it_is() -> None:
    event = load_event(HTTP_API_PROXY, method="DELETE")

    assert normalize(event) is event


def test_header_names_are_read_lower_case_whoever_spelled_them() -> None:
    event = load_event(SAM_LOCAL_PROXY)  # SAM's emulator: "Authorization", "X-User-Id"

    read = headers(event)

    assert read["authorization"] == event["headers"]["Authorization"]
    assert read["x-user-id"] == "someone-else"
    assert headers(load_event(HTTP_API_PROXY)) == load_event(HTTP_API_PROXY)["headers"]


def test_an_event_without_headers_has_none() -> None:
    assert headers({"headers": None}) == {}
    assert headers({}) == {}


@pytest.mark.parametrize(
    ("route_key", "matches"),
    [
        ("ANY /api/v1/demo/{proxy+}", True),  # API Gateway's route key of an ANY route
        ("POST /api/v1/demo/{proxy+}", True),  # SAM's emulator's: the request's method instead of ANY
        ("GET /health", True),
        ("POST /health", False),  # an explicit method is not an ANY
        ("POST /api/v1/{proxy+}", False),
        ("$default", False),
        (None, False),
    ],
)
def test_a_route_key_matches_its_route_also_in_sams_spelling_of_an_any_route(
    route_key: str | None, matches: bool
) -> None:
    assert route_key_in(route_key, {"ANY /api/v1/demo/{proxy+}", "GET /health"}) is matches

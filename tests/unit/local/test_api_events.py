"""The payload 2.0 events the local runtime builds from a request, and the authorizer's answer read back."""

from __future__ import annotations

import pytest

from bakery_local.api_events import IncomingRequest, authorizer_verdict, http_event, identity_source
from bakery_local.template import AuthorizerSpec

HEADER_AUTHORIZER = AuthorizerSpec("Bearer", "Authorizer", ("authorization",), ttl_seconds=300)
QUERY_AUTHORIZER = AuthorizerSpec("Query", "Authorizer", (), ttl_seconds=0, identity_query_strings=("token",))


def incoming(headers: list[tuple[str, str]], query: str = "") -> IncomingRequest:
    return IncomingRequest("GET", "/api/v1/sales/1", query, headers, b"", "198.51.100.7")


def test_the_identity_source_is_the_value_of_each_header_the_authorizer_names() -> None:
    request = incoming([("authorization", "Bearer abc"), ("accept", "*/*")])

    assert identity_source(request, HEADER_AUTHORIZER) == ("Bearer abc",)


def test_a_missing_identity_header_is_an_empty_value() -> None:
    assert identity_source(incoming([("accept", "*/*")]), HEADER_AUTHORIZER) == ("",)


def test_the_identity_source_may_be_a_query_parameter() -> None:
    assert identity_source(incoming([], query="tenant=a&token=xyz"), QUERY_AUTHORIZER) == ("xyz",)


def test_a_simple_response_is_read_as_its_decision_and_its_context() -> None:
    answer = {"isAuthorized": True, "context": {"user_id": "u-1", "exp": 1, "is_demo": False}}

    assert authorizer_verdict(answer) == (True, {"user_id": "u-1", "exp": 1, "is_demo": False})


def test_a_refusal_without_a_context_is_read_with_an_empty_one() -> None:
    assert authorizer_verdict({"isAuthorized": False}) == (False, {})


@pytest.mark.parametrize("answer", [None, {}, {"isAuthorized": "true"}, {"principalId": "u-1"}])
def test_an_answer_without_a_boolean_decision_is_refused(answer: object) -> None:
    with pytest.raises(ValueError, match="isAuthorized"):
        authorizer_verdict(answer)


def test_a_context_value_that_is_not_a_string_number_or_boolean_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        authorizer_verdict({"isAuthorized": True, "context": {"roles": ["owner"]}})


def test_the_functions_event_carries_cookies_as_a_list_and_the_verdict_as_the_lambda_context() -> None:
    request = incoming([("cookie", "a=1; b=2"), ("host", "api.example:443")])

    event = http_event(
        request,
        route_key="ANY /api/v1/{proxy+}",
        stage="$default",
        path_parameters={"proxy": "sales/1"},
        authorizer_context={"authenticated": True},
    )

    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["requestContext"]["authorizer"] == {"lambda": {"authenticated": True}}
    assert event["requestContext"]["domainName"] == "api.example"


def test_a_named_stage_is_in_front_of_the_raw_path() -> None:
    event = http_event(
        incoming([]),
        route_key="ANY /api/v1/{proxy+}",
        stage="prod",
        path_parameters={},
        authorizer_context=None,
    )

    assert event["rawPath"] == "/prod/api/v1/sales/1"
    assert event["requestContext"]["http"]["path"] == "/prod/api/v1/sales/1"
    assert "authorizer" not in event["requestContext"]

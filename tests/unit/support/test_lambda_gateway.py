"""The tests' API Gateway answers as API Gateway does before, around and instead of the functions.

Fake functions here: each records the events it receives and answers what the test set.
"""

from __future__ import annotations

from typing import Any

import pytest

from bakery_gateway.api.routes import ALERT_STREAM_PATH
from tests.support.lambda_gateway import PROXY_ROUTE_KEY, LambdaGateway

OK = {"statusCode": 200, "headers": {"x-request-id": "req-1"}, "body": ""}


class FakeFunction:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        return self.answer


class Functions:
    def __init__(self) -> None:
        self.authorizer = FakeFunction({"isAuthorized": True, "context": {"authenticated": True}})
        self.proxy = FakeFunction(OK)
        self.policy = FakeFunction(OK)
        self.gateway = LambdaGateway(self.authorizer, self.proxy, self.policy)


@pytest.fixture
def functions() -> Functions:
    return Functions()


def test_the_function_receives_the_authorizers_context(functions: Functions) -> None:
    functions.gateway.request("GET", "/api/v1/sales/orders", token="t-1")

    (event,) = functions.proxy.events
    assert event["requestContext"]["authorizer"] == {"lambda": {"authenticated": True}}
    assert event["routeKey"] == PROXY_ROUTE_KEY
    assert functions.authorizer.events[0]["identitySource"] == ["Bearer t-1"]


def test_a_request_without_the_identity_source_is_a_401_and_asks_nobody(functions: Functions) -> None:
    response = functions.gateway.request("GET", "/api/v1/sales/orders")

    assert (response.status, response.json()) == (401, {"message": "Unauthorized"})
    assert functions.authorizer.events == functions.proxy.events == []


def test_a_refusal_by_the_authorizer_is_a_403_and_the_function_is_not_invoked(functions: Functions) -> None:
    functions.authorizer.answer = {"isAuthorized": False}

    response = functions.gateway.request("GET", "/api/v1/sales/orders", token="t-1")

    assert (response.status, response.json()) == (403, {"message": "Forbidden"})
    assert functions.proxy.events == []


def test_an_authorizer_answer_that_is_no_simple_response_is_a_500(functions: Functions) -> None:
    functions.authorizer.answer = {"principalId": "user-1"}

    assert functions.gateway.request("GET", "/api/v1/sales/orders", token="t-1").status == 500


def test_a_path_without_a_route_is_a_404_and_no_function_is_invoked(functions: Functions) -> None:
    response = functions.gateway.request("GET", "/api/v2/sales", token="t-1")

    assert (response.status, response.json()) == (404, {"message": "Not Found"})
    assert functions.authorizer.events == functions.proxy.events == []


def test_a_route_of_the_policy_function_reaches_it(functions: Functions) -> None:
    functions.gateway.request("GET", "/api/v1/admin/tenants/t/policy", token="t-1")

    assert len(functions.policy.events) == 1
    assert functions.proxy.events == []


def test_the_alert_streams_route_takes_the_token_from_the_query(functions: Functions) -> None:
    functions.gateway.request("GET", ALERT_STREAM_PATH, query="token=t-1")

    (asked,) = functions.authorizer.events
    assert asked["routeKey"] == f"GET {ALERT_STREAM_PATH}"
    assert functions.proxy.events[0]["routeKey"] == f"GET {ALERT_STREAM_PATH}"


def test_a_public_route_is_served_without_the_authorizer(functions: Functions) -> None:
    functions.gateway.request("POST", "/api/v1/auth/login", body="{}")

    assert functions.authorizer.events == []
    assert "authorizer" not in functions.proxy.events[0]["requestContext"]


def test_a_function_answer_without_a_request_id_fails_the_test(functions: Functions) -> None:
    functions.proxy.answer = {"statusCode": 200, "headers": {}, "body": ""}

    with pytest.raises(AssertionError, match="request id"):
        functions.gateway.request("GET", "/api/v1/sales/orders", token="t-1")


def test_a_function_answer_that_echoes_the_token_fails_the_test(functions: Functions) -> None:
    functions.proxy.answer = {**OK, "body": "your token: secret-token"}

    with pytest.raises(AssertionError, match="token"):
        functions.gateway.request("GET", "/api/v1/sales/orders", token="secret-token")

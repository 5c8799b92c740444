"""The events the local WebSocket API builds, shaped as API Gateway's."""

from __future__ import annotations

import re

import pytest

from bakery_local.websocket_events import (
    Handshake,
    authorizer_event,
    connect_event,
    message_event,
    new_connection_id,
    policy_verdict,
)

HANDSHAKE = Handshake(
    connection_id="L0SM9cOFvHcCIhw=",
    raw_query="token=abc&tenant=t1",
    headers=[("host", "127.0.0.1:8000"), ("user-agent", "test/1"), ("origin", "http://x")],
    source_ip="127.0.0.1",
    connected_at_ms=1_767_225_600_000,
    stage="prod",
)


def allow(effect: str = "Allow", **context: object) -> dict[str, object]:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": "arn:x"}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return {"principalId": "user-1", "policyDocument": document, "context": context}


def test_connection_ids_look_like_api_gateways() -> None:
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", new_connection_id())


def test_the_connect_event_carries_the_handshake_and_the_authorizer_context() -> None:
    event = connect_event(HANDSHAKE, {"principalId": "user-1", "tenant_id": "t1"})

    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["connectionId"]) == (
        "$connect",
        "CONNECT",
        "L0SM9cOFvHcCIhw=",
    )
    assert (context["domainName"], context["stage"], context["connectedAt"]) == (
        "127.0.0.1",
        "prod",
        1_767_225_600_000,
    )
    assert context["authorizer"] == {"principalId": "user-1", "tenant_id": "t1"}
    assert event["queryStringParameters"] == {"token": "abc", "tenant": "t1"}
    assert event["headers"]["user-agent"] == "test/1"


def test_the_authorizer_event_has_the_method_arn_and_the_query_string() -> None:
    event = authorizer_event(HANDSHAKE)

    assert event["type"] == "REQUEST"
    assert event["methodArn"].endswith("/prod/$connect")
    assert event["queryStringParameters"]["token"] == "abc"


def test_a_text_message_is_passed_as_it_is() -> None:
    event = message_event(HANDSHAKE, "subscribe", '{"action":"subscribe"}', None)

    assert (event["body"], event["isBase64Encoded"]) == ('{"action":"subscribe"}', False)
    assert (event["requestContext"]["eventType"], event["requestContext"]["routeKey"]) == (
        "MESSAGE",
        "subscribe",
    )


def test_a_binary_message_is_base64_encoded() -> None:
    event = message_event(HANDSHAKE, "$default", b"\x00\x01", None)

    assert (event["body"], event["isBase64Encoded"]) == ("AAE=", True)


def test_an_allow_policy_gives_its_context_flattened_to_strings() -> None:
    allowed, context = policy_verdict(allow(tenant_id="t1", admin=True, count=2))

    assert allowed
    assert context == {"principalId": "user-1", "tenant_id": "t1", "admin": "true", "count": "2"}


def test_a_deny_policy_refuses() -> None:
    allowed, _ = policy_verdict(allow("Deny"))

    assert not allowed


def test_an_answer_without_a_policy_is_an_authorizer_error() -> None:
    with pytest.raises(ValueError, match="policyDocument"):
        policy_verdict({"isAuthorized": True})

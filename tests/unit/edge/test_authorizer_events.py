"""The authorizer on the WebSocket API's $connect: an IAM policy, the token from the query string."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.edge.authorizer_events import authorize_websocket_event, handle_event
from bakery_gateway.realtime.websocket.connections import identity_from_authorizer
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import AUTHORIZER_REQUEST, WEBSOCKET_AUTHORIZER_REQUEST, load_event, load_recording

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:w1s2k3t4u5/live/$connect"


@pytest.fixture
def authorizer(dev_keys: DevKeyPair) -> Authorizer:
    verifier = TokenVerifier(parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS"), JwtSettings())
    return Authorizer(verifier, fakeredis.FakeRedis(decode_responses=True))


def connect_event(token: str | None) -> dict[str, Any]:
    event = load_recording(WEBSOCKET_AUTHORIZER_REQUEST)
    if token is None:
        del event["queryStringParameters"]
    else:
        event["queryStringParameters"] = {"token": token}
    return event


def statement(answer: dict[str, Any]) -> dict[str, Any]:
    (only,) = answer["policyDocument"]["Statement"]
    return dict(only)


def test_a_valid_token_is_allowed_on_the_connect_route(authorizer: Authorizer, dev_keys: DevKeyPair) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")

    answer = authorize_websocket_event(authorizer, connect_event(token))

    assert answer["principalId"] == "user-1"
    assert statement(answer) == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}


def test_the_context_is_the_identity_the_connect_route_reads(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-b"])

    context = authorize_websocket_event(authorizer, connect_event(token))["context"]
    as_strings = {
        key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in context.items()
    }

    assert identity_from_authorizer(as_strings).tenant_ids == ("tenant-a", "tenant-b")


def test_an_invalid_token_is_denied(authorizer: Authorizer) -> None:
    answer = authorize_websocket_event(authorizer, connect_event("garbage"))

    assert statement(answer)["Effect"] == "Deny"
    assert answer["context"]["authenticated"] is False


def test_an_expired_token_is_denied(authorizer: Authorizer, dev_keys: DevKeyPair) -> None:
    token = dev_keys.mint(user_id="user-1", now=0, ttl_seconds=60)

    assert statement(authorize_websocket_event(authorizer, connect_event(token)))["Effect"] == "Deny"


def test_no_token_is_denied(authorizer: Authorizer) -> None:
    answer = authorize_websocket_event(authorizer, connect_event(None))

    assert (answer["principalId"], statement(answer)["Effect"]) == ("unauthenticated", "Deny")


def test_a_bearer_header_does_not_stand_in_for_the_query_token(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    event = connect_event(None)
    event["headers"]["Authorization"] = f"Bearer {dev_keys.mint(user_id='user-1')}"

    assert statement(authorize_websocket_event(authorizer, event))["Effect"] == "Deny"


def test_the_handler_answers_a_websocket_event_with_a_policy(authorizer: Authorizer) -> None:
    assert "policyDocument" in handle_event(authorizer, connect_event("garbage"))


def test_the_handler_answers_an_http_api_event_with_a_simple_response(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    event = load_event(AUTHORIZER_REQUEST, token=dev_keys.mint(user_id="user-1"))

    assert handle_event(authorizer, event)["isAuthorized"] is True

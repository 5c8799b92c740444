"""The client protocol: every message parses to a request or to an error answer, never an exception."""

from __future__ import annotations

import json

import pytest

from bakery_gateway.realtime.websocket import messages
from bakery_gateway.realtime.websocket.messages import MessageError, Request


def test_a_ping_is_a_ping() -> None:
    assert messages.parse('{"action":"ping"}') == Request("ping")


def test_an_alerts_subscription_may_name_its_tenant() -> None:
    request = messages.parse('{"action":"subscribe","topic":"alerts","tenant_id":"tenant-b"}')

    assert request == Request("subscribe", "alerts", tenant_id="tenant-b")


def test_an_alerts_subscription_without_a_tenant_leaves_it_to_the_token() -> None:
    assert messages.parse('{"action":"subscribe","topic":"alerts"}') == Request("subscribe", "alerts")


def test_a_training_subscription_carries_its_job() -> None:
    request = messages.parse('{"action":"unsubscribe","topic":"training","job_id":"job-7"}')

    assert request == Request("unsubscribe", "training", job_id="job-7")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "bad-request"),
        ("", "bad-request"),
        ("not json", "bad-request"),
        ("[1, 2]", "bad-request"),
        ('"subscribe"', "bad-request"),
        ('{"topic":"alerts"}', "unknown-action"),
        ('{"action":"publish"}', "unknown-action"),
        ('{"action":"subscribe"}', "bad-request"),
        ('{"action":"subscribe","topic":"sales"}', "bad-request"),
        ('{"action":"subscribe","topic":"training"}', "bad-request"),
        ('{"action":"subscribe","topic":"alerts","tenant_id":42}', "bad-request"),
        ('{"action":"subscribe","topic":"alerts","tenant_id":""}', "bad-request"),
        ('{"action":"subscribe","topic":"training","job_id":"a:b"}', "bad-request"),
        ('{"action":"subscribe","topic":"training","job_id":"a b"}', "bad-request"),
    ],
)
def test_a_malformed_message_is_refused_with_a_code(body: str | None, code: str) -> None:
    with pytest.raises(MessageError) as refused:
        messages.parse(body)

    assert refused.value.code == code


def test_answers_are_json_with_a_type() -> None:
    answers = [messages.ok("subscribe", "alerts:t"), messages.pong(), messages.error("forbidden", "no")]

    assert [json.loads(answer)["type"] for answer in answers] == ["ok", "pong", "error"]


@pytest.mark.parametrize("body", ["[" * 5000, '{"action": "ping", "x": ' + "[" * 40 + "]" * 40 + "}"])
def test_a_message_nested_past_the_limit_is_a_bad_request_not_an_exception(body: str) -> None:
    with pytest.raises(MessageError) as error:
        messages.parse(body)

    assert error.value.code == "bad-request"

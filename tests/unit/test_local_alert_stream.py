"""The local runtime's continuous alert stream: which requests it takes, what it relays of each answer."""

from __future__ import annotations

import pytest

from bakery_local.alert_stream import PROXY_ROUTE_KEY, is_alert_stream, relay_body, with_last_event_id

PATH = "/api/v1/alerts/stream"
RETRY = b"retry: 1000\n\n"
IDLE = b": no alerts within 20 s\nid: 5-0\n\n"
ALERT = b'id: 6-0\nevent: alert\ndata: {"message": "m"}\n\n'


def test_a_get_of_the_stream_on_the_proxy_route_is_streamed() -> None:
    assert is_alert_stream("GET", PROXY_ROUTE_KEY, PATH, "$default")


def test_a_named_stage_prefixes_the_path() -> None:
    assert is_alert_stream("GET", PROXY_ROUTE_KEY, f"/prod{PATH}", "prod")


@pytest.mark.parametrize(
    ("method", "route_key", "path"),
    [
        ("POST", PROXY_ROUTE_KEY, PATH),
        ("GET", "ANY /api/v1/admin/{proxy+}", PATH),
        ("GET", PROXY_ROUTE_KEY, f"{PATH}/more"),
    ],
)
def test_anything_else_is_answered_once(method: str, route_key: str, path: str) -> None:
    assert not is_alert_stream(method, route_key, path, "$default")


def test_the_last_relayed_id_replaces_the_clients_last_event_id() -> None:
    headers = [("authorization", "Bearer t"), ("last-event-id", "1-0")]

    assert with_last_event_id(headers, "7-0") == [("authorization", "Bearer t"), ("last-event-id", "7-0")]


def test_before_any_id_the_clients_own_last_event_id_is_kept() -> None:
    headers = [("last-event-id", "1-0")]

    assert with_last_event_id(headers, None) == headers


def test_the_first_answer_keeps_its_retry_hint() -> None:
    assert relay_body(RETRY + ALERT, None, first=True).text == RETRY + ALERT


def test_later_answers_drop_the_retry_hint() -> None:
    assert relay_body(RETRY + ALERT, "5-0", first=False).text == ALERT


def test_the_last_id_relayed_is_remembered() -> None:
    assert relay_body(RETRY + ALERT, "5-0", first=False).last_id == "6-0"


def test_a_new_position_is_relayed_without_its_comment() -> None:
    relayed = relay_body(IDLE, None, first=False)

    assert (relayed.text, relayed.last_id) == (b"id: 5-0\n\n", "5-0")


def test_an_unchanged_position_is_not_relayed_again() -> None:
    assert relay_body(RETRY + IDLE, "5-0", first=False).text == b""

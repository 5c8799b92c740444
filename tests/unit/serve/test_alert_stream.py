"""The local runtime's continuous alert stream: which requests it takes, what it relays of each answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any, cast

import pytest

from bakery_gateway.serve.alert_feed import AlertFeeds
from bakery_gateway.serve.alert_stream import (
    PROXY_ROUTE_KEY,
    AlertStreaming,
    Answer,
    is_alert_stream,
    reconnect_hint,
    relay_body,
    stream,
    with_last_event_id,
)

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


class QuietFeed:
    """A tenant feed on which no alert comes: a follower waits until interrupted or its time is up."""

    async def after(
        self, position: object, wait_seconds: float, *, interrupt: asyncio.Future[Any]
    ) -> list[Any]:
        await asyncio.wait({interrupt}, timeout=wait_seconds)
        return []


class QuietFeeds:
    @contextlib.asynccontextmanager
    async def follow(self, tenant_id: str) -> AsyncIterator[QuietFeed]:
        yield QuietFeed()


class OpenStream:
    """``stream`` serving a client that stays connected, with what it sent so far."""

    def __init__(self, stopping: asyncio.Future[None]) -> None:
        self.sent: list[MutableMapping[str, Any]] = []
        self.streaming = asyncio.Event()  # the first body bytes are out
        self.task = asyncio.ensure_future(
            stream(
                self.invoke,
                self.receive,
                self.send,
                AlertStreaming(
                    cast(AlertFeeds, QuietFeeds()),
                    heartbeat_seconds=60,
                    recheck_seconds=60,
                    retry_milliseconds=700,
                ),
                extra_headers=[],
                stopping=stopping,
            )
        )

    async def invoke(self, last_id: str | None) -> Answer:
        return 200, [(b"content-type", b"text/event-stream"), (b"x-tenant-id", b"t1")], RETRY + IDLE

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body":
            self.streaming.set()

    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for message in self.sent[1:])


async def test_the_runtime_stopping_ends_an_open_stream_with_a_reconnect_hint() -> None:
    stopping: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    client = OpenStream(stopping)
    await client.streaming.wait()

    stopping.set_result(None)
    await asyncio.wait_for(client.task, timeout=1)

    assert client.body().endswith(reconnect_hint(700))
    assert client.sent[-1] == {"type": "http.response.body", "body": b""}  # the response is complete


async def test_a_stream_already_stopping_when_its_first_answer_comes_relays_it_then_ends() -> None:
    stopping: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stopping.set_result(None)

    client = OpenStream(stopping)
    await asyncio.wait_for(client.task, timeout=1)

    assert client.sent[0]["status"] == 200
    assert client.body() == RETRY + b"id: 5-0\n\n" + reconnect_hint(700)


def test_the_reconnect_hint_is_a_comment_and_the_retry_field() -> None:
    assert reconnect_hint(700) == (
        b": the gateway is restarting or stopping; reconnect with Last-Event-ID\nretry: 700\n\n"
    )

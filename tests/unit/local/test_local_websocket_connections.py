"""The local @connections management API over the open connections."""

from __future__ import annotations

import json

from starlette.types import Message

from bakery_local.websocket_connections import ConnectionRegistry, LiveConnection, is_management_path
from bakery_local.websocket_events import Handshake


def handshake(connection_id: str = "abc=") -> Handshake:
    return Handshake(
        connection_id, "", [("user-agent", "test/1")], "127.0.0.1", 1_767_225_600_000, "$default"
    )


def registry_with(sent: list[Message]) -> ConnectionRegistry:
    async def send(message: Message) -> None:
        sent.append(message)

    registry = ConnectionRegistry()
    registry.add(LiveConnection(handshake(), send))
    return registry


def test_management_paths_are_recognised_with_and_without_a_stage() -> None:
    assert [is_management_path(p) for p in ("/@connections/a=", "/prod/@connections/a=", "/api/x")] == [
        True,
        True,
        False,
    ]


async def test_a_post_is_sent_to_the_connection_as_text() -> None:
    sent: list[Message] = []

    status, _, _ = await registry_with(sent).manage("POST", "/@connections/abc=", b'{"a":1}', "127.0.0.1")

    assert status == 200
    assert sent == [{"type": "websocket.send", "text": '{"a":1}'}]


async def test_an_unknown_connection_is_gone() -> None:
    status, headers, body = await ConnectionRegistry().manage(
        "POST", "/@connections/nope=", b"x", "127.0.0.1"
    )

    assert status == 410
    assert (b"x-amzn-ErrorType", b"GoneException") in headers
    assert json.loads(body) == {"message": "Gone"}


async def test_a_deleted_connection_is_closed_and_then_gone() -> None:
    sent: list[Message] = []
    registry = registry_with(sent)

    deleted, _, _ = await registry.manage("DELETE", "/@connections/abc=", b"", "127.0.0.1")
    after, _, _ = await registry.manage("POST", "/@connections/abc=", b"x", "127.0.0.1")

    assert (deleted, after) == (204, 410)
    assert sent[0]["type"] == "websocket.close"


async def test_get_describes_the_connection() -> None:
    _, _, body = await registry_with([]).manage("GET", "/@connections/abc=", b"", "127.0.0.1")

    document = json.loads(body)
    assert document["connectedAt"] == "2026-01-01T00:00:00.000Z"
    assert document["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "test/1"}


async def test_a_message_over_128_kb_is_too_large() -> None:
    status, _, _ = await registry_with([]).manage(
        "POST", "/@connections/abc=", b"x" * (128 * 1024 + 1), "::1"
    )

    assert status == 413


async def test_another_machine_is_forbidden() -> None:
    status, _, _ = await registry_with([]).manage("GET", "/@connections/abc=", b"", "10.0.0.5")

    assert status == 403


async def test_an_id_holding_an_encoded_slash_and_plus_is_found() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    registry = ConnectionRegistry()
    registry.add(LiveConnection(handshake("a/b+c="), send))

    status, _, _ = await registry.manage("POST", "/@connections/a%2Fb%2Bc%3D", b"x", "127.0.0.1")

    assert status == 200
    assert len(sent) == 1


async def test_a_post_to_a_client_that_just_went_away_is_gone() -> None:
    async def send(message: Message) -> None:
        raise OSError("client disconnected")

    registry = ConnectionRegistry()
    registry.add(LiveConnection(handshake(), send))

    status, _, _ = await registry.manage("POST", "/@connections/abc=", b"x", "127.0.0.1")

    assert status == 410

"""The local WebSocket API in-process: handshake, authorizer, routing, limits (functions faked)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, cast

import pytest
from starlette.types import Message

from bakery_local.invoker import Invoker
from bakery_local.websocket_gateway import LocalWebSocketApi
from bakery_local.websocket_template import WebSocketApiSpec, WebSocketAuthorizerSpec, WebSocketRouteSpec

Answer = Callable[[dict[str, Any]], Any]


class FakeInvoker:
    """Records each invocation; answers with the function's callable."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        self.events.append((logical_id, event))
        return self.answers[logical_id](event)

    def routes_invoked(self) -> list[str]:
        return [event["requestContext"]["routeKey"] for name, event in self.events if name == "Ws"]


def policy(effect: str) -> Answer:
    """An authorizer answering an IAM policy with ``effect`` and a context."""
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": "*"}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return lambda event: {"principalId": "user-1", "policyDocument": document, "context": {"tenant_id": "t1"}}


def websocket_function(event: dict[str, Any]) -> dict[str, Any]:
    if event["requestContext"]["routeKey"] == "ping":
        return {"statusCode": 200, "body": json.dumps({"type": "pong"})}
    return {"statusCode": 200}


SPEC = WebSocketApiSpec(
    name="WebSocketApi",
    route_selection_expression="$request.body.action",
    routes={
        key: WebSocketRouteSpec(key, "Ws", "Auth" if key == "$connect" else None)
        for key in ("$connect", "$disconnect", "$default", "ping")
    },
    authorizers={"Auth": WebSocketAuthorizerSpec("Auth", "Authz", identity_query=("token",))},
)


class Socket:
    """One client connection driven through the ASGI interface, as uvicorn would."""

    def __init__(self, api: LocalWebSocketApi, target: str = "/ws?token=t") -> None:
        path, _, query = target.partition("?")
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": query.encode(),
            "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"test/1")],
            "client": ("127.0.0.1", 50000),
            "extensions": {"websocket.http.response": {}},
        }
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        self.outgoing: asyncio.Queue[Message] = asyncio.Queue()
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(api(scope, self.incoming.get, self.outgoing.put))

    async def next(self) -> Message:
        return await asyncio.wait_for(self.outgoing.get(), 5)

    def send_text(self, text: str) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    async def close(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)


def api_for(
    invoker: FakeInvoker, *, idle_seconds: float | None = None, max_seconds: float | None = None
) -> LocalWebSocketApi:
    return LocalWebSocketApi(SPEC, cast(Invoker, invoker), idle_seconds=idle_seconds, max_seconds=max_seconds)


@pytest.fixture
def invoker() -> FakeInvoker:
    return FakeInvoker({"Authz": policy("Allow"), "Ws": websocket_function})


async def refusal_status(api: LocalWebSocketApi, target: str = "/ws?token=t") -> int:
    start = await Socket(api, target).next()
    assert start["type"] == "websocket.http.response.start"
    return int(start["status"])


async def test_a_handshake_without_the_token_is_refused_401_without_the_authorizer(
    invoker: FakeInvoker,
) -> None:
    assert await refusal_status(api_for(invoker), "/ws") == 401
    assert invoker.events == []


async def test_a_denied_handshake_is_refused_403() -> None:
    invoker = FakeInvoker({"Authz": policy("Deny"), "Ws": websocket_function})

    assert await refusal_status(api_for(invoker)) == 403


async def test_a_failing_authorizer_refuses_500() -> None:
    invoker = FakeInvoker({"Authz": lambda event: {"isAuthorized": True}, "Ws": websocket_function})

    assert await refusal_status(api_for(invoker)) == 500


async def test_a_connect_function_answering_other_than_200_refuses_the_handshake() -> None:
    invoker = FakeInvoker({"Authz": policy("Allow"), "Ws": lambda event: {"statusCode": 403}})

    assert await refusal_status(api_for(invoker)) == 403


async def test_an_unknown_path_is_refused_404(invoker: FakeInvoker) -> None:
    assert await refusal_status(api_for(invoker), "/elsewhere?token=t") == 404


async def test_connect_receives_the_authorizer_context_as_strings(invoker: FakeInvoker) -> None:
    socket = Socket(api_for(invoker), "/api/v1/training/ws?token=t")

    assert (await socket.next())["type"] == "websocket.accept"
    connect = next(event for name, event in invoker.events if name == "Ws")
    assert connect["requestContext"]["authorizer"] == {"principalId": "user-1", "tenant_id": "t1"}
    await socket.close()


async def test_a_message_goes_to_its_route_and_the_answer_body_comes_back(invoker: FakeInvoker) -> None:
    socket = Socket(api_for(invoker))
    await socket.next()

    socket.send_text(json.dumps({"action": "ping"}))

    assert await socket.next() == {"type": "websocket.send", "text": '{"type": "pong"}'}
    await socket.close()


async def test_closing_invokes_disconnect(invoker: FakeInvoker) -> None:
    api = api_for(invoker)
    socket = Socket(api)
    await socket.next()
    socket.send_text("hello")

    await socket.close()

    assert invoker.routes_invoked() == ["$connect", "$default", "$disconnect"]
    assert len(api.registry) == 0


async def test_a_message_over_the_frame_limit_closes_with_1009(invoker: FakeInvoker) -> None:
    socket = Socket(api_for(invoker))
    await socket.next()

    socket.send_text("x" * (32 * 1024 + 1))

    assert (await socket.next())["code"] == 1009


async def test_an_idle_connection_is_closed_with_1001(invoker: FakeInvoker) -> None:
    socket = Socket(api_for(invoker, idle_seconds=0.1))
    await socket.next()

    assert (await socket.next())["code"] == 1001
    await asyncio.wait_for(socket.task, 5)
    assert invoker.routes_invoked()[-1] == "$disconnect"


async def test_a_connection_past_its_maximum_duration_is_closed(invoker: FakeInvoker) -> None:
    socket = Socket(api_for(invoker, max_seconds=0.2))
    await socket.next()
    socket.send_text("keeps it from being idle")

    closed = await socket.next()

    assert (closed["type"], closed["code"], closed["reason"]) == (
        "websocket.close",
        1001,
        "Going away (maximum duration)",
    )

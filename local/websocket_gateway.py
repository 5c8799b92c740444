"""The local WebSocket API: ASGI ``websocket`` scopes served as API Gateway serves a WebSocket API.

On the handshake it runs the ``$connect`` route's REQUEST authorizer (identity source missing: 401
without invoking it; a Deny: 403; an error: 500; never cached, as on WebSocket APIs), then invokes
``$connect`` with the authorizer's context in ``requestContext.authorizer`` and accepts the socket only
when the function answers ``statusCode`` 200. Each message goes to the route the selection expression
names (``$request.body.action``), else ``$default``; a function answer with a ``body`` is sent back to
the client (API Gateway does so only for routes with a route response: here every route has one). The
end of the connection, from either side, invokes ``$disconnect``. Limits: a message over 32 KB (API
Gateway's frame limit: ASGI hands over whole messages, so a fragmented message of 32 to 128 KB, which API
Gateway accepts, is refused here) or over 128 KB closes with 1009; 10 minutes idle and 2 hours in all
close with 1001.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from bakery_gateway.api.platform_limits import (
    WEBSOCKET_CONNECTION_SECONDS,
    WEBSOCKET_FRAME_BYTES,
    WEBSOCKET_IDLE_SECONDS,
    WEBSOCKET_MESSAGE_BYTES,
)
from bakery_local.invoker import Invoker
from bakery_local.websocket_connections import ConnectionRegistry, LiveConnection
from bakery_local.websocket_events import (
    Handshake,
    authorizer_event,
    connect_event,
    disconnect_event,
    message_event,
    new_connection_id,
    policy_verdict,
)
from bakery_local.websocket_template import CONNECT_ROUTE, DISCONNECT_ROUTE, WebSocketApiSpec

log = logging.getLogger("bakery_local")

WEBSOCKET_PATHS = ("/api/v1/training/ws", "/ws")
IDLE_SECONDS_VARIABLE = "BAKERY_LOCAL_WS_IDLE_SECONDS"
MAX_SECONDS_VARIABLE = "BAKERY_LOCAL_WS_MAX_SECONDS"
MESSAGE_TOO_BIG = 1009
GOING_AWAY = 1001
Refusal = tuple[int, str]


class LocalWebSocketApi:
    def __init__(
        self,
        api: WebSocketApiSpec,
        invoker: Invoker,
        *,
        registry: ConnectionRegistry | None = None,
        idle_seconds: float | None = None,
        max_seconds: float | None = None,
    ) -> None:
        self.api = api
        self.invoker = invoker
        self.registry = registry or ConnectionRegistry()
        self.idle_seconds = idle_seconds or float(
            os.environ.get(IDLE_SECONDS_VARIABLE, WEBSOCKET_IDLE_SECONDS)
        )
        self.max_seconds = max_seconds or float(
            os.environ.get(MAX_SECONDS_VARIABLE, WEBSOCKET_CONNECTION_SECONDS)
        )
        self.authorizer_invocations = 0

    def serves(self, path: str) -> bool:
        return path in WEBSOCKET_PATHS or (self.api.stage != "$default" and path == f"/{self.api.stage}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        opening = await receive()
        if opening["type"] != "websocket.connect":
            return
        headers = [
            (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]
        ]
        handshake = Handshake(
            connection_id=new_connection_id(),
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            source_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            connected_at_ms=int(time.time() * 1000),
            stage=self.api.stage,
        )
        if not self.serves(scope["path"]):
            await _refuse(scope, send, (404, "Not Found"))
            return
        verdict = await self.connect(handshake)
        if isinstance(verdict, tuple):
            await _refuse(scope, send, verdict)
            return
        await send({"type": "websocket.accept"})
        connection = LiveConnection(handshake, send)
        self.registry.add(connection)
        code, reason = 1000, "Client closed"
        try:
            code, reason = await self._converse(connection, receive, verdict)
        finally:
            self.registry.remove(handshake.connection_id)
            await self._disconnect(connection, verdict, code, reason)

    async def connect(self, handshake: Handshake) -> dict[str, str] | Refusal | None:
        """The authorizer's context (None without an authorizer), or the refusal of the handshake."""
        route = self.api.routes.get(CONNECT_ROUTE)
        if route is None:
            return None
        context: dict[str, str] | None = None
        if route.authorizer is not None:
            authorized = await self._authorize(handshake, route.authorizer)
            if isinstance(authorized, tuple):
                return authorized
            context = authorized
        try:
            answer = await self.invoker.invoke(route.function, connect_event(handshake, context))
        except Exception:
            log.exception("%s failed on $connect", route.function)
            return 500, "Internal server error"
        status = answer.get("statusCode") if isinstance(answer, Mapping) else None
        if status != 200:
            return (status if isinstance(status, int) and 400 <= status < 600 else 500), "Forbidden"
        return context

    async def _authorize(self, handshake: Handshake, name: str) -> dict[str, str] | Refusal:
        authorizer = self.api.authorizers[name]
        query = dict(_pairs(handshake.raw_query))
        headers = dict(handshake.headers)
        present = [query.get(item, "") for item in authorizer.identity_query]
        present += [headers.get(item, "") for item in authorizer.identity_headers]
        if not all(present):
            return 401, "Unauthorized"
        self.authorizer_invocations += 1
        try:
            answer = await self.invoker.invoke(authorizer.function, authorizer_event(handshake))
            allowed, context = policy_verdict(answer)
        except Exception:
            log.exception("authorizer %s failed", name)
            return 500, "Internal server error"
        return context if allowed else (403, "Forbidden")

    async def _converse(
        self, connection: LiveConnection, receive: Receive, context: dict[str, str] | None
    ) -> tuple[int, str]:
        """Messages until the connection ends; its close code and reason."""
        opened = time.monotonic()
        last_message = opened
        while True:
            now = time.monotonic()
            idle_left = self.idle_seconds - (now - last_message)
            total_left = self.max_seconds - (now - opened)
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(idle_left, total_left)))
            except TimeoutError:
                reason = "Going away (idle)" if idle_left <= total_left else "Going away (maximum duration)"
                await connection.close(GOING_AWAY, reason)
                return GOING_AWAY, reason
            if message["type"] == "websocket.disconnect":
                connection.closed = True
                return int(message.get("code", 1005)), str(message.get("reason") or "")
            last_message = time.monotonic()
            connection.last_active_at = time.time()
            text = message.get("text")
            body: str | bytes = text if text is not None else message.get("bytes") or b""
            size = len(body.encode() if isinstance(body, str) else body)
            if size > WEBSOCKET_FRAME_BYTES:
                limit = "Message too big" if size > WEBSOCKET_MESSAGE_BYTES else "Frame too big"
                await connection.close(MESSAGE_TOO_BIG, limit)
                return MESSAGE_TOO_BIG, limit
            await self._route_message(connection, body, context)

    async def _route_message(
        self, connection: LiveConnection, body: str | bytes, context: dict[str, str] | None
    ) -> None:
        handshake = connection.handshake
        route = self.api.select_route(body if isinstance(body, str) else "")
        if route is None:
            await connection.deliver(_gateway_message("Forbidden", handshake))
            return
        try:
            answer = await self.invoker.invoke(
                route.function, message_event(handshake, route.route_key, body, context)
            )
        except Exception:
            log.exception("%s failed on %s", route.function, route.route_key)
            await connection.deliver(_gateway_message("Internal server error", handshake))
            return
        reply = answer.get("body") if isinstance(answer, Mapping) else None
        if reply:
            await connection.deliver(str(reply).encode())

    async def _disconnect(
        self, connection: LiveConnection, context: dict[str, str] | None, code: int, reason: str
    ) -> None:
        route = self.api.routes.get(DISCONNECT_ROUTE)
        if route is None:
            return
        try:
            await self.invoker.invoke(
                route.function, disconnect_event(connection.handshake, context, code, reason)
            )
        except Exception:
            log.exception("%s failed on $disconnect", route.function)


def _pairs(raw_query: str) -> list[tuple[str, str]]:
    return parse_qsl(raw_query, keep_blank_values=True)


def _gateway_message(message: str, handshake: Handshake) -> bytes:
    """API Gateway's own message to a client whose message it could not route or run."""
    document: dict[str, Any] = {
        "message": message,
        "connectionId": handshake.connection_id,
        "requestId": uuid.uuid4().hex[:16],
    }
    return json.dumps(document).encode()


async def _refuse(scope: Scope, send: Send, refusal: Refusal) -> None:
    """Refuses the handshake with an HTTP status (the denial response extension), else a close (403)."""
    status, message = refusal
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})

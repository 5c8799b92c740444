"""The WebSocket function's routes, by ``requestContext.routeKey``.

``$connect`` (behind the REQUEST authorizer) registers the connection with the verified identity;
``$disconnect`` removes it; every other route answers one client message with one JSON answer, sent
back to the client as the route response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.realtime.websocket import messages
from bakery_gateway.realtime.websocket.connections import (
    Connections,
    NotAuthenticatedError,
    identity_from_authorizer,
)
from bakery_gateway.telemetry.observability import logger


def handle(event: Mapping[str, Any], connections: Connections) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    route_key, connection_id = context.get("routeKey"), str(context.get("connectionId") or "")
    if route_key == "$connect":
        return _connect(connection_id, context.get("authorizer"), connections)
    if route_key == "$disconnect":
        return _disconnect(connection_id, connections)
    return _answer(_message(connection_id, event.get("body"), connections))


def _connect(connection_id: str, authorizer: object, connections: Connections) -> dict[str, Any]:
    try:
        connections.register(connection_id, identity_from_authorizer(authorizer))
    except NotAuthenticatedError as error:
        # The authorizer denies refused tokens before $connect: reaching here is a wiring mistake.
        logger.warning("WebSocket connect refused", extra={"reason": str(error)})
        return {"statusCode": 401}
    except RedisUnavailableError:
        return {"statusCode": 503}
    return {"statusCode": 200}


def _disconnect(connection_id: str, connections: Connections) -> dict[str, Any]:
    try:
        connections.remove(connection_id)
    except RedisUnavailableError:
        logger.warning("WebSocket disconnect not recorded; the record expires on its own")
    return {"statusCode": 200}


def _message(connection_id: str, body: str | None, connections: Connections) -> str:
    try:
        request = messages.parse(body)
        if request.action == "ping":
            return messages.pong()
        if request.action == "subscribe":
            return messages.ok("subscribe", connections.subscribe(connection_id, request))
        return messages.ok("unsubscribe", connections.unsubscribe(connection_id, request))
    except messages.MessageError as error:
        return messages.error(error.code, error.detail)
    except RedisUnavailableError:
        return messages.error("unavailable", "subscriptions cannot be changed right now; retry")


def _answer(body: str) -> dict[str, Any]:
    return {"statusCode": 200, "body": body}

"""The open WebSocket connections and the ``@connections`` management API over them.

Answers ``POST|GET|DELETE /@connections/{connectionId}`` (also under a stage, ``/{stage}/@connections/...``,
as the management URL in AWS carries one) the way API Gateway's management API does, so a boto3
``apigatewaymanagementapi`` client with ``endpoint_url`` = this runtime works unchanged: a connection
that is unknown or gone is ``410`` with ``x-amzn-ErrorType: GoneException``. IAM (SigV4,
``execute-api:ManageConnections``) is stood in for by accepting loopback callers only (``bakery_local.iam``).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

from starlette.types import Message, Send

from bakery_gateway.api.platform_limits import WEBSOCKET_MESSAGE_BYTES
from bakery_gateway.serve.answers import is_loopback
from bakery_local.websocket_events import Handshake

_PATH = re.compile(r"^(?:/[^/@]+)?/@connections/([^/]+)$")
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def is_management_path(raw_path: str) -> bool:
    """``raw_path`` is the path as sent (percent-encoded): ids are matched before they are decoded."""
    return "/@connections/" in raw_path and _PATH.match(raw_path) is not None


@dataclass
class LiveConnection:
    handshake: Handshake
    send: Send
    last_active_at: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    async def deliver(self, data: bytes) -> bool:
        """``data`` as one message (text when it is UTF-8, as API Gateway sends it); False once closed."""
        async with self.lock:
            if self.closed:
                return False
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                message: Message = {"type": "websocket.send", "bytes": data}
            else:
                message = {"type": "websocket.send", "text": text}
            try:
                await self.send(message)
            except (OSError, RuntimeError):  # the client went away before the close reached us
                self.closed = True
                return False
            self.last_active_at = time.time()
            return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        async with self.lock:
            if self.closed:
                return
            self.closed = True
            await self.send({"type": "websocket.close", "code": code, "reason": reason})


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, LiveConnection] = {}

    def add(self, connection: LiveConnection) -> None:
        self._connections[connection.handshake.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)

    def get(self, connection_id: str) -> LiveConnection | None:
        connection = self._connections.get(connection_id)
        return None if connection is None or connection.closed else connection

    def __len__(self) -> int:
        return len(self._connections)

    async def manage(self, method: str, raw_path: str, body: bytes, source_ip: str) -> Answer:
        """One management API request (``raw_path`` still percent-encoded): API Gateway's answer."""
        if not is_loopback(source_ip):
            return _error(403, "ForbiddenException", "Forbidden")
        found = _PATH.match(raw_path)
        if found is None:
            return _error(404, "NotFoundException", "Not Found")
        connection = self.get(unquote(found.group(1)))
        if method not in ("POST", "GET", "DELETE"):
            return _error(404, "NotFoundException", "Not Found")
        if connection is None:
            return _error(410, "GoneException", "Gone")
        if method == "POST":
            if len(body) > WEBSOCKET_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "Message too long")
            if not await connection.deliver(body):
                return _error(410, "GoneException", "Gone")
            return 200, [(b"content-length", b"0")], b""
        if method == "DELETE":
            await connection.close(1000, "Goodbye")
            return 204, [(b"content-length", b"0")], b""
        handshake = connection.handshake
        document = {
            "connectedAt": _iso(handshake.connected_at_ms / 1000),
            "identity": {"sourceIp": handshake.source_ip, "userAgent": handshake.user_agent},
            "lastActiveAt": _iso(connection.last_active_at),
        }
        return _json(200, document, [])


def _iso(epoch_seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, error_type: str, message: str) -> Answer:
    return _json(status, {"message": message}, [(b"x-amzn-ErrorType", error_type.encode())])


def _json(status: int, document: object, headers: list[tuple[bytes, bytes]]) -> Answer:
    body = json.dumps(document).encode()
    return (
        status,
        [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        body,
    )

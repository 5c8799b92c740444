"""The local runtime's ``@connections`` endpoint (``bakery_local.websocket_connections``) on a real
socket: uvicorn on a thread, over a registry of connections whose sent messages are recorded.

It answers as ``local/gateway.py`` does for a management path: 200 for a live connection, 410
``GoneException`` for one that is unknown or closed. It also records the ``Authorization`` headers
it was sent (the local endpoint checks no signature).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from starlette.types import Message, Receive, Scope, Send

from bakery_gateway.serve.asgi_body import read_body
from bakery_local.websocket_connections import ConnectionRegistry, LiveConnection
from bakery_local.websocket_events import Handshake
from tests.support.redis_server import free_port

START_SECONDS = 10.0


class ConnectionsServer:
    def __init__(self) -> None:
        self.registry = ConnectionRegistry()
        self.received: dict[str, list[str]] = {}
        self.closed: set[str] = set()
        self.authorizations: list[str] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="connections-server", daemon=True)

    def open(self, *connection_ids: str) -> None:
        """Live connections: what is posted to each is recorded in ``received[connection_id]``, and
        a close (``DELETE``) in ``closed``."""
        for connection_id in connection_ids:
            self.registry.add(LiveConnection(self._handshake(connection_id), self._recorder(connection_id)))

    def is_closed(self, connection_id: str) -> bool:
        return connection_id in self.closed

    def _recorder(self, connection_id: str) -> Send:
        messages = self.received.setdefault(connection_id, [])

        async def send(message: Message) -> None:
            if message["type"] == "websocket.close":
                self.closed.add(connection_id)
            else:
                messages.append(message.get("text") or message.get("bytes", b"").decode())

        return send

    @staticmethod
    def _handshake(connection_id: str) -> Handshake:
        return Handshake(connection_id, "", [], "127.0.0.1", int(time.time() * 1000), "live")

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = await read_body(receive)
        headers = dict(scope["headers"])
        self.authorizations.append(headers.get(b"authorization", b"").decode())
        raw_path = scope["raw_path"].decode("latin-1")
        status, response_headers, response_body = await self.registry.manage(
            scope["method"], raw_path, body, scope["client"][0]
        )
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": response_body})

    def __enter__(self) -> ConnectionsServer:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the @connections server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(START_SECONDS)

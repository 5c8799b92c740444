"""Built-in sample services: one echo server per service, so a first request shows what arrives.

Each service listens on its own loopback port; the echo names the service, and returns the method,
path, query, headers and body it received (the body as text, or base64 when it is not UTF-8).
The sample tenant service also answers the gateway's subscription look-up: every tenant is on an
active ``professional`` plan, so a newcomer's writes are not refused for want of a subscription.
The sample demo-session service creates demo sessions (``sample_demo_sessions.py``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from bakery_gateway.constants import DEMO_SERVICE, REQUEST_ID_HEADER
from bakery_gateway.serve.asgi_body import read_body

if TYPE_CHECKING:
    import uvicorn

    from bakery_local.sample_demo_sessions import DemoSessions


SUBSCRIPTION_PATH = re.compile(r"/api/v1/tenants/[^/]+/subscription")
SAMPLE_SUBSCRIPTION = {
    "status": "active",
    "plan": "professional",
    "current_period_end": "2099-12-31T00:00:00Z",
    "grace_period_days": 7,
}


class EchoApp:
    def __init__(self, services_by_port: dict[int, str], demo_sessions: DemoSessions | None = None) -> None:
        self._services_by_port = services_by_port
        self._demo_sessions = demo_sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        try:
            text: str | None = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        service = self._services_by_port.get(scope["server"][1], "unknown")
        if service == "tenants" and scope["method"] == "GET" and SUBSCRIPTION_PATH.fullmatch(path):
            await _send_json(send, SAMPLE_SUBSCRIPTION)
            return
        if service == DEMO_SERVICE and self._demo_sessions is not None:
            request_id = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
            answer = await self._demo_sessions.answer(scope["method"], path, body, request_id)
            await _send_json(send, answer.document, answer.status, answer.content_type)
            return
        query = scope["query_string"].decode("latin-1")
        echo = {
            "service": service,
            "method": scope["method"],
            "path": path,
            "query": query,
            "query_params": [[key, value] for key, value in parse_qsl(query, keep_blank_values=True)],
            "headers": [
                [name.decode("latin-1"), value.decode("latin-1")] for name, value in scope["headers"]
            ],
            "body": text if text is not None else base64.b64encode(body).decode(),
            "body_base64": text is None,
        }
        await _send_json(send, echo)


async def _send_json(
    send: Send, document: object, status: int = 200, content_type: str = "application/json"
) -> None:
    payload = json.dumps(document).encode()
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class SampleServices:
    """Starts the echo servers on free loopback ports, in a background thread."""

    def __init__(
        self, services: Iterable[str], host: str = "127.0.0.1", demo_sessions: DemoSessions | None = None
    ) -> None:
        self._sockets: list[socket.socket] = []
        self.urls: dict[str, str] = {}
        services_by_port: dict[int, str] = {}
        for service in services:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, 0))
            port = listener.getsockname()[1]
            self._sockets.append(listener)
            services_by_port[port] = service
            self.urls[service] = f"http://{host}:{port}"
        self._app = EchoApp(services_by_port, demo_sessions)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(server.serve(sockets=self._sockets),),
            name="sample-services",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

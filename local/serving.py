"""``bakery-gateway local`` under uvicorn: what ``uvicorn.run`` does, plus what a developer needs of it.

- **The port first.** ``bind_listener`` binds the address before anything starts, and says which port
  is taken and how to choose another; the runtime then serves on that very socket (no second bind).
- **Reload and Ctrl-C do not wait for open streams.** uvicorn's graceful shutdown closes idle
  connections and waits for the others to finish their response; an alert stream never finishes by
  itself, so a code change (the reloader stops the old process before starting the new one) or a
  Ctrl-C waited for as long as any client kept a stream open. ``StreamEndingServer`` hands every
  request a future (``scope["state"][STOPPING_STATE]``, through ASGI's lifespan state) and completes
  it as it starts to stop: each alert stream ends at once with a reconnect hint (``alert_stream``).
  uvicorn closes open WebSockets itself (1012, service restart), and whatever is still running
  ``GRACEFUL_SHUTDOWN_SECONDS`` later is cancelled (``timeout_graceful_shutdown``).
- **A refused WebSocket handshake is no error.** ``RefusalAwareWebSocketProtocol``.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.supervisors import ChangeReload

from bakery_gateway.serve.alert_stream import STOPPING_STATE

# What is still open this long after a reload or Ctrl-C began is cancelled: "a few seconds".
GRACEFUL_SHUTDOWN_SECONDS = 3


class PortUnavailableError(Exception):
    """The runtime cannot listen on its address; the message says why and what to do."""


def bind_listener(host: str, port: int) -> socket.socket:
    """The runtime's listening socket (bound, as uvicorn's own ``Config.bind_socket`` binds it)."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise PortUnavailableError(
                f"port {port} on {host} is already in use (another `make run`?): stop that one, or "
                f"choose another port with --port, e.g. `make run ARGS='--port {port + 1}'`"
            ) from error
        raise PortUnavailableError(
            f"cannot listen on {host}:{port} ({error.strerror}): choose another address with --host/--port"
        ) from error
    listener.set_inheritable(True)  # the reloader's server processes serve on it
    return listener


class StreamEndingServer(uvicorn.Server):
    """uvicorn's server, which tells open streams that it stops before waiting for them to finish."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.stopping: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Lifespan state is copied into every request's scope["state"] (the same future, shallowly).
        self.lifespan.state[STOPPING_STATE] = self.stopping
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if not self.stopping.done():
            self.stopping.set_result(None)
        await super().shutdown(sockets)


class RefusalAwareWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's default WebSocket protocol, for which a handshake refused with an HTTP answer (the
    ASGI denial response: API Gateway's 401, 403, 404 or 500) is a completed handshake. Without this
    it logs ``ERROR: ASGI callable returned without completing handshake`` for every refusal, an
    expected outcome; its wsproto protocol already counts it so (upstream: Kludex/uvicorn#3138)."""

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True


def run(config: uvicorn.Config, listener: socket.socket) -> None:
    """Serve ``config``'s app on ``listener`` until Ctrl-C or SIGTERM: in this process, or (reload)
    in a server process the reloader replaces whenever the code changes."""
    server = StreamEndingServer(config)
    try:
        if config.should_reload:
            ChangeReload(config, target=server.run, sockets=[listener]).run()
        else:
            server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass  # as uvicorn.run: a second Ctrl-C while stopping
    finally:
        listener.close()

"""A threaded HTTP/1.1 test server on 127.0.0.1 and an ephemeral port: the lifecycle shared by the
stub service and the fake Nominatim (each answers requests its own way in its handler class)."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class _HttpServer(ThreadingHTTPServer):
    # socketserver's backlog is 5: more connections at once (a gateway's pool) would wait for a SYN retry.
    request_queue_size = 128


class ThreadedServer:
    """Start, stop (releasing slow answers and idle keep-alive connections), ``port`` and ``url``.
    Subclasses give ``_handler_class()``, built on ``tracked_handler(self)``."""

    def __init__(self, name: str) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = _HttpServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases slow answers
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # ends the threads waiting on idle keep-alive connections
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def tracked_handler(server: ThreadedServer) -> type[BaseHTTPRequestHandler]:
    """A quiet HTTP/1.1 handler base whose connections ``server.stop()`` can shut down."""

    class TrackedHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # http.server writes a response in two sends (the headers at end_headers, then the body): with
        # Nagle's algorithm on, the body waits for the ACK of the headers, which the client delays
        # ~40 ms (measured here over loopback and Docker's bridge alike). TCP_NODELAY sends both at once.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    return TrackedHandler

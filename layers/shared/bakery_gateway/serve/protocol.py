"""The HTTP/1.1 protocol of ``bakery-gateway serve``: uvicorn's (httptools) with the limits it lacks.

uvicorn bounds only the idle time between two requests of a connection (``timeout_keep_alive``).
A client that opens a connection and sends nothing, sends its headers a byte at a time, or
announces a body it never sends, holds a connection and its memory without end; so do enough of
them to exhaust a worker's file descriptors. Here, per worker process (``ServerSettings``):

- the head of each request (request line and headers) must be complete within
  ``header_timeout_seconds`` of the connection's accept or of the request's first byte, and within
  ``max_header_bytes``: else ``408`` / ``431`` and the connection is closed (a connection that sent
  nothing is closed without an answer);
- its body must be complete within ``body_timeout_seconds`` of the end of its head: else ``408``
  (or only the close, when the gateway answered already) and the connection is closed;
- at most ``max_connections`` client connections are open: one more is answered ``503`` and closed.

The idle wait between requests stays uvicorn's keep-alive timeout. A deadline is a timer only
while a head or body spans several reads: a request that arrives in one read (most do) arms none.
"""

from __future__ import annotations

import asyncio
import enum
import json
from functools import lru_cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bakery_gateway.settings import ServerSettings


class _Reading(enum.Enum):
    HEAD = "head"  # a request's head is awaited: the header deadline
    BODY = "body"  # a request's body is awaited: the body deadline
    NOTHING = "nothing"  # the gateway answers, or the connection idles (uvicorn's keep-alive timeout)


@lru_cache(maxsize=1)
def server_settings() -> ServerSettings:
    """This worker's limits, from the environment ``serve`` set before starting it."""
    return ServerSettings.from_environ()


def refusal(status: int, reason: str, *extra_headers: bytes) -> bytes:
    """A whole answer that closes the connection, in API Gateway's own error shape."""
    body = json.dumps({"message": reason}).encode()
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, reason.encode()),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            *extra_headers,
            b"connection: close\r\n\r\n",
            body,
        ]
    )


HEAD_TOO_SLOW = refusal(408, "Request Timeout")
BODY_TOO_SLOW = HEAD_TOO_SLOW
HEAD_TOO_LARGE = refusal(431, "Request Header Fields Too Large")
TOO_MANY_CONNECTIONS = refusal(503, "Service Unavailable", b"retry-after: 1\r\n")


async def _answer_nothing(scope: Any, receive: Any, send: Any) -> None:
    """The application of a request refused before it reached the gateway's."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head and body deadlines, a head size and a connection limit."""

    def __init__(self, *arguments: Any, **keywords: Any) -> None:
        super().__init__(*arguments, **keywords)
        self._limits = server_settings()
        self._reading = _Reading.NOTHING
        self._head_bytes = 0  # of the head being read, before the current read
        self._read_bytes = 0  # of the current read, that may belong to a head
        self._deadline: asyncio.TimerHandle | None = None

    # --- uvicorn's protocol, extended -----------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            self._refuse(TOO_MANY_CONNECTIONS)
            return
        # A connection that sends nothing is a request whose head is late: timed from the accept.
        self._start_reading(_Reading.HEAD)
        self._arm(self._limits.header_timeout_seconds)

    def data_received(self, data: bytes) -> None:
        # The bytes of this read that may belong to a head: all of them, unless it began in a body
        # (HTTP pipelining: then a head may pass the limit by less than one read).
        self._read_bytes = 0 if self._reading is _Reading.BODY else len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._reading is _Reading.HEAD:  # a head still incomplete at the end of this read
            self._head_bytes += self._read_bytes
            if self._head_bytes > self._limits.max_header_bytes:
                self._refuse(HEAD_TOO_LARGE)
                return
            if self._deadline is None:
                self._arm(self._limits.header_timeout_seconds)
        elif self._reading is _Reading.BODY and self._deadline is None:
            self._arm(self._limits.body_timeout_seconds)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._reading is not _Reading.HEAD:  # a new connection's first head is timed already
            self._start_reading(_Reading.HEAD)

    def on_headers_complete(self) -> None:
        # Measured only when the bytes read could exceed the limit (a request in one read of less
        # than the limit, the usual case, costs nothing).
        too_large = (
            self._head_bytes + self._read_bytes > self._limits.max_header_bytes
            and self._head_size() > self._limits.max_header_bytes
        )
        self._start_reading(_Reading.BODY)
        if not too_large:
            super().on_headers_complete()
            return
        # uvicorn's request cycle is made (the parser's next callbacks need it), for nothing.
        app, self.app = self.app, _answer_nothing
        try:
            super().on_headers_complete()
        finally:
            self.app = app
        self._refuse(HEAD_TOO_LARGE)

    def _head_size(self) -> int:
        """The request line and header lines, as sent (give or take optional whitespace)."""
        request_line = len(self.parser.get_method()) + len(self.url) + len(" HTTP/1.1\r\n") + 1
        return request_line + sum(len(name) + len(value) + 4 for name, value in self.headers) + 2

    def on_message_complete(self) -> None:
        self._start_reading(_Reading.NOTHING)
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._start_reading(_Reading.NOTHING)  # the connection is no longer this protocol's
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._start_reading(_Reading.NOTHING)
        super().connection_lost(exc)

    # --- the deadlines ------------------------------------------------------------------------
    def _start_reading(self, reading: _Reading) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._reading = reading
        self._head_bytes = 0

    def _arm(self, seconds: float) -> None:
        self._deadline = self.loop.call_later(seconds, self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._reading is _Reading.HEAD:
            # Nothing of a request yet (a new connection that stayed silent): closed without a word.
            self._refuse(HEAD_TOO_SLOW if self._head_bytes else b"")
        elif self._reading is _Reading.BODY:
            # Answered already (a 413 before the whole body came): no second answer, only the close.
            answered = self.cycle is not None and self.cycle.response_complete
            self._refuse(b"" if answered else BODY_TOO_SLOW)

    def _refuse(self, answer: bytes) -> None:
        """Answer (if ``answer``) and close; the request in progress, if any, sees the client gone.

        Never written into an answer already under way (an alert stream, with a pipelined request
        behind it): then the connection is only closed."""
        self._start_reading(_Reading.NOTHING)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:
                answer = b""
            # The application's own answer, if it comes, must not follow this one.
            cycle.disconnected = True
            cycle.message_event.set()
        if answer:
            self.transport.write(answer)
        self.transport.close()

"""A downstream service on a real socket: records what it receives, answers what it is told to.

By default it echoes the request as JSON. It can instead answer a canned response, be slow, close
or reset connections without answering, answer bytes that are not HTTP, trickle a body that never
ends, or answer and then close the connection without saying so, to exercise the gateway's
502/503/504 paths over real TCP. It reads a body framed by ``Content-Length`` or chunked (chunked
wins when both are sent, as RFC 9112 6.3 says), and keeps the request line and header lines as the
bytes that arrived.
"""

from __future__ import annotations

import io
import json
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler

from tests.support.threaded_server import ThreadedServer, tracked_handler


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the service received it, bytes for bytes."""

    method: str
    path: str  # the request target before "?", still percent-encoded
    query: str
    headers: list[tuple[str, str]]  # names lower-cased, in arrival order, repeats kept
    body: bytes
    head: bytes = b""  # the request line and header lines as they arrived, up to the empty line

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]

    @property
    def header_names(self) -> set[str]:
        return {key for key, _ in self.headers}


@dataclass(frozen=True)
class CannedResponse:
    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""


class Behaviour(Enum):
    ANSWER = "answer"  # echo, or the canned response when one is set
    SLOW = "slow"  # wait ``delay_seconds`` before answering
    CLOSE = "close"  # read the request, close the connection without a byte
    GARBAGE = "garbage"  # answer bytes that are not an HTTP response
    RESET = "reset"  # read the request, then reset the connection (TCP RST)
    TRICKLE = "trickle"  # send the headers, then one body byte every ``delay_seconds``, forever
    ANSWER_AND_CLOSE = "answer-and-close"  # answer, then close without a ``Connection: close``


GARBAGE = b"SURPRISE! this is not an HTTP response\r\n\r\n"


@dataclass
class _Script:
    behaviour: Behaviour = Behaviour.ANSWER
    delay_seconds: float = 0.0
    canned: CannedResponse | None = None
    requests: list[RecordedRequest] = field(default_factory=list)


class StubService(ThreadedServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 and an ephemeral port."""

    def __init__(self) -> None:
        self._script = _Script()
        super().__init__("stub-service")

    # --- what a test tells it ----------------------------------------------------------------
    def reply(self, status: int = 200, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> None:
        """Answer every following request with this response."""
        with self._lock:
            self._script.behaviour = Behaviour.ANSWER
            self._script.canned = CannedResponse(status, tuple(headers), body)

    def reset(self) -> None:
        """Forget what was received, and echo again."""
        with self._lock:
            self._script = _Script()

    def be_slow(self, seconds: float) -> None:
        with self._lock:
            self._script.behaviour = Behaviour.SLOW
            self._script.delay_seconds = seconds

    def close_connections(self) -> None:
        with self._lock:
            self._script.behaviour = Behaviour.CLOSE

    def send_garbage(self) -> None:
        with self._lock:
            self._script.behaviour = Behaviour.GARBAGE

    def reset_connections(self) -> None:
        with self._lock:
            self._script.behaviour = Behaviour.RESET

    def answer_and_close(self) -> None:
        """Answer each request (echo), then close its connection without saying so beforehand
        (no ``Connection: close``): the client finds out only when it reads the end of stream."""
        with self._lock:
            self._script.behaviour = Behaviour.ANSWER_AND_CLOSE

    def trickle(self, seconds_per_byte: float) -> None:
        """Answer 200 and a body that never ends, one byte at a time: no single read ever times out."""
        with self._lock:
            self._script.behaviour = Behaviour.TRICKLE
            self._script.delay_seconds = seconds_per_byte

    # --- what a test reads -------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._script.requests)

    @property
    def last_request(self) -> RecordedRequest:
        requests = self.requests
        assert requests, "the stub service received no request"
        return requests[-1]

    # --- the server side ---------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(tracked_handler(stub)):  # type: ignore[misc]
            rfile: io.BufferedIOBase

            def setup(self) -> None:
                super().setup()
                self.recording = _Recording(self.rfile)
                self.rfile = self.recording

            def handle_one_request(self) -> None:
                self.recording.recorded.clear()  # a new request on this connection
                super().handle_one_request()

            def _handle(self) -> None:
                head = bytes(self.recording.recorded)
                body = self._read_body()
                path, _, query = self.path.partition("?")
                recorded = RecordedRequest(
                    method=self.command,
                    path=path,
                    query=query,
                    headers=[(key.lower(), value) for key, value in self.headers.items()],
                    body=body,
                    head=head,
                )
                with stub._lock:
                    stub._script.requests.append(recorded)
                    script = _Script(stub._script.behaviour, stub._script.delay_seconds, stub._script.canned)
                if script.behaviour is Behaviour.CLOSE:
                    self.close_connection = True
                    return
                if script.behaviour is Behaviour.GARBAGE:
                    self.wfile.write(GARBAGE)
                    self.close_connection = True
                    return
                if script.behaviour is Behaviour.RESET:
                    # Linger on, timeout 0: close() sends RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.rfile.close()  # the socket closes (and resets) only when nothing refers to it
                    self.connection.close()
                    return
                if script.behaviour is Behaviour.TRICKLE:
                    self._trickle(script.delay_seconds)
                    return
                if script.behaviour is Behaviour.SLOW and stub._stopping.wait(script.delay_seconds):
                    self.close_connection = True
                    return
                if script.behaviour is Behaviour.ANSWER_AND_CLOSE:
                    self.close_connection = True  # after the answer, which does not announce it
                self._answer(script.canned or _echo(recorded))

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                    return _read_chunked(self.recording)
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _trickle(self, seconds_per_byte: float) -> None:
                self.close_connection = True
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    while not stub._stopping.wait(seconds_per_byte):
                        self.wfile.write(b".")
                        self.wfile.flush()
                except OSError:  # the gateway gave up
                    return

            def _answer(self, response: CannedResponse) -> None:
                try:
                    self.send_response(response.status)
                    for name, value in response.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(response.body)
                except OSError:  # the gateway gave up on a slow answer
                    self.close_connection = True

            # http.server's names for the method handlers.
            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle  # noqa: N815

        return Handler


class _Recording(io.BufferedIOBase):
    """A connection's reader that keeps what was read of the current request."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self._raw = raw
        self.recorded = bytearray()

    def readline(self, size: int | None = -1) -> bytes:
        line = self._raw.readline(-1 if size is None else size)
        self.recorded += line
        return line

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        self.recorded += data
        return data

    def close(self) -> None:
        self._raw.close()


def _read_chunked(rfile: io.BufferedIOBase) -> bytes:
    """A chunked body (RFC 9112 7.1); trailers read and dropped."""
    body = bytearray()
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(body)
        body += rfile.read(size)
        rfile.readline()  # the CRLF after the chunk


def _echo(request: RecordedRequest) -> CannedResponse:
    """The request as JSON; credentials are not echoed (tests read them from ``requests``)."""
    document = {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": [
            (name, "<redacted>" if name == "authorization" else value) for name, value in request.headers
        ],
        "body_bytes": len(request.body),
    }
    return CannedResponse(200, (("Content-Type", "application/json"),), json.dumps(document).encode())

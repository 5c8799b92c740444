"""``serve_protocol.GuardedHttpToolsProtocol`` fed bytes directly (no sockets): the deadlines and limits,
and what they cost a request that arrives in one read (nothing: no timer). Over real sockets, against
a running ``serve``: tests/security/test_serve_clients.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from bakery_gateway.serve import protocol as serve_protocol
from bakery_gateway.serve.protocol import GuardedHttpToolsProtocol
from bakery_gateway.settings import ServerSettings

SHORT = 0.05  # seconds: the deadlines of these tests
LIMITS = ServerSettings(
    header_timeout_seconds=SHORT, body_timeout_seconds=SHORT, max_header_bytes=2048, max_connections=3
)
GET = b"GET /health HTTP/1.1\r\nHost: gateway.test\r\n\r\n"


class FakeTransport(asyncio.Transport):
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    @property
    def status(self) -> int | None:
        """The status of the last answer written, if any."""
        heads = [line for line in bytes(self.written).split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
        return int(heads[-1].split()[1]) if heads else None


class Application:
    """Reads the whole body, answers 200 with it; records the bodies it answered."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        headers = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(autouse=True)
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve_protocol, "server_settings", lambda: LIMITS)


@pytest.fixture
def state() -> ServerState:
    return ServerState()


def connection(state: ServerState, app: Application) -> tuple[GuardedHttpToolsProtocol, FakeTransport]:
    config = Config(app=app, log_level="warning")
    protocol = GuardedHttpToolsProtocol(config=config, server_state=state, app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def settle() -> None:
    """Let the application's task run to its answer."""
    for _ in range(5):
        await asyncio.sleep(0)


# --- no cost on the usual path ------------------------------------------------------------------
async def test_requests_that_each_arrive_in_one_read_arm_no_deadline(state: ServerState) -> None:
    protocol, transport = connection(state, app := Application())
    post = b"POST /x HTTP/1.1\r\nHost: gateway.test\r\nContent-Length: 2\r\n\r\n{}"

    for request in (GET, post, GET):
        protocol.data_received(request)
        assert protocol._deadline is None
        await settle()

    assert app.bodies == [b"", b"{}", b""]
    assert not transport.closed


async def test_a_new_connection_is_timed_from_its_accept(state: ServerState) -> None:
    protocol, _ = connection(state, Application())

    assert protocol._deadline is not None


# --- the head -------------------------------------------------------------------------------------
async def test_a_silent_connection_is_closed_without_an_answer_at_the_header_deadline(
    state: ServerState,
) -> None:
    _, transport = connection(state, Application())

    await asyncio.sleep(SHORT * 3)

    assert transport.closed
    assert transport.written == b""


async def test_a_head_split_over_reads_must_end_by_the_header_deadline(state: ServerState) -> None:
    protocol, transport = connection(state, app := Application())
    protocol.data_received(GET)
    await settle()

    protocol.data_received(b"GET /health HTTP/1.1\r\n")  # the next request's head, half of it
    await asyncio.sleep(SHORT * 3)

    assert transport.status == 408
    assert transport.closed
    assert app.bodies == [b""]


async def test_a_head_in_one_read_over_the_limit_is_refused_431(state: ServerState) -> None:
    protocol, transport = connection(state, app := Application())

    protocol.data_received(GET.replace(b"\r\n\r\n", b"\r\nX-Big: " + b"a" * 2048 + b"\r\n\r\n"))
    await settle()

    assert transport.status == 431
    assert transport.closed
    assert app.bodies == []  # the application never saw it


async def test_a_head_growing_over_reads_past_the_limit_is_refused_431(state: ServerState) -> None:
    protocol, transport = connection(state, Application())

    protocol.data_received(b"GET /health HTTP/1.1\r\nX-Big: ")
    for _ in range(3):
        if not transport.closed:
            protocol.data_received(b"a" * 1024)

    assert transport.status == 431
    assert transport.closed


async def test_a_head_with_a_large_body_in_the_same_read_is_served(state: ServerState) -> None:
    protocol, transport = connection(state, app := Application())
    body = b"x" * 10_000  # the read is far over the head limit; the head is not

    protocol.data_received(b"POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await settle()

    assert app.bodies == [body]
    assert transport.status == 200


class Stream:
    """An answer that never ends (an alert stream): its head and a first chunk, then nothing."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"event: alert\n\n", "more_body": True})
        await asyncio.Event().wait()


async def test_a_late_pipelined_head_closes_the_connection_without_writing_into_an_answer_under_way(
    state: ServerState,
) -> None:
    config = Config(app=Stream(), log_level="warning")
    protocol = GuardedHttpToolsProtocol(config=config, server_state=state, app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(GET)
    await settle()

    protocol.data_received(b"GET /health HTTP/1.1\r\n")  # a second request, pipelined, half of it
    await asyncio.sleep(SHORT * 3)

    assert transport.closed
    assert transport.status == 200  # the stream's own head, and no 408 written into its body
    assert b"Request Timeout" not in transport.written


# --- the body -------------------------------------------------------------------------------------
async def test_a_body_that_stops_coming_is_refused_408_and_the_application_sees_the_client_gone(
    state: ServerState,
) -> None:
    protocol, transport = connection(state, app := Application())

    protocol.data_received(b"POST /x HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\nabc")
    await asyncio.sleep(SHORT * 3)
    await settle()

    assert transport.status == 408
    assert transport.closed
    assert app.bodies == []  # its receive() said http.disconnect: nothing was answered after the 408


async def test_a_body_that_arrives_in_time_over_several_reads_is_served(state: ServerState) -> None:
    protocol, transport = connection(state, app := Application())

    protocol.data_received(b"POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
    assert protocol._deadline is not None
    protocol.data_received(b"cd")
    await settle()

    assert app.bodies == [b"abcd"]
    assert transport.status == 200
    assert protocol._deadline is None


# --- connections ----------------------------------------------------------------------------------
async def test_a_connection_past_the_limit_is_answered_503_and_closed(state: ServerState) -> None:
    held = [connection(state, Application()) for _ in range(LIMITS.max_connections)]

    _, transport = connection(state, Application())

    assert transport.status == 503
    assert transport.closed
    assert not any(other.closed for _, other in held)
    for protocol, _ in held:
        protocol.connection_lost(None)

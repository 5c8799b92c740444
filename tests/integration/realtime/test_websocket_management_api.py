"""The @connections client over real sockets: what it sends, how answers and broken connections come
back, and that its connections are kept alive. Servers are raw asyncio servers on the client's loop."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable

from bakery_gateway.clients.aws_signing import Credentials
from bakery_gateway.realtime.websocket.management_api import NO_ANSWER, ConnectionsClient, PostAnswer

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret", "session-token")
NOW = datetime.datetime(2026, 11, 26, 7, 5, 9, tzinfo=datetime.UTC)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Answers each request with the next of ``answers`` (bytes, or None: close without answering)."""

    def __init__(self, answers: list[bytes | None], delay_seconds: float = 0.0) -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        self._answers = answers
        self._delay_seconds = delay_seconds

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                await asyncio.sleep(self._delay_seconds)
                answer = self._answers.pop(0) if self._answers else OK
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def posts(server: RawServer, count: int = 1, read_timeout_seconds: float = 5.0) -> list[PostAnswer]:
    """``count`` posts, one after another, through a client of a server started on the same loop."""

    async def scenario() -> list[PostAnswer]:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        api = ConnectionsClient(
            f"http://127.0.0.1:{port}/live",
            region="eu-west-1",
            credentials=lambda: CREDENTIALS,
            clock=lambda: NOW,
            read_timeout_seconds=read_timeout_seconds,
        )
        answers = [await api.post("L0SM9cOFvHcCIhw=", b'{"a":1}') for _ in range(count)]
        listening.close()
        return answers

    return asyncio.run(scenario())


def test_the_request_is_a_signed_post_of_the_message_to_the_connection() -> None:
    server = RawServer([])

    posts(server)

    request = server.requests[0].decode()
    assert request.startswith("POST /live/@connections/L0SM9cOFvHcCIhw%3D HTTP/1.1\r\n")
    assert "X-Amz-Date: 20261126T070509Z\r\n" in request
    assert "X-Amz-Security-Token: session-token\r\n" in request
    assert "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/eu-west-1/execute-api/" in request
    assert request.endswith('\r\n\r\n{"a":1}')


def test_a_delivered_post_answers_its_status() -> None:
    assert posts(RawServer([OK])) == [PostAnswer(200)]


def test_an_error_answer_carries_its_error_type_without_details() -> None:
    gone = (
        b"HTTP/1.1 410 Gone\r\nx-amzn-ErrorType: GoneException:http://internal.amazon.com/coral/\r\n"
        b'Content-Type: application/json\r\nContent-Length: 19\r\n\r\n{"message":"Gone"}\n'
    )

    assert posts(RawServer([gone])) == [PostAnswer(410, "GoneException")]


def test_posts_one_after_another_share_one_connection() -> None:
    server = RawServer([])

    answers = posts(server, count=3)

    assert (answers, server.connections) == ([PostAnswer(200)] * 3, 1)


def test_a_connection_the_server_closed_while_idle_is_replaced_and_the_post_goes_through() -> None:
    server = RawServer([OK, None])  # answers the first post, then closes instead of answering

    answers = posts(server, count=2)

    # The second post found the kept connection closed without an answer, and went out again on a
    # new one (as urllib3 does: a server closing an idle connection has processed nothing).
    assert (answers, server.connections, len(server.requests)) == ([PostAnswer(200)] * 2, 2, 3)


def test_a_new_connection_closed_without_an_answer_is_no_answer() -> None:
    assert posts(RawServer([None])) == [PostAnswer(NO_ANSWER, "ConnectionClosedError")]


def test_bytes_that_are_not_http_are_no_answer() -> None:
    assert posts(RawServer([b"SURPRISE! not HTTP\r\n\r\n"])) == [PostAnswer(NO_ANSWER, "AnswerError")]


def test_a_server_that_does_not_answer_in_time_is_no_answer() -> None:
    answers = posts(RawServer([], delay_seconds=1.0), read_timeout_seconds=0.2)

    assert answers == [PostAnswer(NO_ANSWER, "TimeoutError")]


def test_a_refused_connection_is_no_answer(closed_port: int) -> None:
    async def post() -> PostAnswer:
        api = ConnectionsClient(
            f"http://127.0.0.1:{closed_port}", region="eu-west-1", credentials=lambda: CREDENTIALS
        )
        return await api.post("a=", b"{}")

    assert asyncio.run(post()) == PostAnswer(NO_ANSWER, "ConnectionRefusedError")

"""Redis restarted while a worker's connections sat idle, and Redis gone with a command in flight.

Every Redis client of the gateway (redis-py's blocking client of the authorizer and the WebSocket
function, redis-py's asyncio client, the proxy's pipelined connection; the async ones on asyncio's
loop and on uvloop's) finds a connection the server closed before it writes the next command, and
sends that command on a new connection. A command that may have reached a server is never sent a
second time: the policy script and the circuit record are not idempotent (docs/resilience.md,
"Redis connections").

The event loop runs only while a command does, as on Lambda, where a container is frozen between
invocations and finds the server's goodbye only when it next looks.
"""

from __future__ import annotations

import asyncio
import socketserver
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import hiredis
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bakery_gateway.clients import factories
from bakery_gateway.clients.pipelined_redis import pipelined_redis_factory
from bakery_gateway.settings import RedisSettings
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import assert_problem
from tests.support.redis_server import RedisProcess
from tests.support.stub_service import StubService

TIMEOUT_SECONDS = 2.0  # patient: nothing is meant to time out here, on however loaded a machine
CLIENT_KINDS = ["redis-py", "redis-py-asyncio", "redis-py-uvloop", "pipelined-asyncio", "pipelined-uvloop"]


class Client:
    """One of the gateway's Redis clients, made by the factory the functions use, one command at a time."""

    def __init__(self, kind: str, settings: RedisSettings) -> None:
        self._kind = kind
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync: Any = None
        self._async: Any = None
        if kind == "redis-py":
            self._sync = factories.sync_redis(settings)
            return
        if kind.endswith("uvloop"):
            import uvloop

            self._loop = uvloop.new_event_loop()
        else:
            self._loop = asyncio.new_event_loop()
        if kind.startswith("pipelined"):
            self._async = pipelined_redis_factory(settings)()
        else:
            self._async = factories.async_redis_factory(settings)()

    def run(self, *command: str) -> Any:
        if self._sync is not None:
            return self._sync.execute_command(*command)
        assert self._loop is not None
        send: Callable[..., Awaitable[Any]] = (
            self._async.execute if self._kind.startswith("pipelined") else self._async.execute_command
        )
        return self._loop.run_until_complete(send(*command))

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            factories.sync_redis.cache_clear()
            return
        assert self._loop is not None
        self._loop.run_until_complete(self._async.aclose())
        self._loop.close()


@pytest.fixture
def connect() -> Iterator[Callable[[str, RedisSettings], Client]]:
    made: list[Client] = []

    def make(kind: str, settings: RedisSettings) -> Client:
        made.append(Client(kind, settings))
        return made[-1]

    yield make
    for client in made:
        client.close()


# What the stand-in answers without closing: a connection's set-up, and PING.
ANSWERS = {
    b"CLIENT": b"+OK\r\n",
    b"AUTH": b"+OK\r\n",
    b"SELECT": b"+OK\r\n",
    b"PING": b"+PONG\r\n",
    # redis-py 8 asks for RESP3: what Redis 7 answers, in short.
    b"HELLO": b"%3\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n+mode\r\n+standalone\r\n",
}


class GoneAfterOneCommand(socketserver.ThreadingTCPServer):
    """A Redis that answers a connection's set-up and ``PING``, then reads one other command and
    closes the connection without a reply: the server went away after the command reached it,
    perhaps having run it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.received: list[list[bytes]] = []
        super().__init__(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                reader = hiredis.Reader()
                while data := self.request.recv(65536):
                    reader.feed(data)
                    while (command := reader.gets()) is not False:
                        answer = ANSWERS.get(command[0].upper())
                        if answer is not None:
                            self.request.sendall(answer)
                            continue
                        server.received.append(command)
                        return  # the connection closes with no reply

        return Handler

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def gone_after_one_command() -> Iterator[GoneAfterOneCommand]:
    server = GoneAfterOneCommand()
    yield server
    server.stop()


# --- each client ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_after_redis_restarts_the_first_command_of_each_client_goes_out_on_a_new_connection(
    private_redis: RedisProcess, connect: Callable[[str, RedisSettings], Client], kind: str
) -> None:
    client = connect(kind, RedisSettings("127.0.0.1", private_redis.port, timeout_seconds=TIMEOUT_SECONDS))
    client.run("INCR", "counter")
    private_redis.stop()
    private_redis.start()  # empty: nothing was saved

    assert client.run("INCR", "counter") == 1  # answered by the new server, which ran it once


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_a_command_that_reached_the_server_is_never_sent_again(
    gone_after_one_command: GoneAfterOneCommand, connect: Callable[[str, RedisSettings], Client], kind: str
) -> None:
    settings = RedisSettings("127.0.0.1", gone_after_one_command.port, timeout_seconds=TIMEOUT_SECONDS)
    client = connect(kind, settings)
    assert client.run("PING") in (True, b"PONG")  # a connection in use, as a warm container has

    with pytest.raises(RedisConnectionError):
        client.run("INCR", "counter")

    assert gone_after_one_command.received == [[b"INCR", b"counter"]]


# --- through the gateway ----------------------------------------------------------------------------
def test_after_redis_restarts_the_first_logout_of_a_worker_revokes_the_token(
    start_private_gateway: GatewayStarter,
    private_redis: RedisProcess,
    dev_keys: DevKeyPair,
    stub_service: StubService,
) -> None:
    gateway = start_private_gateway(REDIS_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS))
    earlier = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    assert gateway.request("POST", "/api/v1/auth/logout", token=earlier).status == 200  # all connected
    token = dev_keys.mint(user_id="user-2", tenant_id="tenant-a")
    cached = gateway.context_for(token)
    private_redis.stop()
    private_redis.start()

    logout = gateway.request("POST", "/api/v1/auth/logout", token=token, context=cached)

    assert logout.status == 200
    assert_problem(gateway.request("GET", "/api/v1/sales/", context=cached), 401, "token-revoked")


def test_after_redis_restarts_an_operators_first_change_lands(
    start_private_gateway: GatewayStarter, private_redis: RedisProcess, dev_keys: DevKeyPair
) -> None:
    gateway = start_private_gateway(REDIS_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS))
    operator = dev_keys.mint(user_id="ops-1", roles=["platform_admin"])
    policy = "/api/v1/admin/tenants/tenant-a/policy"
    assert gateway.request("GET", policy, token=operator).status == 200  # the policy function connected
    private_redis.stop()
    private_redis.start()

    response = gateway.request(
        "PUT", "/api/v1/admin/tenants/tenant-a/read-only", token=operator, body='{"reason": "maintenance"}'
    )

    assert response.status == 200
    assert response.json()["read_only"]["reason"] == "maintenance"

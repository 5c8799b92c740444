"""``PipelinedRedis`` against a real Redis: replies, database, scripts, concurrency, outages, AUTH.

The tests that break Redis (stop, pause, a password) do it to a ``private_redis`` of their own. Each
test runs its own event loop (``asyncio.run``): a client is bound to the loop it is first used on.
The fixtures' blocking calls (stop, start, pause, a redis-py client) run inside the loop on purpose:
nothing else runs meanwhile, so the client sees the change only at its next command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bakery_gateway.clients.pipelined_redis import PipelinedRedis
from bakery_gateway.policies.rules import BucketSpec, Candidate
from bakery_gateway.policies.script import PolicyKeys, PolicyScript
from bakery_gateway.settings import RedisSettings, Scope
from tests.support.redis_server import RedisEndpoint, RedisProcess

# Generous where nothing is meant to time out: a loaded test machine must not fail these tests.
PATIENT_SECONDS = 5.0
# Where a timeout is the point: short, so the test is quick.
SHORT_TIMEOUT_SECONDS = 0.2
PASSWORD = "pipelined-test-password"

Scenario = Callable[[PipelinedRedis], Awaitable[None]]


@pytest.fixture(autouse=True, params=["asyncio", "uvloop"])
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test on asyncio's loop and on uvloop's (``bakery-gateway serve`` runs on uvloop)."""
    if request.param == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    yield request.param
    asyncio.set_event_loop_policy(None)


def run(settings: RedisSettings, scenario: Scenario) -> None:
    """``scenario`` with a new client for ``settings``, on a loop of its own; the client closed after."""

    async def main() -> None:
        client = PipelinedRedis(settings)
        try:
            await scenario(client)
        finally:
            await client.aclose()

    asyncio.run(main())


def settings_for(endpoint: RedisEndpoint, **overrides: Any) -> RedisSettings:
    """Settings for ``endpoint``, patient unless ``overrides`` say otherwise."""
    settings = RedisSettings(endpoint.host, endpoint.port, endpoint.db, timeout_seconds=PATIENT_SECONDS)
    return dataclasses.replace(settings, **overrides)


@pytest.fixture
def shared(redis_server: RedisEndpoint, redis_client: redis.Redis) -> RedisSettings:
    """The tests' database (TEST_REDIS_DB) of the shared Redis, flushed (``redis_client``)."""
    return settings_for(redis_server)


@pytest.fixture
def private(private_redis: RedisProcess) -> RedisSettings:
    """This test's own Redis (database 0), with a short timeout."""
    return settings_for(private_redis.endpoint(), timeout_seconds=SHORT_TIMEOUT_SECONDS)


@pytest.fixture
def password_redis(private_redis: RedisProcess) -> RedisEndpoint:
    """``private_redis`` requiring ``PASSWORD`` (RedisProcess starts without one: set it at run time)."""
    admin = private_redis.endpoint().client()
    admin.config_set("requirepass", PASSWORD)
    admin.close()
    return private_redis.endpoint()


def unique_key() -> str:
    return f"pipelined-test:{uuid.uuid4().hex}"


# --- replies --------------------------------------------------------------------------------------


def test_a_command_gets_its_reply_as_bytes(shared: RedisSettings) -> None:
    key = unique_key()

    async def scenario(client: PipelinedRedis) -> None:
        assert await client.execute("SET", key, "value") == b"OK"
        assert await client.execute("GET", key) == b"value"

    run(shared, scenario)


def test_a_missing_key_reads_as_none(shared: RedisSettings) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        assert await client.execute("GET", unique_key()) is None

    run(shared, scenario)


def test_an_error_reply_raises_response_error_and_the_next_command_still_works(shared: RedisSettings) -> None:
    key = unique_key()

    async def scenario(client: PipelinedRedis) -> None:
        await client.execute("SET", key, "not a number")
        with pytest.raises(ResponseError, match="not an integer"):
            await client.execute("INCR", key)
        assert await client.execute("GET", key) == b"not a number"

    run(shared, scenario)


def test_commands_run_in_the_configured_database(shared: RedisSettings, redis_client: redis.Redis) -> None:
    key = unique_key()

    async def scenario(client: PipelinedRedis) -> None:
        await client.execute("SET", key, "in the test database")
        # redis_client reads TEST_REDIS_DB: without SELECT the key would be in database 0.
        assert redis_client.get(key) == "in the test database"

    assert shared.db != 0, "set TEST_REDIS_DB to a database other than 0: SELECT is skipped for 0"
    run(shared, scenario)


# --- scripts --------------------------------------------------------------------------------------


def test_a_loaded_script_runs_by_its_sha(shared: RedisSettings) -> None:
    source = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"

    async def scenario(client: PipelinedRedis) -> None:
        sha = await client.script_load(source)
        assert sha == hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts so
        assert await client.evalsha(sha, 1, "a-key", "an-argument", 41) == [b"a-key", b"an-argument", 42]

    run(shared, scenario)


def test_evalsha_of_a_script_redis_does_not_hold_raises_no_script_error(shared: RedisSettings) -> None:
    unknown = hashlib.sha1(uuid.uuid4().bytes).hexdigest()  # noqa: S324 - a name no script has

    async def scenario(client: PipelinedRedis) -> None:
        with pytest.raises(NoScriptError):
            await client.evalsha(unknown, 0)

    run(shared, scenario)


def test_the_policy_script_loads_again_after_redis_forgot_it(private_redis: RedisProcess) -> None:
    # SCRIPT FLUSH empties the whole server's script cache: a private Redis, not the shared one.
    keys = PolicyKeys(jti=None, tenant_id="tenant-a")
    buckets = [BucketSpec(Scope.TENANT, "tenant-a", "all", (Candidate(None, 10, 60),))]

    async def scenario(client: PipelinedRedis) -> None:
        script = PolicyScript(client)
        first = await script.run(keys, buckets)
        await client.execute("SCRIPT", "FLUSH")  # what a failover to a fresh replica looks like
        second = await script.run(keys, buckets)
        assert [bucket.remaining for bucket in (*first.buckets, *second.buckets)] == [9, 8]

    run(settings_for(private_redis.endpoint()), scenario)


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_commands_each_get_their_own_reply(shared: RedisSettings) -> None:
    values = [f"value-{index}" for index in range(200)]

    async def scenario(client: PipelinedRedis) -> None:
        replies = await asyncio.gather(*(client.execute("ECHO", value) for value in values))
        assert replies == [value.encode() for value in values]

    run(shared, scenario)


def test_concurrent_increments_and_reads_each_get_their_own_reply(shared: RedisSettings) -> None:
    keys = [unique_key() for _ in range(200)]

    async def scenario(client: PipelinedRedis) -> None:
        async def increment_and_read(index: int) -> tuple[int, bytes]:
            counted = await client.execute("INCRBY", keys[index], index)
            return counted, await client.execute("GET", keys[index])

        answers = await asyncio.gather(*(increment_and_read(index) for index in range(200)))
        assert answers == [(index, str(index).encode()) for index in range(200)]

    run(shared, scenario)


def test_concurrent_commands_share_one_connection(shared: RedisSettings) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        # All start before any connection exists: they wait for the same one.
        ids = await asyncio.gather(*(client.execute("CLIENT", "ID") for _ in range(50)))
        assert len(set(ids)) == 1

    run(shared, scenario)


# --- outages --------------------------------------------------------------------------------------


# (how Redis fails, how it comes back, what a command raises meanwhile): as redis-py raises it.
OUTAGES = [
    pytest.param("stop", "start", RedisConnectionError, id="stopped"),  # the same port on restart
    pytest.param("pause", "resume", RedisTimeoutError, id="paused"),  # SIGSTOP: accepts, never answers
]


@pytest.mark.parametrize(("fail", "recover", "error"), OUTAGES)
def test_a_command_during_an_outage_raises_as_redis_py_does(
    private: RedisSettings, private_redis: RedisProcess, fail: str, recover: str, error: type[Exception]
) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        await client.execute("PING")  # connected
        getattr(private_redis, fail)()
        with pytest.raises(error):
            await client.execute("PING")

    run(private, scenario)


@pytest.mark.parametrize(("fail", "recover", "error"), OUTAGES)
def test_a_command_after_the_outage_succeeds_on_a_new_connection(
    private: RedisSettings, private_redis: RedisProcess, fail: str, recover: str, error: type[Exception]
) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        await client.execute("PING")
        getattr(private_redis, fail)()
        with pytest.raises(error):
            await client.execute("PING")
        getattr(private_redis, recover)()
        assert await client.execute("PING") == b"PONG"

    run(private, scenario)


def test_a_connection_the_server_closed_while_idle_is_replaced_without_failing_the_command(
    shared: RedisSettings, redis_client: redis.Redis
) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        connection_id = await client.execute("CLIENT", "ID")
        # Killed without the loop running in between, as a frozen Lambda container finds out only
        # when it next writes.
        redis_client.client_kill_filter(_id=connection_id)
        assert await client.execute("PING") == b"PONG"
        assert await client.execute("CLIENT", "ID") != connection_id

    run(shared, scenario)


def test_every_command_waiting_on_a_paused_server_raises_timeout_error(
    private: RedisSettings, private_redis: RedisProcess
) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        await client.execute("PING")
        private_redis.pause()
        outcomes = await asyncio.gather(*(client.execute("PING") for _ in range(5)), return_exceptions=True)
        assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes), outcomes

    run(private, scenario)


class Silent(asyncio.Protocol):
    """A server that accepts connections and never answers: a hung Redis, its connections counted."""

    def __init__(self, accepted: list[asyncio.BaseTransport]) -> None:
        self._accepted = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._accepted.append(transport)


def test_commands_waiting_for_a_connection_fail_with_its_one_attempt() -> None:
    # A database other than 0: the connection's set-up (SELECT) is what times out.
    async def scenario() -> None:
        accepted: list[asyncio.BaseTransport] = []
        server = await asyncio.get_running_loop().create_server(lambda: Silent(accepted), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = PipelinedRedis(RedisSettings("127.0.0.1", port, db=1, timeout_seconds=SHORT_TIMEOUT_SECONDS))
        try:
            commands = (client.execute("PING") for _ in range(5))
            outcomes = await asyncio.gather(*commands, return_exceptions=True)
            assert all(isinstance(outcome, RedisTimeoutError) for outcome in outcomes), outcomes
            assert len(accepted) == 1
        finally:
            await client.aclose()
            server.close()
            for transport in accepted:
                transport.close()
            await server.wait_closed()

    asyncio.run(scenario())


def test_connecting_to_a_closed_port_raises_connection_error(closed_port: int) -> None:
    settings = RedisSettings(host="127.0.0.1", port=closed_port, timeout_seconds=PATIENT_SECONDS)

    async def scenario(client: PipelinedRedis) -> None:
        with pytest.raises(RedisConnectionError):
            await client.execute("PING")

    run(settings, scenario)


# --- AUTH -----------------------------------------------------------------------------------------


def test_a_client_with_the_password_is_served(password_redis: RedisEndpoint) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        assert await client.execute("PING") == b"PONG"

    run(settings_for(password_redis, password=PASSWORD), scenario)


def test_a_client_without_the_password_is_refused_as_redis_py_refuses_it(
    password_redis: RedisEndpoint,
) -> None:
    # AuthenticationError is a ConnectionError: the policy engine treats it as an outage, not a bug.
    async def scenario(client: PipelinedRedis) -> None:
        with pytest.raises(AuthenticationError, match="Authentication required"):
            await client.execute("PING")

    run(settings_for(password_redis), scenario)


def test_a_client_with_a_wrong_password_is_refused_as_redis_py_refuses_it(
    password_redis: RedisEndpoint,
) -> None:
    async def scenario(client: PipelinedRedis) -> None:
        with pytest.raises(AuthenticationError):
            await client.execute("PING")

    run(settings_for(password_redis, password="not-the-password"), scenario)

"""``PipelinedRedis`` against the library it stands in for: redis-py (``redis.asyncio``, hiredis), on the
same commands and the same Redis.

Each example is a sequence of commands (strings, counters, hashes, lists, sorted sets, scripts,
errors of every kind Redis answers) run once through each client, on keys of its own; each reply,
or the error it raises (its type and message), must be the same. The deliberate differences
(docs/architecture.md, "Hand-written replacements"):

- replies as Redis sent them (bytes, integers, lists, None): redis-py's response callbacks, which
  turn them into Python types (``SET`` into ``True``), are off here;
- RESP2, without ``HELLO`` (one round trip less per connection); redis-py 8 speaks RESP3, where
  ``HGETALL`` is a map and scores are doubles. The property compares on RESP2; the commands the
  pipelined client is for (``SCRIPT LOAD``, ``EVALSHA``: the policy script) are compared with
  redis-py's default RESP3 too, and their replies are the same (a script replies by RESP2's rules
  unless it calls ``redis.setresp(3)``).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import pytest
import redis.asyncio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from redis.exceptions import RedisError

from bakery_gateway.clients.pipelined_redis import PipelinedRedis
from bakery_gateway.settings import RedisSettings
from tests.support.redis_server import RedisEndpoint

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SCRIPT = "redis.call('INCRBY', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), ARGV[2], false, 1.5}"
ERROR_SCRIPT = "return redis.error_reply('POLICY broken')"

KEY = "{key}"  # replaced by the client's own key
values = st.one_of(
    st.binary(max_size=20), st.integers(-1000, 1000).map(str), st.sampled_from(["", "x" * 300])
)
numbers = st.integers(-5, 5).map(str)
commands = st.one_of(
    st.tuples(st.just("SET"), st.just(KEY), values),
    st.tuples(st.just("GET"), st.just(KEY)),
    st.tuples(st.just("INCR"), st.just(KEY)),
    st.tuples(st.just("INCRBY"), st.just(KEY), numbers),
    st.tuples(st.just("DEL"), st.just(KEY)),
    st.tuples(st.just("EXPIRE"), st.just(KEY), st.sampled_from(["100", "-1", "x"])),
    st.tuples(st.just("TTL"), st.just(KEY)),
    st.tuples(st.just("HSET"), st.just(KEY), st.sampled_from(["f", "g"]), values),
    st.tuples(st.just("HINCRBY"), st.just(KEY), st.just("n"), numbers),
    st.tuples(st.just("HGETALL"), st.just(KEY)),
    st.tuples(st.just("HMGET"), st.just(KEY), st.just("f"), st.just("missing")),
    st.tuples(st.just("RPUSH"), st.just(KEY), values),
    st.tuples(st.just("LRANGE"), st.just(KEY), st.just("0"), st.just("-1")),
    st.tuples(st.just("ZADD"), st.just(KEY), st.sampled_from(["1", "2.5", "nan", "x"]), values),
    st.tuples(st.just("ZRANGE"), st.just(KEY), st.just("0"), st.just("-1"), st.just("WITHSCORES")),
    st.tuples(st.just("EVAL"), st.just(SCRIPT), st.just("1"), st.just(KEY), numbers, values),
    st.tuples(st.just("EVAL"), st.just(ERROR_SCRIPT), st.just("0")),
    st.tuples(st.just("EVALSHA"), st.just(hashlib.sha1(b"never loaded").hexdigest()), st.just("0")),  # noqa: S324
    st.tuples(st.just("SCRIPT"), st.just("LOAD"), st.just(SCRIPT)),
    st.tuples(st.just("PING")),
    st.tuples(st.just("ECHO"), values),
    st.tuples(st.just("NOSUCHCOMMAND"), st.just(KEY)),
    st.tuples(st.just("GET")),  # wrong number of arguments
)


async def replies(client: Any, sequence: list[tuple[str, ...]], key: str) -> list[Any]:
    """Each command's reply, or ``(error type, message)``, in order."""
    outcomes: list[Any] = []
    for command in sequence:
        arguments = [key if argument == KEY else argument for argument in command]
        try:
            outcomes.append(await client.execute(*arguments))
        except RedisError as error:
            outcomes.append((type(error).__name__, str(error).replace(key, KEY)))  # messages may name it
    return outcomes


class RedisPy:
    """redis-py's client with its response callbacks off: replies as the protocol gives them."""

    def __init__(self, endpoint: RedisEndpoint, protocol: int | None) -> None:
        self._client = redis.asyncio.Redis(
            host=endpoint.host, port=endpoint.port, db=endpoint.db, protocol=protocol
        )
        self._client.response_callbacks.clear()

    async def execute(self, *arguments: str | bytes) -> Any:
        return await self._client.execute_command(*arguments)  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        await self._client.aclose()


def run_both(
    endpoint: RedisEndpoint, sequence: list[tuple[str, ...]], protocol: int | None = 2
) -> tuple[list[Any], list[Any]]:
    """The replies of the pipelined client, then of redis-py speaking ``protocol`` (None: its default)."""

    async def main() -> tuple[list[Any], list[Any]]:
        namespace = f"differential:{uuid.uuid4().hex}"
        ours = PipelinedRedis(RedisSettings(endpoint.host, endpoint.port, endpoint.db, timeout_seconds=5.0))
        theirs = RedisPy(endpoint, protocol)
        try:
            return (
                await replies(ours, sequence, f"{namespace}:ours"),
                await replies(theirs, sequence, f"{namespace}:redis-py"),
            )
        finally:
            await ours.aclose()
            await theirs.aclose()

    return asyncio.run(main())


@PROPERTY_SETTINGS
@given(sequence=st.lists(commands, min_size=1, max_size=8))
@example(sequence=[("SET", KEY, b"\x00\xff"), ("GET", KEY), ("INCR", KEY), ("HGETALL", KEY)])
@example(sequence=[("EVALSHA", hashlib.sha1(b"never loaded").hexdigest(), "0"), ("PING",)])  # noqa: S324
def test_every_command_gets_the_reply_redis_py_gets(
    redis_server: RedisEndpoint, sequence: list[tuple[str, ...]]
) -> None:
    ours, theirs = run_both(redis_server, sequence)

    assert ours == theirs


@pytest.mark.parametrize("protocol", [2, None], ids=["RESP2", "redis-py's default"])
def test_the_policy_engines_calls_get_the_replies_redis_py_gets(
    redis_server: RedisEndpoint, protocol: int | None
) -> None:
    # What the policy engine sends: SCRIPT LOAD once, then EVALSHA with keys and arguments.
    sequence = [
        ("SCRIPT", "LOAD", SCRIPT),
        ("EVALSHA", hashlib.sha1(SCRIPT.encode()).hexdigest(), "1", KEY, "2", "tenant-a"),  # noqa: S324
        ("EVALSHA", hashlib.sha1(SCRIPT.encode()).hexdigest(), "1", KEY, "3", ""),  # noqa: S324
    ]

    ours, theirs = run_both(redis_server, sequence, protocol)

    assert ours == theirs
    assert ours[1] == [b"2", b"tenant-a", None, 1]  # Lua's false is nil, numbers are truncated

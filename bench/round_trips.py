"""Counting what one request costs Redis: round trips seen by the client, commands seen by the server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio.connection

from bakery_gateway.clients import pipelined_redis


@dataclass(frozen=True)
class RedisCost:
    requests: int
    round_trips: int  # packets of commands the client sent (a pipeline is one)
    commands: dict[str, int]  # what the server executed, by command, script-internal calls included

    @property
    def round_trips_per_request(self) -> float:
        return self.round_trips / self.requests

    def per_request(self, command: str) -> float:
        return self.commands.get(command, 0) / self.requests


@contextmanager
def _counting_sends() -> Iterator[list[int]]:
    """Counts the async clients' sends: each redis-py ``send_packed_command``, and each command the
    pipelined client writes, is one round trip."""
    connection_class = redis.asyncio.connection.AbstractConnection
    original = connection_class.send_packed_command
    reader_class = pipelined_redis._ReplyReader
    original_send = reader_class.send
    sends = [0]

    async def counted(
        self: redis.asyncio.connection.AbstractConnection, *args: object, **kwargs: object
    ) -> None:
        sends[0] += 1
        await original(self, *args, **kwargs)  # type: ignore[arg-type]

    def counted_send(self: pipelined_redis._ReplyReader, packed: bytes, reply: asyncio.Future[Any]) -> None:
        sends[0] += 1
        original_send(self, packed, reply)

    connection_class.send_packed_command = counted  # type: ignore[method-assign]
    reader_class.send = counted_send  # type: ignore[method-assign]
    try:
        yield sends
    finally:
        connection_class.send_packed_command = original  # type: ignore[method-assign]
        reader_class.send = original_send  # type: ignore[method-assign]


def measure(server: redis.Redis, request: Callable[[], object], requests: int = 200) -> RedisCost:
    """Run ``request`` (already warmed up) ``requests`` times and count its Redis traffic."""
    server.config_resetstat()
    with _counting_sends() as sends:
        for _ in range(requests):
            request()
    stats = server.info("commandstats")
    commands = {
        name.removeprefix("cmdstat_"): int(values["calls"])
        for name, values in stats.items()
        if not name.startswith(("cmdstat_config", "cmdstat_info"))
    }
    return RedisCost(requests=requests, round_trips=sends[0], commands=commands)

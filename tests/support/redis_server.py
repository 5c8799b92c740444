"""A real Redis for the integration and end-to-end tiers: the one already running, or our own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from bakery_local.redis_server import RedisServer, answers_ping
from bakery_local.redis_server import free_port as free_port  # the tiers import it from here

TEST_REDIS_HOST = "TEST_REDIS_HOST"
TEST_REDIS_PORT = "TEST_REDIS_PORT"
TEST_REDIS_DB = "TEST_REDIS_DB"


@dataclass(frozen=True)
class RedisEndpoint:
    """Where the tests' Redis answers, and the database number they may flush."""

    host: str
    port: int
    db: int
    started_here: bool = False

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, db=self.db, decode_responses=True)


@contextmanager
def redis_for_tests() -> Iterator[RedisEndpoint]:
    """The Redis at TEST_REDIS_HOST:TEST_REDIS_PORT when it answers, else a private redis-server."""
    host = os.environ.get(TEST_REDIS_HOST, "127.0.0.1")
    port = int(os.environ.get(TEST_REDIS_PORT, "6379"))
    db = int(os.environ.get(TEST_REDIS_DB, "15"))
    if answers_ping(host, port):
        yield RedisEndpoint(host, port, db)
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            f"no Redis answers at {host}:{port} and `redis-server` is not installed: "
            f"install it (apt-get install redis-server) or point {TEST_REDIS_HOST}/{TEST_REDIS_PORT} "
            "at a Redis the tests may use"
        )
    with tempfile.TemporaryDirectory(prefix="bakery-test-redis-") as directory:
        yield from _own_redis_server(binary, Path(directory), db)


def _own_redis_server(binary: str, directory: Path, db: int) -> Iterator[RedisEndpoint]:
    server = RedisProcess(directory, binary=binary)
    try:
        server.start()
        yield RedisEndpoint("127.0.0.1", server.port, db, started_here=True)
    finally:
        server.stop()


class RedisProcess(RedisServer):
    """A private ``redis-server`` on the loopback (``bakery_local.redis_server``), that a test may stop,
    pause and start again on the same port."""

    def endpoint(self, db: int = 0) -> RedisEndpoint:
        return RedisEndpoint(self.host, self.port, db, started_here=True)

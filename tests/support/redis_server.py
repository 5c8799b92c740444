"""A real Redis for the integration and end-to-end tiers: the one already running, or our own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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


def free_port() -> int:
    """A TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    client = redis.Redis(
        host=host,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),  # redis-py's default retries a refused connection for seconds
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


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
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(directory), "--logfile", str(directory / "redis.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while not answers_ping("127.0.0.1", port, timeout=0.2):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (directory / "redis.log").read_text() if (directory / "redis.log").exists() else ""
                raise RuntimeError(f"redis-server did not start on port {port}:\n{log[-2000:]}")
            time.sleep(0.02)
        yield RedisEndpoint("127.0.0.1", port, db, started_here=True)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

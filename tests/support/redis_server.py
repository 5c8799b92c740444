"""A real Redis for the integration and end-to-end tiers: the one already running, or our own."""

from __future__ import annotations

import os
import shutil
import signal
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
    server = RedisProcess(directory, binary=binary)
    try:
        server.start()
        yield RedisEndpoint("127.0.0.1", server.port, db, started_here=True)
    finally:
        server.stop()


class RedisProcess:
    """A private ``redis-server`` on one free port, that a test may stop, pause and start again.

    The port stays the same across restarts, so a gateway configured with it finds the server again.
    """

    def __init__(self, directory: Path, *, binary: str | None = None, port: int | None = None) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise RuntimeError("`redis-server` is not installed (apt-get install redis-server)")
        self.binary = found
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def endpoint(self, db: int = 0) -> RedisEndpoint:
        return RedisEndpoint("127.0.0.1", self.port, db, started_here=True)

    def start(self) -> RedisProcess:
        log = self.directory / "redis.log"
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory), "--logfile", str(log)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 10
        while not answers_ping("127.0.0.1", self.port, timeout=0.2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{text[-2000:]}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Terminate the server (no save) and wait until it is gone; the port is free again."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted by the kernel, nothing answers."""
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None, "the server is not running"
        self._process.send_signal(signal.SIGCONT)

"""A private ``redis-server`` process on one free port: started, waited for, stopped.

``bakery-gateway`` starts one bound to Docker's bridge for the functions ``sam local`` runs in
containers (``sam_local/``); the tests start theirs on the loopback and may also pause it (a hung
Redis) and start it again on the same port.
"""

from __future__ import annotations

import ipaddress
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

START_SECONDS = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at ``host`` (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
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


class RedisServer:
    """A ``redis-server`` of our own on ``host`` and one port, nothing saved to disk.

    The port stays the same across restarts, so a gateway configured with it finds the server again.
    """

    def __init__(
        self, directory: Path, *, host: str = "127.0.0.1", binary: str | None = None, port: int | None = None
    ) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise RuntimeError("`redis-server` is not installed (apt-get install redis-server)")
        self.binary = found
        self.directory = directory
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        log = self.directory / "redis.log"
        command = [self.binary, "--port", str(self.port), "--bind", self.host, "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory), "--logfile", str(log)]
        if not ipaddress.ip_address(self.host).is_loopback:
            # Redis refuses non-loopback clients without a password ("protected mode"); the one address
            # it listens on here (Docker's bridge) is reached by this host and its containers only.
            command += ["--protected-mode", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + START_SECONDS
        while not answers_ping(self.host, self.port, timeout=0.2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start on {self.host}:{self.port}:\n{text[-2000:]}")
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
        self._running().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._running().send_signal(signal.SIGCONT)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the Redis server is not running")
        return self._process

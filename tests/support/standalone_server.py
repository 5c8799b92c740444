"""``bakery-gateway serve`` in a process of its own, for the tests that drive it over real sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bakery_gateway import constants as names
from bakery_local.runtime_process import stop
from tests.support.redis_server import free_port

STARTUP_SECONDS = 30
# Everything `bakery-gateway local` would provide itself: unset, so nothing leaks in from the shell.
LOCAL_CONVENIENCES = tuple(names.service_url_variable(service) for service in names.SERVICES)


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextmanager
def standalone(
    environ: Mapping[str, str],
    log_path: Path,
    *arguments: str,
    program: Sequence[str] = (sys.executable, "-m", "bakery_local.cli"),
    cwd: Path | None = None,
    without: Collection[str] = (),
    startup_seconds: float = STARTUP_SECONDS,
) -> Iterator[Server]:
    """``serve`` on 127.0.0.1 and a free port with ``environ`` (over this process's, minus service
    URLs and ``without``) and ``arguments``; ``program`` is the ``bakery-gateway`` command (this
    checkout's by default), run in ``cwd``; yielded once ``/health`` answers, stopped (SIGTERM) after."""
    port = free_port()
    command = [*program, "serve", "--host", "127.0.0.1", "--port", str(port)]
    dropped = {*LOCAL_CONVENIENCES, *without}
    full_environ = {name: value for name, value in os.environ.items() if name not in dropped} | dict(environ)
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [*command, *arguments], cwd=cwd, env=full_environ, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_healthy(server, startup_seconds)
        yield server
    finally:
        stop(process, 15)


def _wait_healthy(server: Server, startup_seconds: float) -> None:
    deadline = time.monotonic() + startup_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"serve exited at start-up:\n{server.log_path.read_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"serve was not healthy within {startup_seconds:g} s:\n{server.log_path.read_text()}")

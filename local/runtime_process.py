"""The local runtime as a child process on a free port, for the tools that drive it from outside
(the fan-out bench, the load test): started, waited for, and stopped with its log's tail shown; and
``stop``, which the tests use for every process they start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from bakery_gateway import constants as names
from bakery_local.cli import KEY_SOURCES, STATE_DIR_VARIABLE
from bakery_local.redis_server import free_port

STARTUP_SECONDS = 60.0
STOP_SECONDS = 15.0
STATUS_PATH = "/_local/status"


def runtime_environment(
    *, redis_host: str, redis_port: int, redis_db: int, state_dir: Path, settings: Mapping[str, str]
) -> dict[str, str]:
    """This process's environment for a runtime of the caller's own: no JWT key source inherited
    (the runtime uses the development key pair kept in ``state_dir``), the Redis given, request
    logs at WARNING, and ``settings`` on top."""
    environ = {name: value for name, value in os.environ.items() if name not in KEY_SOURCES}
    environ.update(
        {
            names.REDIS_HOST: redis_host,
            names.REDIS_PORT: str(redis_port),
            names.REDIS_DB: str(redis_db),
            STATE_DIR_VARIABLE: str(state_dir),
            "LOG_LEVEL": "WARNING",
            **settings,
        }
    )
    return environ


@contextmanager
def local_runtime_process(
    arguments: Sequence[str],
    environ: Mapping[str, str],
    log_path: Path,
    *,
    startup_seconds: float = STARTUP_SECONDS,
) -> Iterator[str]:
    """``bakery-gateway local --no-reload --port <free> *arguments``; its URL once it answers. Its
    log goes to ``log_path``, and its tail is printed when it stops."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "bakery-gateway"),
        "local",
        "--no-reload",
        "--port",
        str(port),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own executable, arguments we built
            [*command, *arguments], env=dict(environ), stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url, process, log_path, startup_seconds)
        yield url
    finally:
        stop(process, STOP_SECONDS)
        tail = log_path.read_text()[-2000:]
        if tail.strip():
            print(f"runtime log (tail):\n{tail}", flush=True)


def _wait_until_answering(url: str, process: subprocess.Popen[bytes], log_path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the local runtime did not start:\n{log_path.read_text()[-3000:]}")
        try:
            httpx.get(url + STATUS_PATH, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], timeout_seconds: float = 10.0) -> None:
    """SIGTERM, and SIGKILL when it is not gone within ``timeout_seconds``; returns once it has exited."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

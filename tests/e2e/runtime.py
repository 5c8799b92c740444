"""The local runtime as a separate process, on a free port: what a developer runs with ``make run``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bakery_gateway import constants as names
from bakery_local.cli import KEY_SOURCES, STATE_DIR_VARIABLE
from bakery_local.runtime_process import stop
from tests.support.redis_server import free_port

STARTUP_SECONDS = 30
# What the runtime provides itself when unset (Redis, keys, sample services): unset them all to run
# it as a newcomer does, with no configuration at all.
LOCAL_CONFIGURATION = (
    names.REDIS_HOST,
    names.REDIS_PORT,
    names.REDIS_DB,
    names.REDIS_PASSWORD,
    names.REDIS_PASSWORD_SECRET_ID,
    *KEY_SOURCES,
    *(names.service_url_variable(service) for service in names.SERVICES),
)


@dataclass(frozen=True)
class RunningGateway:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def status(self) -> dict[str, object]:
        """The runtime's invocation counts (``/_local/status``)."""
        return dict(httpx.get(f"{self.url}/_local/status", timeout=5).json())

    def log(self) -> str:
        return self.log_path.read_text()

    def interrupt(self) -> None:
        """Ctrl-C in its terminal: SIGINT to its process group (the reloader and its server process)."""
        os.killpg(self.process.pid, signal.SIGINT)


@contextmanager
def local_gateway(
    environ: Mapping[str, str],
    log_path: Path,
    *extra_arguments: str,
    unset: tuple[str, ...] = (),
    reload: bool = False,
) -> Iterator[RunningGateway]:
    """``bakery-gateway local`` (``--no-reload`` unless asked), ``environ`` added and ``unset`` removed;
    in a process group of its own, as a terminal's foreground job."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bakery_local.cli",
        "local",
        *([] if reload else ["--no-reload"]),
        "--port",
        str(port),
        *extra_arguments,
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            command,
            env={name: value for name, value in {**os.environ, **environ}.items() if name not in unset},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    gateway = RunningGateway(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_listening(gateway)
        yield gateway
    finally:
        stop(process, 10)


def _wait_until_listening(gateway: RunningGateway) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"the local runtime exited at start-up:\n{gateway.log()}")
        try:
            httpx.get(f"{gateway.url}/_local/status", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the local runtime did not listen within {STARTUP_SECONDS} s:\n{gateway.log()}")


def run_cli(state_directory: Path, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``bakery-gateway <arguments>`` in its own process, with the runtime's state directory."""
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "bakery_local.cli", *arguments],
        env={**os.environ, STATE_DIR_VARIABLE: str(state_directory)},
        capture_output=True,
        text=True,
        check=check,
        timeout=30,
    )

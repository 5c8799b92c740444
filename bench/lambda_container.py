"""A function's ``sam build`` output in the stand-in Lambda image, under one memory size's CPU share.

As ``sam local`` runs a function (samcli/local/docker/lambda_container.py): the function's build
folder at ``/var/task``, the shared layer at ``/opt``, and SAM's runtime interface emulator
(``aws-lambda-rie``, shipped inside the SAM CLI package in ``.venv-sam``) as the entrypoint, which
starts the image's runtime (``/var/runtime/bootstrap``: awslambdaric) and answers Lambda's invoke API
on port 8080. Unlike ``sam local``, the container is kept warm across invocations, and it runs under
the limits Lambda would give the memory size:

- ``--memory`` = the memory size, and ``--memory-swap`` the same (Lambda has no swap), from the start;
- ``--cpus`` = memory / 1,769 MB, set by ``limit_cpu`` (``docker update``) once the first invocation
  has started the runtime and imported the handler: Lambda allocates CPU in proportion to memory,
  "at 1,769 MB, a function has the equivalent of one vCPU (one vCPU-second of credits per second)"
  (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html, read 2026-12-06). Docker turns it
  into a CFS quota: ``cpus`` x 100 ms of CPU per 100 ms period, over all the host's cores. The
  import runs unlimited because it is not what is measured here (``cold_start.py`` is), and at 128 MB
  it would outlast the function's timeout.

It is invoked over Docker's bridge at the container's own address (no published port, so no
docker-proxy in the path), and its CPU is read from its cgroup (``cgroup_cpu``).
"""

from __future__ import annotations

import http.client
import re
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from cgroup_cpu import CgroupFiles, CpuReading, cgroup_files

from bakery_local.sam_local.docker_daemon import docker

LAMBDA_MB_PER_VCPU: Final = 1769
RIE_IN_SAM_CLI: Final = "samcli/local/rapid/aws-lambda-rie-x86_64"
RIE_MOUNT: Final = "/var/rapid/aws-lambda-rie"
RIE_PORT: Final = 8080
INVOKE_PATH: Final = "/2015-03-31/functions/function/invocations"
CONTAINER_HOST: Final = "host.docker.internal"  # as sam local's --add-host names the host
# Every container this bench starts carries it, its value the checkout's folder, so the containers an
# interrupted run left can be found, and those of another checkout's run on the machine left alone.
BENCH_LABEL: Final = "org.bakery-ia.bench.lambda-power"
START_SECONDS: Final = 30.0
# The emulator's line after each invocation:
# "REPORT RequestId: <id>\t[Init Duration: x ms\t]Duration: y ms\tBilled Duration: ..."
REPORT: Final = re.compile(
    r"^REPORT RequestId: \S+\s+(?:Init Duration: [\d.]+ ms\s+)?Duration: ([\d.]+) ms", re.M
)


class ContainerError(Exception):
    """The function's container could not be started, or an invocation failed."""


def cpu_share(memory_mb: int) -> float:
    """The vCPUs Lambda gives ``memory_mb``: one per 1,769 MB."""
    return memory_mb / LAMBDA_MB_PER_VCPU


def find_rie(sam_venv: Path) -> Path:
    """The runtime interface emulator that ``sam local`` puts into every function container."""
    found = sorted(sam_venv.glob(f"lib/python3*/site-packages/{RIE_IN_SAM_CLI}"))
    if not found:
        raise ContainerError(f"no {RIE_IN_SAM_CLI} under {sam_venv}: `make venv` installs aws-sam-cli there")
    return found[-1]


@dataclass(frozen=True)
class FunctionCode:
    """What a container runs: a ``sam build`` function folder, and the layer folder."""

    name: str
    code_dir: Path  # mounted at /var/task
    layer_dir: Path | None  # mounted at /opt
    handler: str = "app.handler"


@dataclass(frozen=True)
class Invocation:
    seconds: float  # the invoke call's round trip, as the emulator's caller sees it
    answer: bytes  # the function's response payload (or the runtime's error document)


class FunctionContainer:
    """One warm function container: started, invoked over HTTP, measured, stopped."""

    def __init__(
        self,
        code: FunctionCode,
        memory_mb: int,
        environment: Mapping[str, str],
        *,
        owner: Path,
        image: str,
        rie: Path,
        bridge: str,
        timeout_seconds: int = 5,
    ) -> None:
        self.code = code
        self.memory_mb = memory_mb
        self._environment = {
            **environment,
            # What Lambda (and sam local) sets; a function name turns the EMF blob on (emf.on_lambda).
            "AWS_LAMBDA_FUNCTION_NAME": code.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_seconds),
            "AWS_LAMBDA_FUNCTION_HANDLER": code.handler,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        }
        self._owner, self._image, self._rie, self._bridge = owner, image, rie, bridge
        self._timeout = timeout_seconds
        self.name = f"bakery-power-{code.name.lower()}-{memory_mb}-{uuid.uuid4().hex[:8]}"
        self.address = ""
        self.pid = 0
        self._connection: http.client.HTTPConnection | None = None
        self._cgroup: CgroupFiles | None = None

    def start(self) -> Self:
        arguments = ["run", "--detach", "--name", self.name, "--label", f"{BENCH_LABEL}={self._owner}"]
        arguments += ["--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m"]
        arguments += ["--add-host", f"{CONTAINER_HOST}:{self._bridge}", "--log-opt", "max-size=20m"]
        arguments += ["--volume", f"{self.code.code_dir}:/var/task:ro"]
        if self.code.layer_dir is not None:
            arguments += ["--volume", f"{self.code.layer_dir}:/opt:ro"]
        arguments += ["--volume", f"{self._rie}:{RIE_MOUNT}:ro", "--entrypoint", RIE_MOUNT]
        for name, value in self._environment.items():
            arguments += ["--env", f"{name}={value}"]
        arguments += [self._image, "--log-level", "error"]
        started = docker(*arguments)
        if started.returncode != 0:
            raise ContainerError(f"docker run {self.name} failed: {started.stderr.strip()}")
        inspected = docker("inspect", "--format", "{{.State.Pid}} {{.NetworkSettings.IPAddress}}", self.name)
        pid, _, address = inspected.stdout.strip().partition(" ")
        if inspected.returncode != 0 or not address:
            self.stop()
            raise ContainerError(f"{self.name} has no address on Docker's bridge: {inspected.stderr.strip()}")
        self.pid, self.address = int(pid), address
        self._cgroup = cgroup_files(self.pid)
        self._wait_listening()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def limit_cpu(self) -> None:
        """From now on, the memory size's share of a CPU (a CFS quota per 100 ms period)."""
        updated = docker("update", "--cpus", f"{cpu_share(self.memory_mb):.3f}", self.name)
        if updated.returncode != 0:
            raise ContainerError(f"docker update --cpus of {self.name} failed: {updated.stderr.strip()}")

    def invoke(self, payload: bytes) -> Invocation:
        """One synchronous invocation with ``payload`` as the event."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.address, RIE_PORT, timeout=self._timeout + 10)
        started = time.perf_counter()
        try:
            self._connection.request("POST", INVOKE_PATH, body=payload)
            response = self._connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            self._connection.close()
            self._connection = None
            raise ContainerError(
                f"{self.name}: the invocation failed ({error}); its log:\n{self.log_tail()}"
            ) from error
        seconds = time.perf_counter() - started
        if response.status != 200:
            raise ContainerError(f"{self.name}: the emulator answered {response.status}: {answer[:500]!r}")
        return Invocation(seconds, answer)

    def cpu(self) -> CpuReading:
        """The container's CPU counters now (the emulator's and the runtime's processes together)."""
        return self._files().read_cpu()

    def memory_peak_bytes(self) -> int | None:
        return self._files().read_memory_peak()

    def pids(self) -> list[int]:
        return self._files().pids()

    def reported_durations_ms(self) -> list[float]:
        """The emulator's own duration of each invocation so far, in order (its REPORT lines)."""
        return [float(value) for value in REPORT.findall(self._log())]

    def log_tail(self, characters: int = 3000) -> str:
        return self._log()[-characters:]

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        docker("rm", "--force", self.name)

    def _files(self) -> CgroupFiles:
        if self._cgroup is None:
            raise ContainerError(f"{self.name} is not running")
        return self._cgroup

    def _log(self) -> str:
        logs = docker("logs", self.name)
        return logs.stdout + logs.stderr

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                socket.create_connection((self.address, RIE_PORT), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    tail = self.log_tail()
                    self.stop()
                    raise ContainerError(
                        f"{self.name}: the emulator did not listen within {START_SECONDS:g} s:\n{tail}"
                    ) from None
                time.sleep(0.05)


def remove_leftovers(owner: Path) -> list[str]:
    """Remove the containers an interrupted run of this bench in ``owner`` left behind; their ids."""
    listed = docker("ps", "--all", "--quiet", "--filter", f"label={BENCH_LABEL}={owner}")
    ids = listed.stdout.split()
    if ids:
        docker("rm", "--force", *ids)
    return ids


@dataclass(frozen=True)
class Stack:
    """What the containers reach and run: Docker's bridge, the services on it, the code."""

    bridge: str
    environment: dict[str, str]
    codes: dict[str, FunctionCode]
    rie: Path
    # The same functions of ``--baseline-ref``'s commit (not the no-op: its code is the bench's).
    baseline_codes: dict[str, FunctionCode] | None = None

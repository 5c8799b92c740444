"""Docker for ``sam local``: the daemon answering (started here when it is not, and then stopped
here too), the bridge address function containers reach the host by, and the clean-up of the
function containers SAM left behind running this project's build.
"""

from __future__ import annotations

import fcntl
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bakery_local.sam_local.privileges import as_root, can_run_as_root

START_SECONDS = 60.0
STOP_SECONDS = 20.0
DOCKERD_PATHS = ("/usr/sbin/dockerd", "/usr/bin/dockerd")
# Every function container SAM creates carries this label (samcli/local/docker/lambda_container.py).
SAM_CONTAINER_LABEL = "sam.cli.container.type=lambda"
INSTALL_HINT = "`make sam-local` installs docker.io"
SIOCGIFADDR = 0x8915  # Linux's ioctl for an interface's address


class DockerUnavailableError(Exception):
    """Docker cannot run here; the message says why, and what would make it run."""


def docker_client() -> str:
    """The docker client's path; ``DockerUnavailableError`` when it is not installed."""
    client = shutil.which("docker")
    if client is None:
        raise DockerUnavailableError(f"the docker client is not installed ({INSTALL_HINT})")
    return client


def docker(*arguments: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``docker <arguments>``, its output captured; never raises for a failed command."""
    return subprocess.run(  # noqa: S603 - the docker client, arguments we built
        [docker_client(), *arguments], capture_output=True, text=True, timeout=timeout, check=False
    )


def docker_answers() -> bool:
    try:
        return docker("info", "--format", "{{.ServerVersion}}", timeout=15).returncode == 0
    except (DockerUnavailableError, OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class DockerDaemon:
    """The running Docker daemon; ``process`` is set when it was started here (and stops with ``stop``)."""

    process: subprocess.Popen[bytes] | None
    log_path: Path | None = None

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def stop(self) -> None:
        """Stop the daemon if it was started here (SIGTERM, then SIGKILL); one already running stays."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ensure_docker(log_path: Path) -> DockerDaemon:
    """The Docker daemon, started (as root, its output in ``log_path``) when none answers.

    Raises ``DockerUnavailableError`` saying why when Docker cannot run here.
    """
    docker_client()
    if docker_answers():
        return DockerDaemon(None)
    dockerd = next((path for path in DOCKERD_PATHS if Path(path).is_file()), None)
    if dockerd is None:
        raise DockerUnavailableError(f"dockerd is not installed ({INSTALL_HINT})")
    if not can_run_as_root():
        raise DockerUnavailableError(
            "dockerd is not running, and starting it needs root: start it (`sudo dockerd &` or "
            "`sudo systemctl start docker`) and make sure your user may use it (the docker group)"
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        # A session of its own: Ctrl-C in the terminal must not stop Docker before SAM's containers go.
        process = subprocess.Popen(  # noqa: S603 - Debian's dockerd
            as_root([dockerd]), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    daemon = DockerDaemon(process, log_path)
    deadline = time.monotonic() + START_SECONDS
    while not docker_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            daemon.stop()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise DockerUnavailableError(f"dockerd did not start (log {log_path}):\n{tail}")
        time.sleep(0.2)
    return daemon


def bridge_address() -> str:
    """The host's address on Docker's default bridge, which containers reach it by: the network's
    gateway when Docker names one, else the address of the bridge's interface (docker0)."""
    answer = docker(
        "network",
        "inspect",
        "bridge",
        "--format",
        '{{range .IPAM.Config}}{{.Gateway}}{{end}} {{index .Options "com.docker.network.bridge.name"}}',
    )
    if answer.returncode != 0:
        raise DockerUnavailableError(f"Docker has no bridge network: {answer.stderr.strip()}")
    gateway, _, interface = answer.stdout.strip().rpartition(" ")
    if gateway.strip():
        return gateway.strip()
    try:
        return interface_address(interface or "docker0")
    except OSError as error:
        raise DockerUnavailableError(f"Docker's bridge {interface} has no IPv4 address: {error}") from error


def interface_address(name: str) -> str:
    """The IPv4 address of the network interface ``name`` (Linux)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("256s", name.encode()[:15])
        answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
    return socket.inet_ntoa(answer[20:24])


def remove_function_containers(build_dir: Path) -> list[str]:
    """Remove the function containers SAM left running code from ``build_dir`` (an interrupted run);
    their ids. Containers of other projects, or other copies of this one, are not touched."""
    listed = docker("ps", "--all", "--quiet", "--filter", f"label={SAM_CONTAINER_LABEL}")
    ids = listed.stdout.split()
    if not ids:
        return []
    mounts = docker("inspect", "--format", "{{.Id}} {{range .Mounts}}{{.Source}} {{end}}", *ids)
    ours = [
        container_id
        for container_id, *sources in (line.split() for line in mounts.stdout.splitlines() if line.strip())
        if any(Path(source).is_relative_to(build_dir) for source in sources)
    ]
    if ours:
        docker("rm", "--force", *ours)
    return ours

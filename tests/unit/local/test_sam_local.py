"""``make sam-local``'s parts without Docker: the --env-vars file, starting and stopping dockerd, the
bridge address, and which left-over containers are removed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bakery_local.sam_local import docker_daemon, env_vars
from bakery_local.sam_local.docker_daemon import DockerUnavailableError, ensure_docker


def answered(stdout: str, returncode: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], returncode, stdout, "")


# --- the --env-vars file ---------------------------------------------------------------------------


def test_a_service_url_is_rewritten_for_the_containers_keeping_port_and_path() -> None:
    assert env_vars.container_url("http://172.17.0.1:40123/base") == "http://host.docker.internal:40123/base"


def test_every_function_gets_the_bridge_redis_the_keys_and_the_services(tmp_path: Path) -> None:
    variables = env_vars.function_environment(
        redis_port=45087,
        service_urls={"sales": "http://host.docker.internal:40001"},
        key_settings={"JWT_PUBLIC_KEYS": '{"k": "pem"}'},
        settings={"SSE_WAIT_SECONDS": "5", "REDIS_DB": "3"},
    )

    written = json.loads(env_vars.write_env_vars(tmp_path / "env.json", variables).read_text())

    assert list(written) == ["Parameters"], "one object for every function"
    parameters = written["Parameters"]
    assert parameters["REDIS_HOST"] == "host.docker.internal"
    assert parameters["REDIS_PORT"] == "45087"
    assert parameters["REDIS_TLS"] == "false"
    assert parameters["REDIS_PASSWORD_SECRET_ID"] == "", "the template's nested-stack value is replaced"
    assert parameters["SALES_SERVICE_URL"] == "http://host.docker.internal:40001"
    assert parameters["JWT_PUBLIC_KEYS"] == '{"k": "pem"}'
    assert (parameters["SSE_WAIT_SECONDS"], parameters["REDIS_DB"]) == ("5", "3"), "settings come last"


# --- dockerd ---------------------------------------------------------------------------------------


@pytest.fixture
def fake_dockerd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Installs a stand-in ``dockerd`` script (``body``); Docker answers once it has started."""
    monkeypatch.setattr(docker_daemon, "docker_client", lambda: "docker")
    monkeypatch.setattr(docker_daemon, "can_run_as_root", lambda: True)
    monkeypatch.setattr(docker_daemon, "as_root", lambda command: command)
    monkeypatch.setattr(docker_daemon, "START_SECONDS", 5.0)

    def install(body: str) -> Path:
        script = tmp_path / "dockerd"
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
        monkeypatch.setattr(docker_daemon, "DOCKERD_PATHS", (str(script),))
        started = tmp_path / "dockerd.started"
        monkeypatch.setattr(docker_daemon, "docker_answers", started.exists)
        return started

    return install


def test_a_docker_that_answers_is_used_and_left_running(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_daemon, "docker_client", lambda: "docker")
    monkeypatch.setattr(docker_daemon, "docker_answers", lambda: True)

    daemon = ensure_docker(Path("/nonexistent/dockerd.log"))

    assert not daemon.started_here
    daemon.stop()  # nothing to stop


def test_dockerd_is_started_when_docker_does_not_answer_and_stopped_by_whoever_started_it(
    fake_dockerd: Callable[[str], Path], tmp_path: Path
) -> None:
    started = fake_dockerd(f'touch "{tmp_path}/dockerd.started"\nexec sleep 60')

    daemon = ensure_docker(tmp_path / "dockerd.log")

    assert daemon.started_here
    assert started.exists()
    process = daemon.process
    assert process is not None
    assert process.poll() is None
    daemon.stop()
    assert process.poll() is not None


def test_a_dockerd_that_fails_to_start_is_reported_with_its_log(
    fake_dockerd: Callable[[str], Path], tmp_path: Path
) -> None:
    fake_dockerd('echo "failed to start daemon: pid file found"; exit 1')

    with pytest.raises(DockerUnavailableError, match="pid file found"):
        ensure_docker(tmp_path / "dockerd.log")


def test_without_root_a_stopped_docker_is_reported_with_what_to_do(
    fake_dockerd: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dockerd("exit 0")
    monkeypatch.setattr(docker_daemon, "can_run_as_root", lambda: False)

    with pytest.raises(DockerUnavailableError, match="needs root"):
        ensure_docker(tmp_path / "dockerd.log")


# --- the bridge, and left-over containers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("inspected", "address"),
    [
        ("172.17.0.1 docker0", "172.17.0.1"),  # the network names its gateway
        (" lo", "127.0.0.1"),  # it does not (Docker 20.10's default bridge): the interface's address
    ],
)
def test_the_bridge_address_is_the_gateway_or_else_the_bridge_interfaces(
    monkeypatch: pytest.MonkeyPatch, inspected: str, address: str
) -> None:
    monkeypatch.setattr(docker_daemon, "docker", lambda *arguments, **options: answered(inspected))

    assert docker_daemon.bridge_address() == address


def test_only_containers_running_this_build_are_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    build = Path("/work/project/.aws-sam/build")
    removed: list[tuple[str, ...]] = []

    def docker(*arguments: str, **options: object) -> subprocess.CompletedProcess[str]:
        if arguments[0] == "ps":
            return answered("ours\ntheirs\n")
        if arguments[0] == "inspect":
            return answered(
                f"ours {build}/ProxyFunction /tmp/layer \ntheirs /work/other/.aws-sam/build/ProxyFunction \n"
            )
        removed.append(arguments)
        return answered("")

    monkeypatch.setattr(docker_daemon, "docker", docker)

    assert docker_daemon.remove_function_containers(build) == ["ours"]
    assert removed == [("rm", "--force", "ours")]

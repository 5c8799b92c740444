"""``bakery-gateway serve`` from the built wheel, in a fresh virtualenv, started in an empty folder.

The wheel is installed without its dependencies; the fresh virtualenv reaches the third-party
packages of the test's own virtualenv through a ``.pth`` line (no download), which adds their folder
to ``sys.path`` without running its ``.pth`` files: the editable install of the checkout stays out,
so every ``bakery_*`` module comes from the wheel. No ``template.yaml`` is anywhere near.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.runtime_process import stop
from tests.conftest import service_base_url
from tests.e2e.conftest import deployment_environment, tenant_headers
from tests.support.redis_server import RedisEndpoint, free_port
from tests.support.standalone_server import LOCAL_CONVENIENCES
from tests.support.stub_service import StubService

PROJECT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel of this checkout installed; its ``bin`` folder."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(  # noqa: S603 - pip, on this checkout
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work, PROJECT],
        check=True,
        cwd=work,
        timeout=300,
    )
    [wheel] = work.glob("bakery_gateway-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)  # noqa: S603
    python = venv / "bin" / "python"
    subprocess.run(  # noqa: S603 - pip, the wheel just built
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], check=True, timeout=300
    )
    site = subprocess.run(  # noqa: S603
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_the_wheels_modules_are_the_ones_imported(installed: Path) -> None:
    found = subprocess.run(  # noqa: S603
        [
            installed / "python",
            "-c",
            "import bakery_gateway.serve, bakery_local; print(bakery_gateway.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=installed,
    ).stdout

    assert found.startswith(str(installed.parent))


@pytest.fixture(scope="module")
def server(
    installed: Path,
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    services: StubService,
) -> Iterator[str]:
    """``bakery-gateway serve`` of the fresh virtualenv, in an empty folder, with Redis and keys."""
    empty = tmp_path_factory.mktemp("empty")
    port = free_port()
    environ = {name: value for name, value in os.environ.items() if name not in LOCAL_CONVENIENCES}
    environ |= deployment_environment(redis_server, dev_keys)
    environ[names.service_url_variable("sales")] = service_base_url(services, "sales")
    environ.pop("PYTHONPATH", None)
    log_path = tmp_path_factory.mktemp("log") / "serve.log"
    command = [
        str(installed / "bakery-gateway"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=empty, env=environ, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"serve exited at start-up:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"serve was not healthy within {STARTUP_SECONDS} s:\n{log_path.read_text()}")
        yield url
    finally:
        stop(process, 15)


def test_the_installed_server_answers_health(server: str) -> None:
    assert httpx.get(f"{server}/health", timeout=10).status_code == 200


def test_the_installed_server_proxies_an_authorized_request(
    server: str, dev_keys: DevKeyPair, received: StubService
) -> None:
    token = dev_keys.mint(user_id="wheel-user", tenant_id="tenant-a")

    response = httpx.get(f"{server}/api/v1/sales/items", headers=tenant_headers(token), timeout=10)

    assert response.status_code == 200
    assert received.last_request.header("x-user-id") == "wheel-user"

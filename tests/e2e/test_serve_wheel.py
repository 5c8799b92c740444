"""``bakery-gateway serve`` from the built wheel, in a fresh virtualenv, started in an empty folder.

The wheel is installed without its dependencies; the fresh virtualenv reaches the third-party
packages of the test's own virtualenv through a ``.pth`` line (no download), which adds their folder
to ``sys.path`` without running its ``.pth`` files: the editable install of the checkout stays out,
so every ``bakery_*`` module comes from the wheel. No ``template.yaml`` is anywhere near.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import service_base_url
from tests.e2e.conftest import deployment_environment, tenant_headers
from tests.support.redis_server import RedisEndpoint
from tests.support.standalone_server import standalone
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
    environ = deployment_environment(redis_server, dev_keys)
    environ[names.service_url_variable("sales")] = service_base_url(services, "sales")
    log_path = tmp_path_factory.mktemp("log") / "serve.log"
    with standalone(
        environ,
        log_path,
        "--workers",
        "1",
        program=[str(installed / "bakery-gateway")],
        cwd=tmp_path_factory.mktemp("empty"),
        without=("PYTHONPATH",),  # every bakery_* module from the wheel
        startup_seconds=STARTUP_SECONDS,
    ) as running:
        yield running.url


def test_the_installed_server_answers_health(server: str) -> None:
    assert httpx.get(f"{server}/health", timeout=10).status_code == 200


def test_the_installed_server_proxies_an_authorized_request(
    server: str, dev_keys: DevKeyPair, received: StubService
) -> None:
    token = dev_keys.mint(user_id="wheel-user", tenant_id="tenant-a")

    response = httpx.get(f"{server}/api/v1/sales/items", headers=tenant_headers(token), timeout=10)

    assert response.status_code == 200
    assert received.last_request.header("x-user-id") == "wheel-user"

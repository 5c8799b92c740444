"""The README's walkthrough, as a newcomer runs it: ``make run`` with no configuration at all.

The walkthrough's steps and their answers are shared with the ``sam local start-api`` tier
(``tests.support.walkthrough``); what only the local runtime shows is tested here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakery_local.cli import STATE_DIR_VARIABLE
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.server import PROJECT_ROOT
from tests.e2e.runtime import LOCAL_CONFIGURATION, RunningGateway, local_gateway, run_cli
from tests.support import walkthrough


@pytest.fixture(scope="module")
def state_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def unconfigured_gateway(state_directory: Path) -> Iterator[RunningGateway]:
    with local_gateway(
        {STATE_DIR_VARIABLE: str(state_directory), "LOG_LEVEL": "WARNING"},
        state_directory / "gateway.log",
        unset=LOCAL_CONFIGURATION,
    ) as gateway:
        yield gateway


def mint_with_the_cli(state_directory: Path, *arguments: str) -> str:
    return run_cli(state_directory, "token", *arguments).stdout.strip()


@pytest.fixture(scope="module")
def walker(unconfigured_gateway: RunningGateway, state_directory: Path) -> walkthrough.Walker:
    return walkthrough.Walker(
        url=unconfigured_gateway.url,
        cli_token=lambda *arguments: mint_with_the_cli(state_directory, *arguments),
        keys=DevKeyPair.load_or_create(state_directory),  # the pair the runtime made at start
    )


@pytest.mark.parametrize("step", walkthrough.STEPS, ids=lambda step: step.__name__)
def test_the_readme_walkthrough(walker: walkthrough.Walker, step: walkthrough.Step) -> None:
    step(walker)


def test_the_runtime_says_what_it_started(unconfigured_gateway: RunningGateway) -> None:
    log = unconfigured_gateway.log()

    assert "Redis: embedded (fakeredis)" in log
    assert "development key pair" in log
    assert "built-in echo samples for all 16 services" in log


def test_the_command_the_runtime_prints_for_tokens_works_from_its_directory(
    unconfigured_gateway: RunningGateway, state_directory: Path
) -> None:
    # "mint one with" is followed by the command itself: the runtime's own bakery-gateway, on PATH or not
    line = unconfigured_gateway.log().split("mint one with\n", 1)[1].splitlines()[0].split()

    printed = subprocess.run(  # noqa: S603 - the command the runtime printed, the way a newcomer pastes it
        line,
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", STATE_DIR_VARIABLE: str(state_directory)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert line[1:] == ["token", "--user", "demo-user", "--tenant", "demo-tenant"]
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.count(".") == 2  # a JWT


def test_out_of_the_box_every_service_is_healthy(unconfigured_gateway: RunningGateway) -> None:
    report = httpx.get(f"{unconfigured_gateway.url}/api/v1/health", timeout=10).json()

    unhealthy = {name: check for name, check in report["services"].items() if check["status"] != "healthy"}
    assert (report["status"], unhealthy) == ("healthy", {})
    assert "demo" in report["services"]


def test_a_token_with_tenants_but_no_active_one_sends_no_tenant_header(
    unconfigured_gateway: RunningGateway, state_directory: Path
) -> None:
    token = mint_with_the_cli(state_directory, "--user", "u-4", "--tenants", "a,b")
    headers = {"Authorization": f"Bearer {token}"}

    plain = httpx.get(f"{unconfigured_gateway.url}/api/v1/sales/items", headers=headers).json()
    scoped = httpx.get(f"{unconfigured_gateway.url}/api/v1/tenants/b/orders/1", headers=headers).json()

    assert [name for name, _ in plain["headers"] if name == "x-tenant-id"] == []
    assert [value for name, value in scoped["headers"] if name == "x-tenant-id"] == ["b"]


def test_a_second_runtime_on_the_same_port_says_which_port_and_how_to_choose_another(
    unconfigured_gateway: RunningGateway, state_directory: Path
) -> None:
    port = unconfigured_gateway.url.rsplit(":", 1)[1]

    second = run_cli(state_directory, "local", "--no-reload", "--port", port, check=False)

    assert second.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in second.stderr
    assert "--port" in second.stderr
    assert "Redis:" not in second.stderr  # nothing was started before the port was known to be free

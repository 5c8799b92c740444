"""The README's walkthrough, as a newcomer runs it: no configuration at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakery_local.cli import STATE_DIR_VARIABLE
from tests.e2e.runtime import LOCAL_CONFIGURATION, RunningGateway, local_gateway, run_cli


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


def test_the_runtime_says_what_it_started(unconfigured_gateway: RunningGateway) -> None:
    log = unconfigured_gateway.log()

    assert "Redis: embedded (fakeredis)" in log
    assert "development key pair" in log
    assert "built-in echo samples for all 16 services" in log


def test_a_cli_token_reaches_the_sample_service_with_identity_headers(
    unconfigured_gateway: RunningGateway, state_directory: Path
) -> None:
    token = mint_with_the_cli(state_directory, "--user", "u-1", "--tenant", "bakery-1", "--roles", "owner")

    response = httpx.get(
        f"{unconfigured_gateway.url}/api/v1/sales/items?day=mon&day=tue",
        headers={"Authorization": f"Bearer {token}", "X-User-ID": "someone-else"},
    )

    echo = response.json()
    received = dict((name, value) for name, value in echo["headers"])
    assert echo["service"] == "sales"
    assert echo["query"] == "day=mon&day=tue"
    assert received["x-user-id"] == "u-1"
    assert received["x-tenant-id"] == "bakery-1"
    assert received["x-user-roles"] == "owner"
    assert [value for name, value in echo["headers"] if name == "x-user-id"] == ["u-1"]


def test_after_logout_the_cli_token_is_refused(
    unconfigured_gateway: RunningGateway, state_directory: Path
) -> None:
    token = mint_with_the_cli(state_directory, "--user", "u-2", "--tenant", "bakery-1")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{unconfigured_gateway.url}/api/v1/sales/items", headers=headers).status_code == 200

    assert httpx.post(f"{unconfigured_gateway.url}/api/v1/auth/logout", headers=headers).status_code == 200
    refused = httpx.get(f"{unconfigured_gateway.url}/api/v1/sales/items", headers=headers)

    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"

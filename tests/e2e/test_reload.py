"""Handler code changes are picked up without a restart, and the local state survives them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakery_local.cli import STATE_DIR_VARIABLE
from tests.e2e.runtime import LOCAL_CONFIGURATION, RunningGateway, local_gateway, run_cli

FUNCTIONS_DIRECTORY = Path(__file__).resolve().parents[2] / "functions" / "proxy"
RELOAD_SECONDS = 20


@pytest.fixture
def reloading_gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    environ = {STATE_DIR_VARIABLE: str(tmp_path), "LOG_LEVEL": "WARNING"}
    with local_gateway(environ, tmp_path / "gateway.log", unset=LOCAL_CONFIGURATION, reload=True) as gateway:
        yield gateway


@pytest.fixture
def changed_handler_code() -> Iterator[Path]:
    """A new module beside the proxy handler: a code change the runtime must notice."""
    probe = FUNCTIONS_DIRECTORY / f"_reload_probe_{uuid.uuid4().hex[:8]}.py"
    yield probe
    probe.unlink(missing_ok=True)


def wait_for_new_process(gateway: RunningGateway) -> None:
    """A restarted gateway process starts its invocation counts from zero."""
    deadline = time.monotonic() + RELOAD_SECONDS
    while time.monotonic() < deadline:
        try:
            if gateway.status()["authorizer_invocations"] == 0:
                return
        except httpx.TransportError:
            pass  # between the old process and the new one
        time.sleep(0.2)
    raise AssertionError(f"the gateway did not restart within {RELOAD_SECONDS} s:\n{gateway.log()}")


def test_a_code_change_restarts_the_gateway_and_keeps_redis_keys_and_services(
    reloading_gateway: RunningGateway, changed_handler_code: Path, tmp_path: Path
) -> None:
    # GIVEN a token that worked, and one logged out before the change
    kept = run_cli(tmp_path, "token", "--user", "u-kept", "--tenant", "bakery-1").stdout.strip()
    revoked = run_cli(tmp_path, "token", "--user", "u-gone", "--tenant", "bakery-1").stdout.strip()
    url = f"{reloading_gateway.url}/api/v1/sales/items"
    assert httpx.get(url, headers={"Authorization": f"Bearer {kept}"}).status_code == 200
    assert httpx.post(
        f"{reloading_gateway.url}/api/v1/auth/logout", headers={"Authorization": f"Bearer {revoked}"}
    ).is_success
    assert reloading_gateway.status()["authorizer_invocations"] == 2

    # WHEN handler code changes
    changed_handler_code.write_text('"""A change the local runtime must pick up."""\n')
    wait_for_new_process(reloading_gateway)

    # THEN the new process serves with the same keys, services and Redis (the revocation is still there)
    assert httpx.get(url, headers={"Authorization": f"Bearer {kept}"}).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {revoked}"}).status_code == 401

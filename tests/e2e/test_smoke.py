"""The deployed-stack smoke test (``make smoke``), run against the local runtime so it is known to work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bakery_local.cli import STATE_DIR_VARIABLE
from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.runtime import RunningGateway

ROOT = Path(__file__).resolve().parents[2]
TENANT = "tenant-a"  # a paying tenant (tests.conftest.PAYING_TENANTS)


def smoke(url: str, environ: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m tests.smoke.smoke URL`` as ``make smoke`` runs it, in its own process."""
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-m", "tests.smoke.smoke", url, "--stream-seconds", "15", *arguments],
        cwd=ROOT,
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_smoke_test_passes_against_a_working_gateway(
    gateway: RunningGateway, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="smoke-user", tenant_id=TENANT, tenant_ids=[TENANT])

    result = smoke(gateway.url, {"SMOKE_TOKEN": token})

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "PASS  health",
        "PASS  no token refused",
        "PASS  authenticated call",
        "PASS  alert stream",
    ]


def test_the_smoke_test_fails_when_the_gateway_refuses_its_token(
    gateway: RunningGateway, second_dev_keys: DevKeyPair
) -> None:
    stranger = second_dev_keys.mint(user_id="smoke-user", tenant_id=TENANT, tenant_ids=[TENANT])

    result = smoke(gateway.url, {"SMOKE_TOKEN": stranger})

    assert result.returncode == 1
    assert "FAIL  authenticated call: GET /api/v1/tenants/tenant-a -> 401" in result.stdout
    assert "FAIL  alert stream: 401" in result.stdout


def test_without_a_token_the_smoke_test_fails_and_says_how_to_give_one(
    gateway: RunningGateway, tmp_path: Path
) -> None:
    # An empty state directory: no development key to mint one with.
    environ = {STATE_DIR_VARIABLE: str(tmp_path), "SMOKE_TOKEN": ""}

    result = smoke(gateway.url, environ)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        result.stdout.splitlines()[0],
        "FAIL  token: none: pass --token or set SMOKE_TOKEN (an access token)",
    ]
    assert result.stdout.startswith("PASS  health")

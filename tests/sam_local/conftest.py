"""The ``sam local`` tier: template.yaml under ``sam local start-api`` in Docker.

One gateway for the session, started by the code ``make sam-local`` runs (``bakery_local.sam_local``):
Docker (``dockerd`` started when it is not running, and stopped at the end if it was started here),
the stand-in Lambda image (built when missing), ``sam build``, Redis and the sample services on the
Docker bridge, the development key pair in a folder of the session's own. Where Docker cannot run
(or the image cannot be built: it needs root), the tier is skipped saying why; with ``CI=true`` it
fails instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakery_local.redis_server import free_port
from bakery_local.sam_local.api import SamLocalApi, SamLocalOptions, start_api
from bakery_local.sam_local.docker_daemon import DockerUnavailableError
from bakery_local.sam_local.lambda_image import ImageBuildError
from tests.e2e.runtime import run_cli
from tests.support.walkthrough import Walker

HERE = Path(__file__).resolve().parent
# Per test, fixtures included: the first test pays for the session's start (an image build on a new
# machine: about a minute; sam build: 20-80 s).
TEST_TIMEOUT_SECONDS = 900
SSE_WAIT_SECONDS = 20  # the long poll's wait (the default): room for a publish to land in it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def sam_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's state folder: its development key pair, the --env-vars file, every log."""
    return tmp_path_factory.mktemp("sam-local")


@pytest.fixture(scope="session")
def sam_api(sam_state: Path) -> Iterator[SamLocalApi]:
    options = SamLocalOptions(
        state_dir=sam_state,
        port=free_port(),
        settings={"LOG_LEVEL": "WARNING", "SSE_WAIT_SECONDS": str(SSE_WAIT_SECONDS)},
        sam_log=sam_state / "sam.log",
        environ={name: value for name, value in os.environ.items() if not name.endswith("_SERVICE_URL")},
    )
    with contextlib.ExitStack() as stack:
        try:
            api = stack.enter_context(start_api(options, say=lambda line: print(line, flush=True)))
        except (DockerUnavailableError, ImageBuildError) as error:
            if os.environ.get("CI") == "true":
                pytest.fail(f"the sam local tier must run in CI, but it cannot: {error}", pytrace=False)
            pytest.skip(f"sam local cannot run here: {error}")
        yield api


@pytest.fixture(scope="session")
def walker(sam_api: SamLocalApi, sam_state: Path) -> Walker:
    from bakery_local.dev_tokens import DevKeyPair

    return Walker(
        url=sam_api.url,
        cli_token=lambda *arguments: run_cli(sam_state, "token", *arguments).stdout.strip(),
        keys=DevKeyPair.load_or_create(sam_state),
        timeout=60.0,
    )

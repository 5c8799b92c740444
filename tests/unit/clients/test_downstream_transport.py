"""DOWNSTREAM_HTTP_TRANSPORT: which pool carries the downstream client, and what it costs at cold start."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from bakery_gateway.clients.aiohttp_transport import AiohttpTransport
from bakery_gateway.clients.factories import http_client_factory
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import Settings


def test_aiohttp_carries_the_downstream_client_by_default() -> None:
    assert Settings.from_environ({}).downstream_http_transport == "aiohttp"


@pytest.mark.parametrize(
    ("value", "transport"), [("httpx", "httpx"), ("AIOHTTP", "aiohttp"), ("HttpX", "httpx")]
)
def test_the_transport_is_read_whatever_its_case(value: str, transport: str) -> None:
    settings = Settings.from_environ({"DOWNSTREAM_HTTP_TRANSPORT": value})

    assert settings.downstream_http_transport == transport


@pytest.mark.parametrize("value", ["requests", "aiohttp,httpx", "h2"])
def test_an_unknown_transport_fails_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^DOWNSTREAM_HTTP_TRANSPORT:"):
        Settings.from_environ({"DOWNSTREAM_HTTP_TRANSPORT": value})


@pytest.mark.parametrize(
    ("setting", "transport"), [("aiohttp", AiohttpTransport), ("httpx", httpx.AsyncHTTPTransport)]
)
async def test_the_setting_chooses_the_clients_transport(setting: str, transport: type) -> None:
    client = http_client_factory(Settings(downstream_http_transport=setting))()

    assert isinstance(client._transport, transport)
    await client.aclose()


def test_loading_the_proxy_handler_imports_no_aiohttp() -> None:
    # aiohttp costs ~95 ms of CPU to import: the first client pays it, not the cold start.
    code = "import sys, bakery_functions.proxy.app; print('aiohttp' in sys.modules)"

    result = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert result.stdout.strip() == "False"

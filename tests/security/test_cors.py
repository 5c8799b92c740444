"""CORS: an origin that is not configured is never echoed, and credentials are allowed only to the
configured ones. API Gateway answers CORS from ``CorsConfiguration`` (template.yaml); the local runtime
plays it, so these run against the runtime over real sockets."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.runtime import RunningGateway
from tests.security.conftest import ALLOWED_ORIGIN
from tests.support.stub_service import StubService

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
PATH = "/api/v1/sales/orders"
STRANGERS = [
    "https://evil.example",
    "null",
    "http://app.bakery.example",  # another scheme
    "https://app.bakery.example:8443",  # another port
    "https://app.bakery.example.evil.example",  # the allowed one as a prefix
    "https://evilapp.bakery.example",  # as a suffix
    "https://APP.BAKERY.EXAMPLE.evil.example",
    ALLOWED_ORIGIN + "/",
]


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


def preflight(runtime: RunningGateway, origin: str) -> httpx.Response:
    return httpx.options(
        runtime.url + PATH,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "authorization, x-tenant-id",
        },
        timeout=10,
    )


@pytest.mark.parametrize("origin", STRANGERS)
def test_a_preflight_from_an_origin_not_configured_gets_no_cors_headers(
    runtime: RunningGateway, received: StubService, origin: str
) -> None:
    response = preflight(runtime, origin)

    assert cors_headers(response) == {}
    assert received.requests == []


@pytest.mark.parametrize("origin", STRANGERS)
def test_a_request_from_an_origin_not_configured_gets_no_cors_headers(
    runtime: RunningGateway, received: StubService, token: str, origin: str
) -> None:
    response = httpx.get(
        runtime.url + PATH, headers={"Origin": origin, "Authorization": f"Bearer {token}"}, timeout=10
    )

    assert response.status_code == 200
    assert cors_headers(response) == {}


def test_the_configured_origin_gets_itself_and_credentials(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    response = httpx.get(
        runtime.url + PATH, headers={"Origin": ALLOWED_ORIGIN, "Authorization": f"Bearer {token}"}, timeout=10
    )

    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "origin" in response.headers["vary"].lower()


def test_a_services_own_cors_headers_never_reach_a_stranger(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    # As API Gateway does when CORS is configured: the integration's CORS headers are ignored.
    received.reply(
        200,
        [
            ("Access-Control-Allow-Origin", "https://evil.example"),
            ("Access-Control-Allow-Credentials", "true"),
        ],
        b"{}",
    )

    response = httpx.get(
        runtime.url + PATH,
        headers={"Origin": "https://evil.example", "Authorization": f"Bearer {token}"},
        timeout=10,
    )

    assert cors_headers(response) == {}


def test_the_template_refuses_a_wildcard_origin() -> None:
    """``*`` with credentials would let every site read answers with the user's cookies."""
    text = TEMPLATE.read_text()
    block = text[text.index("  CorsOrigins:") :]
    pattern = re.search(r"AllowedPattern: (\S+)", block)
    assert pattern is not None

    allowed = re.compile(pattern.group(1))

    assert allowed.fullmatch("https://app.bakery.example,https://admin.bakery.example")
    for refused in ("*", "https://*", "http://*", "https://*.bakery.example", "https://a.example,*", "null"):
        assert not allowed.fullmatch(refused), refused

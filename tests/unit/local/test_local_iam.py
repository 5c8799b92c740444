"""The local runtime's stand-in for IAM authorization: loopback callers only."""

from __future__ import annotations

import asyncio
import json

import pytest

from bakery_gateway.serve.answers import is_loopback
from bakery_local.iam import iam_refusal
from bakery_local.template import RouteSpec

IAM_ROUTE = RouteSpec("POST", "/internal/alerts", "FanoutFunction", None, iam=True)
PUBLIC_ROUTE = RouteSpec("GET", "/health", "ProxyFunction", None)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "[::1]"])
def test_loopback_addresses_are_loopback(address: str) -> None:
    assert is_loopback(address)


@pytest.mark.parametrize(
    "address", ["192.168.1.20", "10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "", "testclient"]
)
def test_other_addresses_are_not(address: str) -> None:
    assert not is_loopback(address)


def test_an_iam_route_called_from_this_machine_goes_on() -> None:
    assert iam_refusal(IAM_ROUTE, "127.0.0.1") is None


def test_an_iam_route_called_from_elsewhere_is_forbidden_as_api_gateway_answers() -> None:
    refusal = iam_refusal(IAM_ROUTE, "192.168.1.20")

    assert refusal is not None
    status, _, body = refusal
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_a_route_without_iam_is_not_its_business() -> None:
    assert iam_refusal(PUBLIC_ROUTE, "192.168.1.20") is None


def test_the_local_gateway_refuses_the_internal_alert_route_to_another_machine_without_invoking() -> None:
    from bakery_local.gateway import LocalHttpApi
    from bakery_local.invoker import Invoker
    from bakery_local.template import read_http_api
    from tests.unit.template.test_template import TEMPLATE

    api = read_http_api(TEMPLATE, environ={})
    invoker = Invoker(api.functions, workers=1)
    gateway = LocalHttpApi(api, invoker)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/internal/alerts",
        "raw_path": b"/internal/alerts",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("192.0.2.10", 50000),
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    try:
        asyncio.run(gateway(scope, receive, send))  # type: ignore[arg-type]
    finally:
        invoker.close()

    assert sent[0]["status"] == 403
    assert sent[1]["body"] == b'{"message": "Forbidden"}'
    assert invoker.invocations["FanoutFunction"] == 0

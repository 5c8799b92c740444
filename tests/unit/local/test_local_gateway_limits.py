"""The local HTTP API's Lambda quotas, in process with a faked function: what ``bakery-gateway local``
refuses as the cloud would, and what ``serve`` (no Lambda behind it) lets through.

Every function of the template answers within Lambda's 6 MB itself (the proxy answers a 502 problem
instead: tests/integration/forwarding/test_platform_limits.py), so the runtime's own check of a result is
reached only with a function that does not; the tier over real sockets is tests/e2e/test_platform_limits.py.
"""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest

from bakery_gateway.api.platform_limits import LAMBDA_RESPONSE_PAYLOAD_BYTES, invocation_payload_bytes
from bakery_local.gateway import LocalHttpApi
from bakery_local.invoker import FunctionInvoker
from bakery_local.template import HttpApiSpec, RouteSpec

API = HttpApiSpec(routes=(RouteSpec("ANY", "/{proxy+}", "Function", None),), authorizers={}, cors=None)


class SizedFunction:
    """Answers a text body of the size the path names (``/answer/{bytes}``) as its JSON result."""

    def __init__(self) -> None:
        self.invocations: dict[str, int] = {"Function": 0}

    async def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        self.invocations[logical_id] += 1
        size = int(event["rawPath"].rpartition("/")[2])
        envelope = {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": ""}
        return {**envelope, "body": "x" * (size - invocation_payload_bytes(envelope))}

    def close(self) -> None:
        pass


def client(function: SizedFunction, *, lambda_quotas: bool) -> httpx.AsyncClient:
    gateway = LocalHttpApi(API, cast(FunctionInvoker, function), lambda_quotas=lambda_quotas)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gateway")


@pytest.mark.parametrize(
    ("size", "status"), [(LAMBDA_RESPONSE_PAYLOAD_BYTES, 200), (LAMBDA_RESPONSE_PAYLOAD_BYTES + 1, 500)]
)
async def test_local_answers_a_result_over_lambdas_6_mb_with_api_gateways_500(size: int, status: int) -> None:
    async with client(SizedFunction(), lambda_quotas=True) as local:
        response = await local.get(f"/answer/{size}")

    assert response.status_code == status
    if status == 500:
        assert response.json() == {"message": "Internal Server Error"}


async def test_serve_returns_a_result_over_lambdas_6_mb_whole() -> None:
    async with client(SizedFunction(), lambda_quotas=False) as serve:
        response = await serve.get(f"/answer/{LAMBDA_RESPONSE_PAYLOAD_BYTES + 1}")

    assert response.status_code == 200


async def test_serve_takes_an_event_over_lambdas_6_mb_and_headers_over_http_apis_10240_bytes() -> None:
    function = SizedFunction()
    async with client(function, lambda_quotas=False) as serve:
        response = await serve.post(
            "/answer/100", content=bytes(5 * 1024 * 1024), headers={"x-padding": "p" * 20_000}
        )

    assert response.status_code == 200
    assert function.invocations == {"Function": 1}

"""The local HTTP API's Lambda quotas, in process with a faked function: what ``bakery-gateway local``
refuses as the cloud would (what ``serve``, no Lambda behind it, lets through: tests/unit/serve/test_app.py).

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


def client(function: SizedFunction) -> httpx.AsyncClient:
    gateway = LocalHttpApi(API, cast(FunctionInvoker, function))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gateway")


@pytest.mark.parametrize(
    ("size", "status"), [(LAMBDA_RESPONSE_PAYLOAD_BYTES, 200), (LAMBDA_RESPONSE_PAYLOAD_BYTES + 1, 500)]
)
async def test_local_answers_a_result_over_lambdas_6_mb_with_api_gateways_500(size: int, status: int) -> None:
    async with client(SizedFunction()) as local:
        response = await local.get(f"/answer/{size}")

    assert response.status_code == status
    if status == 500:
        assert response.json() == {"message": "Internal Server Error"}

"""/docs, /openapi.json and the aggregated /api/v1/openapi.json through the proxy function.

Two services serve their own OpenAPI documents over HTTP; a third is down. Real Redis caches the
aggregate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from bakery_gateway import constants as names
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway
from tests.support.stub_service import StubService


def openapi_of(title: str, path: str, schema: dict[str, Any]) -> bytes:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ("tenant_id",)
        if "{" + name + "}" in path
    ]
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": title, "version": "2.3.0"},
            "paths": {
                path: {
                    "get": {
                        "operationId": "list",
                        "parameters": parameters,
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                                },
                            }
                        },
                    }
                }
            },
            "components": {"schemas": {"Item": schema}},
        }
    ).encode()


def serving(document: bytes) -> Iterator[StubService]:
    with StubService() as stub:
        stub.reply(200, [("Content-Type", "application/json")], document)
        yield stub


@pytest.fixture
def sales() -> Iterator[StubService]:
    yield from serving(openapi_of("Sales", "/api/v1/tenants/{tenant_id}/sales", {"type": "string"}))


@pytest.fixture
def orders() -> Iterator[StubService]:
    yield from serving(openapi_of("Orders", "/orders", {"type": "integer"}))


@pytest.fixture
def gateway(
    start_gateway: GatewayStarter, sales: StubService, orders: StubService, closed_port: int
) -> LambdaGateway:
    overrides = {names.service_url_variable(service): "" for service in names.SERVICES}
    overrides[names.service_url_variable("sales")] = sales.url
    overrides[names.service_url_variable("orders")] = orders.url
    overrides[names.service_url_variable("pos")] = f"http://127.0.0.1:{closed_port}"
    return start_gateway(**overrides, API_DOCS_TIMEOUT_SECONDS="0.5")


def document_fetches(stub: StubService) -> int:
    return sum(1 for request in stub.requests if request.path == "/openapi.json")


def test_the_gateway_document_is_public_and_valid(gateway: LambdaGateway) -> None:
    response = gateway.request("GET", "/openapi.json")

    assert response.status == 200
    validate(response.json())
    assert "Problem" in response.json()["components"]["schemas"]


def test_the_docs_page_is_public(gateway: LambdaGateway) -> None:
    response = gateway.request("GET", "/docs")

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.body.decode()


def test_the_aggregate_merges_every_reachable_service_and_names_the_others(gateway: LambdaGateway) -> None:
    response = gateway.request("GET", "/api/v1/openapi.json")

    assert response.status == 200
    document = response.json()
    validate(document)
    assert "/api/v1/tenants/{tenant_id}/sales" in document["paths"]
    assert "/api/v1/orders/orders" in document["paths"]
    assert "/api/v1/health" in document["paths"]  # the gateway's own routes too
    assert document["x-unavailable-services"] == {"pos": "unreachable"}


def test_colliding_schemas_are_prefixed_by_service(gateway: LambdaGateway) -> None:
    schemas = gateway.request("GET", "/api/v1/openapi.json").json()["components"]["schemas"]

    assert schemas["Item"] == {"type": "integer"}  # orders, merged first
    assert schemas["sales_Item"] == {"type": "string"}


def test_the_aggregate_is_cached_and_shared(
    gateway: LambdaGateway, start_gateway: GatewayStarter, sales: StubService, orders: StubService
) -> None:
    first = gateway.request("GET", "/api/v1/openapi.json")

    second = gateway.request("GET", "/api/v1/openapi.json")

    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    assert (document_fetches(sales), document_fetches(orders)) == (1, 1)


def test_a_service_with_an_invalid_document_is_named(gateway: LambdaGateway, orders: StubService) -> None:
    orders.reply(200, [("Content-Type", "application/json")], b'{"swagger": "2.0"}')

    document = gateway.request("GET", "/api/v1/openapi.json").json()

    assert document["x-unavailable-services"]["orders"] == "not an OpenAPI 3 document"
    assert "/api/v1/orders/orders" not in document["paths"]


def test_without_redis_the_aggregate_is_still_served(
    start_gateway: GatewayStarter, sales: StubService, closed_port: int
) -> None:
    overrides = {names.service_url_variable(service): "" for service in names.SERVICES}
    overrides[names.service_url_variable("sales")] = sales.url
    gateway = start_gateway(**overrides, REDIS_PORT=str(closed_port), REDIS_TIMEOUT_SECONDS="0.2")

    response = gateway.request("GET", "/api/v1/openapi.json")

    assert response.status == 200
    assert response.headers["x-cache"] == "unavailable"
    assert "/api/v1/tenants/{tenant_id}/sales" in response.json()["paths"]

"""own_routes/api_docs.py: the gateway's OpenAPI document, the /docs page, and the merge of services'
documents."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from openapi_spec_validator import validate

from bakery_gateway.api.routes import PUBLIC_ROUTE_KEYS
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE
from bakery_gateway.own_routes import api_docs
from bakery_gateway.own_routes.app import create_app
from bakery_gateway.settings import Settings

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture
def app() -> FastAPI:
    unused: PerEventLoop[Any] = PerEventLoop(lambda: None)
    return create_app(Settings(), redis_clients=unused, http_clients=unused, blocking_redis_clients=unused)


@pytest.fixture
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@pytest.fixture
def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in api_docs.HTTP_METHODS:
                yield path, method, operation


def test_the_gateway_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)

    assert document["openapi"].startswith("3.")


def test_the_problem_schema_has_the_rfc_9457_members_and_invalid_params(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]

    assert set(problem["properties"]) == {"type", "title", "status", "detail", "instance", "invalid_params"}
    assert problem["additionalProperties"] is True


def test_every_operation_answers_its_errors_as_problems(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]

    for _, _, operation in operations(document):
        for status in ("400", "429", "5XX"):
            name = operation["responses"][status]["$ref"].rsplit("/", 1)[1]
            assert responses[name]["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"] == PROBLEM_REF
        assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_bearer_jwt_scheme_guards_every_route_but_the_public_ones(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["security"] == [{"bearerAuth": []}]
    for path, method, operation in operations(document):
        if f"{method.upper()} {path}" in PUBLIC_ROUTE_KEYS:
            assert operation["security"] == []
        else:
            assert operation["responses"]["401"]["$ref"] == "#/components/responses/Unauthorized"


def test_the_alert_stream_also_accepts_the_token_query_parameter(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/alerts/stream"]["get"]

    scheme = document["components"]["securitySchemes"]["queryToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "query", "token")
    assert operation["security"] == [{"bearerAuth": []}, {"queryToken": []}]
    assert "text/event-stream" in operation["responses"]["200"]["content"]


def test_the_proxied_routes_are_described_generically(document: dict[str, Any]) -> None:
    proxied = document["paths"]["/api/v1/{service}/{path}"]

    assert set(proxied) >= {"get", "post", "put", "patch", "delete", "parameters"}
    assert "sales" in proxied["parameters"][0]["schema"]["enum"]
    assert "/api/v1/tenants/{tenant_id}/{service}/{path}" in document["paths"]


def test_the_document_is_made_once_per_container(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    original = get_openapi

    def counting(**kwargs: Any) -> dict[str, Any]:
        made.append(1)
        return original(**kwargs)

    monkeypatch.setattr(api_docs, "get_openapi", counting)

    assert app.openapi() is app.openapi()
    assert made == [1]


async def test_openapi_json_serves_the_completed_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    assert "Problem" in response.json()["components"]["schemas"]


async def test_the_docs_page_shows_the_aggregated_document_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "url: 'api/v1/openapi.json'" in response.text


async def test_the_docs_page_shows_the_gateways_own_document_on_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs", params={"document": "gateway"})

    assert "url: 'openapi.json'" in response.text


# --- merging services' documents ----------------------------------------------------------------
def service_document(title: str, item_schema: dict[str, Any], path: str = "/items") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0"},
        "paths": {
            path: {
                "get": {
                    "operationId": "list_items",
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
        "components": {"schemas": {"Item": item_schema, "Shared": {"type": "string"}}},
    }


SALES_ITEM = {"type": "object", "properties": {"sku": {"type": "string"}}}
ORDERS_ITEM = {"type": "object", "properties": {"order_id": {"type": "integer"}}}


def test_a_services_paths_appear_under_its_gateway_prefix(document: dict[str, Any]) -> None:
    merged = api_docs.merge(document, {"sales": service_document("Sales", SALES_ITEM)}, {})

    assert "/api/v1/sales/items" in merged["paths"]
    operation = merged["paths"]["/api/v1/sales/items"]["get"]
    assert operation["tags"] == ["sales"]
    assert operation["operationId"] == "sales_list_items"


def test_a_path_already_under_api_v1_is_kept_as_the_gateway_forwards_it(document: dict[str, Any]) -> None:
    sales = service_document("Sales", SALES_ITEM, path="/api/v1/tenants/{tenant_id}/sales/items")

    merged = api_docs.merge(document, {"sales": sales}, {})

    assert "/api/v1/tenants/{tenant_id}/sales/items" in merged["paths"]


def test_colliding_schema_names_are_prefixed_by_service_and_refs_follow(document: dict[str, Any]) -> None:
    documents = {
        "orders": service_document("Orders", ORDERS_ITEM),
        "sales": service_document("Sales", SALES_ITEM),
    }

    merged = api_docs.merge(document, documents, {})

    schemas = merged["components"]["schemas"]
    assert schemas["Item"] == ORDERS_ITEM
    assert schemas["sales_Item"] == SALES_ITEM
    ref = merged["paths"]["/api/v1/sales/items"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ref["schema"]["$ref"] == "#/components/schemas/sales_Item"
    assert "sales_Shared" not in schemas  # identical definitions are shared, not copied


def test_unavailable_services_are_named_with_the_reason(document: dict[str, Any]) -> None:
    merged = api_docs.merge(document, {}, {"sales": "timeout", "orders": "not an OpenAPI 3 document"})

    assert merged["x-unavailable-services"] == {"orders": "not an OpenAPI 3 document", "sales": "timeout"}


def test_the_merged_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    documents = {
        "orders": service_document("Orders", ORDERS_ITEM),
        "sales": service_document("Sales", SALES_ITEM),
    }

    merged = api_docs.merge(document, documents, {"pos": "unreachable"})

    validate(merged)


def test_merging_leaves_the_gateway_document_untouched(document: dict[str, Any]) -> None:
    before = copy.deepcopy(document)

    api_docs.merge(document, {"sales": service_document("Sales", SALES_ITEM)}, {})

    assert document == before


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(500), "answered 500"),
        (httpx.Response(200, text="<html>"), "not JSON"),
        (httpx.Response(200, json={"swagger": "2.0", "paths": {}}), "not an OpenAPI 3 document"),
    ],
)
async def test_a_service_without_a_usable_document_says_why(answer: httpx.Response, reason: str) -> None:
    transport = httpx.MockTransport(lambda request: answer)
    async with httpx.AsyncClient(transport=transport) as client:
        assert await api_docs.fetch_document(client, "http://sales", 1.0) == reason

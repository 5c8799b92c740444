"""API documentation: ``/docs``, the gateway's ``/openapi.json``, and every service's in one document.

The gateway's document is FastAPI's, post-processed once per container on first request (never at
cold start): the ``Problem`` schema on every error response, the bearer JWT security scheme (and the
alert stream's ``?token=``), the proxied catch-all described generically. ``/api/v1/openapi.json``
merges each configured service's own ``/openapi.json`` into it, cached in Redis. See docs/api-docs.md.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response

from bakery_gateway import bounded_json
from bakery_gateway.api.routes import AGGREGATE_OPENAPI_PATH, API_PREFIX, DOCS_PATH, OPENAPI_PATH
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE, SERVICES
from bakery_gateway.own_routes.health import iso_timestamp
from bakery_gateway.telemetry.observability import REDIS_ERRORS

if TYPE_CHECKING:
    import httpx

    from bakery_gateway.clients.factories import PerEventLoop
    from bakery_gateway.settings import Settings

DOCS_QUERY: Final = "document"  # /docs?document=gateway: the gateway's own routes only
SERVICE_OPENAPI_PATH: Final = "/openapi.json"
BEARER_SCHEME: Final = "bearerAuth"
QUERY_TOKEN_SCHEME: Final = "queryToken"  # noqa: S105 - a scheme name, not a secret
UNAVAILABLE_EXTENSION: Final = "x-unavailable-services"
HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROXIED_METHODS: Final = ("get", "post", "put", "patch", "delete")
JSON_TYPE: Final = "application/json"
EVENT_STREAM_TYPE: Final = "text/event-stream"

PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": "RFC 9457 problem details; every error the gateway itself produces.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Identifies the kind of problem"},
        "title": {"type": "string", "description": "Short summary of the kind of problem"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong with this request"},
        "instance": {"type": "string", "description": "The request id (also in X-Request-ID)"},
        "invalid_params": {
            "type": "array",
            "description": "The request's invalid parameters, each with the reason",
            "items": {
                "type": "object",
                "required": ["name", "reason"],
                "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}


def _problem_response(description: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
        }
    return response


PROBLEM_RESPONSES: Final[dict[str, dict[str, Any]]] = {
    "BadRequest": _problem_response("The request is malformed"),
    "Unauthorized": _problem_response(
        "Missing, invalid, expired or revoked access token",
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    ),
    "Forbidden": _problem_response("Tenant, role, subscription, read-only or demo rules refuse it"),
    "TooManyRequests": _problem_response(
        "A rate limit is exceeded",
        {"Retry-After": "Seconds to wait", "RateLimit": "Remaining budget", "RateLimit-Policy": "The limit"},
    ),
    "ServerError": _problem_response("The gateway or a service failed (502, 503, 504)"),
}
ERROR_RESPONSES: Final = {"400": "BadRequest", "429": "TooManyRequests", "5XX": "ServerError"}
AUTHENTICATED_ERROR_RESPONSES: Final = {"401": "Unauthorized", "403": "Forbidden"}


# --- the gateway's document ------------------------------------------------------------------------
def gateway_document(
    app: FastAPI, *, public_route_keys: Iterable[str], event_stream_paths: Iterable[str] = ()
) -> dict[str, Any]:
    """FastAPI's document of ``app``, completed (see ``complete``)."""
    base = get_openapi(
        title=app.title,
        version=app.version,
        description="The Bakery-IA API gateway's own routes, and the routes it forwards to services.",
        routes=app.routes,
    )
    return complete(base, public_route_keys=public_route_keys, event_stream_paths=event_stream_paths)


def complete(
    document: Mapping[str, Any], *, public_route_keys: Iterable[str], event_stream_paths: Iterable[str] = ()
) -> dict[str, Any]:
    """Problem schema and responses, security schemes, and the proxied routes, added to ``document``."""
    public = frozenset(public_route_keys)
    event_streams = frozenset(event_stream_paths)
    result = copy.deepcopy(dict(document))
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = copy.deepcopy(PROBLEM_SCHEMA)
    components.setdefault("responses", {}).update(copy.deepcopy(PROBLEM_RESPONSES))
    components["securitySchemes"] = {
        BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        QUERY_TOKEN_SCHEME: {
            "type": "apiKey",
            "in": "query",
            "name": "token",
            "description": "The access token as ?token=, for EventSource clients that cannot set headers",
        },
    }
    result["security"] = [{BEARER_SCHEME: []}]
    paths = result.setdefault("paths", {})
    paths.update(proxied_paths(public))
    for path, item in paths.items():
        for method, operation in _operations(item):
            is_public = f"{method.upper()} {path}" in public
            if is_public:
                operation["security"] = []
            elif path in event_streams:
                # EventSource cannot set headers: the token may come as ?token= (the authorizer).
                operation["security"] = [{BEARER_SCHEME: []}, {QUERY_TOKEN_SCHEME: []}]
                operation.setdefault("responses", {})["200"] = {
                    "description": "Server-sent events (docs/sse.md)",
                    "content": {EVENT_STREAM_TYPE: {"schema": {"type": "string"}}},
                }
            responses = operation.setdefault("responses", {})
            # The gateway answers a malformed request 400 with a problem, never FastAPI's 422.
            responses.pop("422", None)
            errors = ERROR_RESPONSES if is_public else {**AUTHENTICATED_ERROR_RESPONSES, **ERROR_RESPONSES}
            for status, name in errors.items():
                responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
    _drop_unused_validation_schemas(result)
    return result


def _operations(item: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(item, dict):
        return []
    return [(method, op) for method, op in item.items() if method in HTTP_METHODS and isinstance(op, dict)]


def _drop_unused_validation_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    text = json.dumps(document)
    if "#/components/schemas/ValidationError" in text or "#/components/schemas/HTTPValidationError" in text:
        raise AssertionError("a route still refers to FastAPI's validation error schemas")


def proxied_paths(public_route_keys: frozenset[str]) -> dict[str, Any]:
    """The catch-all routes, described generically: every service's own routes are in its document."""
    public = sorted(key for key in public_route_keys if key.split(" ", 1)[1].startswith(API_PREFIX))
    description = (
        "Forwarded to the service named by the path, unchanged (headers, body, status); the gateway "
        "adds X-User-ID, X-Tenant-ID, X-User-Roles and X-Request-ID. Public without a token: "
        + ", ".join(public)
        + ". The services' own routes are in the aggregated document, "
        + AGGREGATE_OPENAPI_PATH
        + "."
    )
    service = {
        "name": "service",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(SERVICES)},
    }
    rest = {
        "name": "path",
        "in": "path",
        "required": True,
        "description": "The rest of the path, slashes included",
        "schema": {"type": "string"},
    }
    tenant = {"name": "tenant_id", "in": "path", "required": True, "schema": {"type": "string"}}

    def operations(prefix: str) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for method in PROXIED_METHODS:
            operation: dict[str, Any] = {
                "tags": ["proxied"],
                "summary": "Forward to a service",
                "description": description,
                "operationId": f"{prefix}_{method}",
                "responses": {"default": {"description": "The service's answer, passed back unchanged"}},
            }
            if method in ("post", "put", "patch"):
                operation["requestBody"] = {"required": False, "content": {"*/*": {"schema": {}}}}
            item[method] = operation
        return item

    return {
        "/api/v1/{service}/{path}": {"parameters": [service, rest], **operations("proxy")},
        "/api/v1/tenants/{tenant_id}/{service}/{path}": {
            "parameters": [tenant, service, rest],
            **operations("tenant_proxy"),
        },
    }


# --- the aggregated document -----------------------------------------------------------------------
async def fetch_document(
    client: httpx.AsyncClient, base_url: str, timeout_seconds: float
) -> dict[str, Any] | str:
    """A service's OpenAPI 3 document, or why there is none."""
    import httpx

    try:
        async with asyncio.timeout(timeout_seconds):
            response = await client.get(base_url + SERVICE_OPENAPI_PATH, timeout=timeout_seconds)
    except (TimeoutError, httpx.TimeoutException):
        return "timeout"
    except httpx.TransportError as error:
        return "unreachable" if isinstance(error, httpx.ConnectError) else "invalid response"
    if response.status_code != 200:
        return f"answered {response.status_code}"
    try:
        document = bounded_json.loads(
            response.content,
            max_bytes=bounded_json.SERVICE_ANSWER_BYTES,
            max_depth=bounded_json.SERVICE_ANSWER_DEPTH,
        )
    except ValueError:
        return "not JSON"
    if (
        not isinstance(document, dict)
        or not str(document.get("openapi", "")).startswith("3.")
        or not isinstance(document.get("paths"), dict)
    ):
        return "not an OpenAPI 3 document"
    return document


def merge(
    base: Mapping[str, Any], documents: Mapping[str, Mapping[str, Any]], unavailable: Mapping[str, str]
) -> dict[str, Any]:
    """``base`` plus each service's paths under the gateway's path, its components renamed on collision."""
    merged = copy.deepcopy(dict(base))
    paths = merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    tags = merged.setdefault("tags", [])
    for service in sorted(documents):
        document = documents[service]
        renames: dict[tuple[str, str], str] = {}
        for kind, entries in _components(document):
            taken = components.get(kind, {})
            for name, value in entries.items():
                new_name = name
                if name in taken and taken[name] != value:
                    new_name = f"{service}_{name}"
                    while new_name in taken:
                        new_name += "_"
                renames[(kind, name)] = new_name
        rewritten = _rewrite_refs(document, renames)
        for kind, entries in _components(rewritten):
            target = components.setdefault(kind, {})
            for name, value in entries.items():
                target[renames[(kind, name)]] = value
        for path, item in rewritten["paths"].items():
            gateway_path = gateway_path_of(service, path)
            if gateway_path in paths or not isinstance(item, dict):
                continue  # the gateway's own route, or another service's, wins
            for _, operation in _operations(item):
                operation["tags"] = [service]
                if "operationId" in operation:
                    operation["operationId"] = f"{service}_{operation['operationId']}"
            paths[gateway_path] = item
        info = document.get("info") or {}
        tags.append(
            {"name": service, "description": f"{info.get('title', service)} {info.get('version', '')}"}
        )
    merged[UNAVAILABLE_EXTENSION] = dict(sorted(unavailable.items()))
    return merged


def gateway_path_of(service: str, path: str) -> str:
    """Where a service's path is reached: as is under /api/v1/ (the gateway forwards paths unchanged),
    else under the service's prefix."""
    if path.startswith(API_PREFIX):
        return path
    return f"{API_PREFIX}{service}" + ("" if path == "/" else path)


def _components(document: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    components = document.get("components")
    if not isinstance(components, dict):
        return []
    return [(kind, entries) for kind, entries in components.items() if isinstance(entries, dict)]


def _rewrite_refs(value: Any, renames: Mapping[tuple[str, str], str]) -> Any:
    if isinstance(value, dict):
        rewritten = {key: _rewrite_refs(item, renames) for key, item in value.items()}
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            parts = ref.split("/")
            if len(parts) == 4 and (parts[2], parts[3]) in renames:
                rewritten["$ref"] = f"#/components/{parts[2]}/{renames[(parts[2], parts[3])]}"
        return rewritten
    if isinstance(value, list):
        return [_rewrite_refs(item, renames) for item in value]
    return value


class ApiDocs:
    """The gateway's document (per container) and the aggregated one (shared through Redis)."""

    def __init__(
        self,
        app: FastAPI,
        settings: Settings,
        *,
        public_route_keys: Iterable[str],
        event_stream_paths: Iterable[str],
        redis_clients: PerEventLoop[Any],
        http_clients: PerEventLoop[Any],
    ) -> None:
        self._app = app
        self._public = frozenset(public_route_keys)
        self._event_streams = frozenset(event_stream_paths)
        self._service_urls = dict(settings.service_urls)
        self._settings = settings.api_docs
        self._redis_clients = redis_clients
        self._http_clients = http_clients
        self._document: dict[str, Any] | None = None

    def gateway(self) -> dict[str, Any]:
        """Made on first use and kept: routes do not change while the container lives."""
        if self._document is None:
            self._document = gateway_document(
                self._app, public_route_keys=self._public, event_stream_paths=self._event_streams
            )
        return self._document

    async def aggregate(self) -> tuple[bytes, str]:
        """The aggregated document as JSON bytes, and whether it came from the cache."""
        redis = self._redis_clients.get()
        try:
            cached = await redis.get(redis_keyspace.API_DOCS_KEY)
        except Exception:
            REDIS_ERRORS.labels("api_docs_read").inc()
            return await self._build(), "unavailable"
        if cached is not None:
            return cached if isinstance(cached, bytes) else str(cached).encode(), "hit"
        body = await self._build()
        try:
            await redis.set(redis_keyspace.API_DOCS_KEY, body, ex=self._settings.cache_seconds)
        except Exception:
            REDIS_ERRORS.labels("api_docs_store").inc()
        return body, "miss"

    async def _build(self) -> bytes:
        client = self._http_clients.get()
        names = sorted(self._service_urls)
        answers = await asyncio.gather(
            *(
                fetch_document(client, self._service_urls[name], self._settings.timeout_seconds)
                for name in names
            )
        )
        documents = {
            name: answer for name, answer in zip(names, answers, strict=True) if isinstance(answer, dict)
        }
        unavailable = {
            name: answer for name, answer in zip(names, answers, strict=True) if isinstance(answer, str)
        }
        merged = merge(self.gateway(), documents, unavailable)
        merged["x-aggregated-at"] = iso_timestamp(time.time())
        return json.dumps(merged, separators=(",", ":")).encode()


def install_api_docs(app: FastAPI, docs: ApiDocs) -> None:
    """/openapi.json serves the completed document; /docs and the aggregated document are added."""
    app.openapi = docs.gateway  # type: ignore[method-assign]
    # FastAPI's page shows one document; ours shows the aggregated one unless asked for the gateway's.
    app.router.routes[:] = [route for route in app.router.routes if getattr(route, "path", None) != DOCS_PATH]

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs_page(request: Request) -> Response:
        only_gateway = request.query_params.get(DOCS_QUERY) == "gateway"
        # Relative URLs: they resolve under a named stage's prefix too (/prod/docs -> /prod/openapi.json).
        document = OPENAPI_PATH if only_gateway else AGGREGATE_OPENAPI_PATH
        return get_swagger_ui_html(openapi_url=document.lstrip("/"), title=f"{app.title} - API documentation")

    @app.get(
        AGGREGATE_OPENAPI_PATH,
        summary="Every service's routes in one OpenAPI document",
        tags=["documentation"],
    )
    async def aggregated_openapi() -> Response:
        body, cache = await docs.aggregate()
        return Response(content=body, media_type=JSON_TYPE, headers={"x-cache": cache})

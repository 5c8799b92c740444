"""The ASGI adapter: an HTTP scope read into the core's ``Request``, and the scope of a request.

``request_from_scope`` is the way in for a host that is an ASGI server (``bakery-gateway serve``):
it reads what the server parsed, and takes what only the host knows as parameters (the body it read,
the route it matched, the authorizer's verdict, the mount path). ``scope_for`` is the other direction:
the scope in which the gateway's own FastAPI apps serve a request, whoever received it, with the
request itself under ``REQUEST_SCOPE_KEY`` so that no app reads anything host-specific.

Both read the request as API Gateway passes it to a function, so one request reads the same
through either host: header names in lower case, values as their bytes read as Latin-1, repeated
headers joined with commas and every cookie in one ``Cookie`` header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from bakery_gateway.api.request import NO_STAGE_VARIABLES, REQUEST_SCOPE_KEY, Request

if TYPE_CHECKING:
    from bakery_gateway.api.identity import Verdict

HTTPS_PORT = 443


def request_from_scope(
    scope: Mapping[str, Any],
    body: bytes,
    *,
    verdict: Verdict | None = None,
    route_key: str = "",
    stage_variables: Mapping[str, str] = NO_STAGE_VARIABLES,
) -> Request:
    """The request of an ASGI ``http`` scope whose body the host has read.

    ``verdict`` is the authorizer's, run by the host for ``route_key`` (the route it matched, as
    API Gateway names it); None for a route without an authorizer. The scope's ``root_path`` (the
    path the application is mounted at, a named stage's counterpart) is taken off the path.
    """
    headers = combined_headers(scope.get("headers") or ())
    path: str = scope["path"]
    raw: bytes | None = scope.get("raw_path")
    raw_path = raw.decode("latin-1") if raw else path
    root_path: str = scope.get("root_path") or ""
    if root_path:
        path, raw_path = _without_prefix(path, root_path), _without_prefix(raw_path, root_path)
    client = scope.get("client")
    server = scope.get("server")
    host = _host_name(headers.get("host", "")) or (str(server[0]) if server else "")
    return Request(
        method=str(scope["method"]).upper(),
        raw_path=raw_path or "/",
        path=path or "/",
        query_string=bytes(scope.get("query_string") or b"").decode("latin-1"),
        headers=headers,
        body=body,
        source_ip=str(client[0]) if client else "",
        host=host,
        scheme=str(scope.get("scheme") or "http"),
        route_key=route_key,
        verdict=verdict,
        stage_variables=stage_variables,
    )


def combined_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI's header list as one value per lower-case name: repeated values joined with commas, as
    API Gateway joins them, and cookies with ``; ``, as one ``Cookie`` header carries them."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in raw:
        name, value = bytes(raw_name).decode("latin-1").lower(), bytes(raw_value).decode("latin-1")
        if name == "cookie":
            cookies += [cookie.strip() for cookie in value.split(";") if cookie.strip()]
        elif name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    if cookies:
        headers["cookie"] = "; ".join(cookies)
    return headers


def scope_for(request: Request) -> dict[str, Any]:
    """The ASGI ``http`` scope in which one of the gateway's apps serves ``request``.

    The path is the one the host decoded (``raw_path`` None: the app reads ``path``), the server is
    the ``Host`` the client named with ``X-Forwarded-Port`` (443 without one: all API Gateway serves).
    """
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": None,
        "root_path": "",
        "query_string": request.query_string.encode(),
        "headers": [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in request.headers.items()
        ],
        "server": _server(request.headers),
        "client": (request.source_ip, 0),
        REQUEST_SCOPE_KEY: request,
    }


def _server(headers: Mapping[str, str]) -> tuple[str, int]:
    host, _, port = headers.get("host", "localhost").partition(":")
    port = port or headers.get("x-forwarded-port", "")
    return host, int(port) if port.isdigit() else HTTPS_PORT


def _host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port (an IPv6 address keeps its brackets)."""
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


def _without_prefix(path: str, prefix: str) -> str:
    if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
        return path[len(prefix.rstrip("/")) :]
    return path

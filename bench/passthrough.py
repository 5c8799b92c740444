"""The throughput baseline: a bare ASGI passthrough proxy on uvicorn, one HTTP client per worker process.

It forwards every request (method, path, query, headers less hop-by-hop ones, body) to ``--upstream``
and answers with the upstream's status, headers and body: no routing, authorizer or policy. Clients:
- ``httpx-on-aiohttp``: an ``httpx.AsyncClient`` from the proxy's own ``http_client_factory`` (same
  timeouts and connection limits, read from the same environment) over the gateway's aiohttp
  transport (``DOWNSTREAM_HTTP_TRANSPORT=aiohttp``, the default), so "gateway vs bare" isolates the
  gateway when it runs with that transport;
- ``httpx``: the same factory over httpx's own transport (``DOWNSTREAM_HTTP_TRANSPORT=httpx``): the
  bare arm for a gateway run with that setting, and what the aiohttp transport is measured against;
- ``aiohttp``: a plain ``aiohttp.ClientSession`` with the same connection limit, to show what the
  HTTP client itself costs without httpx's API on top.

Run: ``.venv/bin/python bench/passthrough.py --port 8902 --upstream http://127.0.0.1:8901 --workers 2``
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from typing import Any

import uvicorn
from stub_service import QUIET_SERVER, exit_when_stdin_closes

from bakery_gateway.serve.asgi_body import read_body

UPSTREAM_VARIABLE = "BENCH_PASSTHROUGH_UPSTREAM"
CLIENT_VARIABLE = "BENCH_PASSTHROUGH_CLIENT"
MAX_CONNECTIONS_VARIABLE = "DOWNSTREAM_MAX_CONNECTIONS"  # the gateway's own setting, same default
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
Scope = dict[str, Any]
Headers = list[tuple[bytes, bytes]]


# --client: the gateway's factory with this DOWNSTREAM_HTTP_TRANSPORT, or None for plain aiohttp.
CLIENTS = {"httpx-on-aiohttp": "aiohttp", "httpx": "httpx", "aiohttp": None}


class Forwarder:
    """One client per worker process, made on the first request (it binds to the server's loop)."""

    def __init__(self, upstream: str, kind: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.kind = kind
        self._client: Any = None

    async def forward(
        self, method: str, url: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        transport = CLIENTS[self.kind]
        if transport is None:
            return await self._aiohttp(method, url, headers, body)
        return await self._factory_client(transport, method, url, headers, body)

    async def _factory_client(
        self, transport: str, method: str, url: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        if self._client is None:
            from bakery_gateway.clients.factories import http_client_factory
            from bakery_gateway.settings import Settings

            settings = replace(Settings.from_environ(), downstream_http_transport=transport)
            self._client = http_client_factory(settings)()
        response = await self._client.request(method, url, headers=headers, content=body)
        return response.status_code, list(response.headers.raw), response.content

    async def _aiohttp(
        self, method: str, url: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        import aiohttp

        if self._client is None:
            limit = int(os.environ.get(MAX_CONNECTIONS_VARIABLE, "100"))
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit),
                timeout=aiohttp.ClientTimeout(sock_connect=2.0, sock_read=10.0),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        decoded = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
        async with self._client.request(method, url, headers=decoded, data=body) as response:
            content = await response.read()
            return response.status, list(response.raw_headers), content


_forwarder = Forwarder(
    os.environ.get(UPSTREAM_VARIABLE, ""), os.environ.get(CLIENT_VARIABLE, "httpx-on-aiohttp")
)


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"{_forwarder.upstream}{scope['path']}" + (f"?{query}" if query else "")
    headers = [(name, value) for name, value in scope["headers"] if name not in HOP_BY_HOP]
    status, response_headers, body = await _forwarder.forward(scope["method"], url, headers, body)
    kept = [(name.lower(), value) for name, value in response_headers if name.lower() not in HOP_BY_HOP]
    kept.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--client", choices=tuple(CLIENTS), default="httpx-on-aiohttp")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()
    if args.exit_on_stdin_eof:
        exit_when_stdin_closes()
    # The workers are fresh interpreters: they learn the upstream and client from the environment.
    os.environ[UPSTREAM_VARIABLE], os.environ[CLIENT_VARIABLE] = args.upstream, args.client
    uvicorn.run(
        "passthrough:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        **QUIET_SERVER,
    )


if __name__ == "__main__":
    main()

"""A minimal downstream service for the benchmarks: a raw ASGI app on uvicorn (uvloop + httptools).

It answers every request with the same small JSON document, except:
- a path ending in ``/__echo_headers``: the request's headers (so a benchmark can send its baseline
  request with exactly the headers the gateway sends downstream);
- a path ending in ``/subscription``: an active subscription, as the tenant service answers the
  gateway's subscription lookup.

It writes a response's headers and body as two sends (uvicorn does, for the two ASGI messages); both
leave at once because uvicorn's transports (uvloop's, and asyncio's alike) set ``TCP_NODELAY`` on every
connection. Without it Nagle's algorithm holds the body until the client acknowledges the headers,
and the client delays that ACK: ~44 ms per request, measured over Docker's bridge and loopback alike
with an http.server stub (bench/README.md, power tuning). ``passthrough.py`` runs on uvicorn too.

Run: ``.venv/bin/python bench/stub_service.py --port 8901``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

ITEMS_BODY = json.dumps({"items": [{"id": 1, "name": "baguette", "quantity": 12}]}).encode()
ECHO_HEADERS_SUFFIX = "/__echo_headers"
SUBSCRIPTION_SUFFIX = "/subscription"
SUBSCRIPTION_BODY = json.dumps(
    {"status": "active", "plan": "professional", "current_period_end": 4_102_444_800, "grace_period_days": 7}
).encode()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"].endswith(ECHO_HEADERS_SUFFIX):
        pairs = [[name.decode("latin-1"), value.decode("latin-1")] for name, value in scope["headers"]]
        body = json.dumps(pairs).encode()
    elif scope["path"].endswith(SUBSCRIPTION_SUFFIX):
        body = SUBSCRIPTION_BODY
    else:
        body = ITEMS_BODY
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def exit_when_stdin_closes() -> None:
    """Stop when the parent goes away, even if it is killed: it holds our stdin open until then."""

    def watch() -> None:
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# Every bench server: no lifespan, no access log, no Server or Date header to write per response.
QUIET_SERVER: dict[str, Any] = {
    "lifespan": "off",
    "access_log": False,
    "log_level": "warning",
    "server_header": False,
    "date_header": False,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes")
    args = parser.parse_args()
    if args.exit_on_stdin_eof:
        exit_when_stdin_closes()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        **QUIET_SERVER,
    )


if __name__ == "__main__":
    main()

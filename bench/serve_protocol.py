"""What ``serve``'s guarded protocol adds to uvicorn's per request (docs/standalone.md, the cost).

Both protocols are fed the same keep-alive requests in-process (no sockets, a trivial ASGI app that
answers at once) on the same event loop kind as ``serve`` (uvloop), in interleaved rounds; printed:
the median CPU microseconds per request of each and their difference, for a GET in one read, a POST
whose body comes in the same read, and a POST whose body comes in a second read (the one case that
arms a deadline). Prints, never asserts.

    .venv/bin/python bench/serve_protocol.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bakery_gateway.serve.protocol import GuardedHttpToolsProtocol

HEAD = b"Host: gateway.test\r\nAuthorization: Bearer " + b"t" * 700 + b"\r\nAccept: */*\r\n"
SHAPES: dict[str, tuple[bytes, ...]] = {
    "GET, one read": (b"GET /api/v1/sales/items HTTP/1.1\r\n" + HEAD + b"\r\n",),
    "POST, one read": (
        b"POST /api/v1/sales/orders HTTP/1.1\r\n" + HEAD + b"Content-Length: 10\r\n\r\n{'qty': 1}",
    ),
    "POST, body in a 2nd read": (
        b"POST /api/v1/sales/orders HTTP/1.1\r\n" + HEAD + b"Content-Length: 10\r\n\r\n",
        b"{'qty': 1}",
    ),
}


class _Transport(asyncio.Transport):
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def _per_request(
    protocol_class: type[HttpToolsProtocol], reads: tuple[bytes, ...], requests: int
) -> float:
    """CPU microseconds per request on one keep-alive connection."""
    protocol = protocol_class(
        config=Config(app=_app, log_level="warning"), server_state=ServerState(), app_state={}
    )
    protocol.connection_made(_Transport())
    started = time.process_time()
    for _ in range(requests):
        for data in reads:
            protocol.data_received(data)
        await asyncio.sleep(0)  # the application's task answers
        await asyncio.sleep(0)
    elapsed = time.process_time() - started
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    print(f"{requests} requests x {rounds} interleaved rounds, uvloop; CPU us per request (median)")
    print(f"{'request':<26}{'uvicorn':>10}{'guarded':>10}{'added':>10}")
    for shape, reads in SHAPES.items():
        plain, guarded = [], []
        for _ in range(rounds):
            plain.append(await _per_request(HttpToolsProtocol, reads, requests))
            guarded.append(await _per_request(GuardedHttpToolsProtocol, reads, requests))
        a, b = statistics.median(plain), statistics.median(guarded)
        print(f"{shape:<26}{a:>10.2f}{b:>10.2f}{b - a:>+10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()
    uvloop.run(main(arguments.requests, arguments.rounds))

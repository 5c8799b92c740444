"""The alert stream as a continuous server-sent event stream, on the local runtime only.

Behind API Gateway, ``GET /api/v1/alerts/stream`` answers once per request (HTTP APIs buffer) and
EventSource reconnects with ``Last-Event-ID``. Locally the response stays open: the runtime invokes
the same proxy handler in a loop, each time with ``Last-Event-ID`` = the last id it relayed, writes
the events it answers, and a ``: heartbeat`` comment whenever ``heartbeat_seconds`` pass in silence.
It stops when the client goes away or the handler answers anything but ``200`` (that answer is
relayed as is when nothing was sent yet). Same handler, same ids, same resume rule (``docs/sse.md``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Send

from bakery_gateway.alerts.sse import ALERT_STREAM_PATH, LAST_EVENT_ID_HEADER

# The template route the stream arrives on: the proxy's catch-all.
PROXY_ROUTE_KEY = "ANY /api/v1/{proxy+}"
# The template's own route for the stream (its authorizer takes ?token= too); the catch-all serves it
# in a template without that route.
STREAM_ROUTE_KEYS = frozenset({"GET /api/v1/alerts/stream", PROXY_ROUTE_KEY})
HEARTBEAT = b": heartbeat\n\n"
_BLOCK_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\r|\n")
Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]
# One invocation of the proxy with ``Last-Event-ID`` set to the given id (None: the client's own).
InvokeWith = Callable[[str | None], Awaitable[Answer]]


def is_alert_stream(method: str, route_key: str, path: str, stage: str) -> bool:
    stage_prefix = "" if stage == "$default" else f"/{stage}"
    return method == "GET" and route_key in STREAM_ROUTE_KEYS and path == stage_prefix + ALERT_STREAM_PATH


def with_last_event_id(headers: list[tuple[str, str]], last_id: str | None) -> list[tuple[str, str]]:
    """The request's headers, its ``Last-Event-ID`` replaced by ``last_id`` (kept when None)."""
    if last_id is None:
        return headers
    return [(name, value) for name, value in headers if name != LAST_EVENT_ID_HEADER] + [
        (LAST_EVENT_ID_HEADER, last_id)
    ]


@dataclass
class Relayed:
    """What one answer's body adds to the open stream, and the last id it carries."""

    text: bytes
    last_id: str | None


def relay_body(body: bytes, last_id: str | None, *, first: bool) -> Relayed:
    """The blocks of one answer worth sending on an open stream: events, the retry hint of the first
    answer, and a position (``id`` without data) only when it moves. Comments are dropped: the
    stream's own heartbeats replace them."""
    kept: list[bytes] = []
    for block in _BLOCK_END.split(body):
        lines = [line for line in _LINE.split(block) if line and not line.startswith(b":")]
        if not first:
            lines = [line for line in lines if not line.startswith(b"retry:")]
        ids = [line.partition(b":")[2].strip().decode() for line in lines if line.startswith(b"id:")]
        position_only = bool(ids) and all(line.startswith(b"id:") for line in lines)
        if not lines or (position_only and ids[-1] == last_id):
            continue
        kept.append(b"\n".join(lines) + b"\n\n")
        last_id = ids[-1] if ids else last_id
    return Relayed(b"".join(kept), last_id)


async def stream(
    invoke: InvokeWith, receive: Receive, send: Send, *, heartbeat_seconds: float, extra_headers: Headers
) -> None:
    """Serve one client until it disconnects or the handler stops answering 200."""
    disconnected = asyncio.ensure_future(_disconnect(receive))
    last_id: str | None = None
    started = False
    try:
        while True:
            answer = await _answer_with_heartbeats(
                invoke(last_id), disconnected, send if started else None, heartbeat_seconds
            )
            if answer is None:
                return
            status, headers, body = answer
            if status != 200:
                if not started:
                    await send({"type": "http.response.start", "status": status, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                else:
                    await send({"type": "http.response.body", "body": b""})
                return
            if not started:
                streaming_headers = [(name, value) for name, value in headers if name != b"content-length"]
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": streaming_headers + extra_headers,
                    }
                )
            relayed = relay_body(body, last_id, first=not started)
            started = True
            last_id = relayed.last_id
            if relayed.text:
                await send({"type": "http.response.body", "body": relayed.text, "more_body": True})
    finally:
        disconnected.cancel()


async def _answer_with_heartbeats(
    invocation: Awaitable[Answer],
    disconnected: asyncio.Future[None],
    send: Send | None,
    heartbeat_seconds: float,
) -> Answer | None:
    """The invocation's answer, writing heartbeats meanwhile (once the stream is open); None when the
    client went away first (the invocation ends by itself within the handler's wait)."""
    pending = asyncio.ensure_future(invocation)
    last_write = time.monotonic()
    while True:
        timeout = max(0.0, heartbeat_seconds - (time.monotonic() - last_write))
        waiting: set[asyncio.Future[Any]] = {pending, disconnected}
        done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if disconnected in done:
            pending.cancel()
            return None
        if pending in done:
            return pending.result()
        if send is not None:
            await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
        last_write = time.monotonic()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

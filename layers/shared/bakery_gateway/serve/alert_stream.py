"""The alert stream as a continuous server-sent event stream, where the gateway is an HTTP server.

Behind API Gateway, ``GET /api/v1/alerts/stream`` answers once per request (HTTP APIs buffer) and
EventSource reconnects with ``Last-Event-ID``. Under ``bakery-gateway serve`` and the local runtime
the response stays open:

1. the server asks the proxy once, as API Gateway would (authorizer, policies, tenant access),
   with the stage variable ``sseWaitSeconds=0`` so it answers at once: the replay after the
   client's ``Last-Event-ID``, or the current position, and the tenant it chose (``X-Tenant-ID``);
2. it then follows that tenant's shared feed (``alert_feed``: one Redis reader per tenant, however
   many streams), writing each new event (the same blocks, the same ids) and a ``: heartbeat``
   comment whenever ``heartbeat_seconds`` pass in silence;
3. every ``recheck_seconds`` (``SSE_WAIT_SECONDS``: as often as a long poll would ask; the first
   time at a random point of the period's second half, so that streams opened together do not
   re-check together) it invokes the proxy again with ``Last-Event-ID`` = the last id written, so
   an expired or revoked token, a lost subscription or tenant access ends the stream as the next
   long poll would be refused.

It stops when the client goes away, the proxy answers anything but ``200`` (relayed as is when
nothing was sent yet), Redis fails (the client reconnects with ``Last-Event-ID``), or the server
stops and says so — the local runtime's code reload or Ctrl-C: it completes the future it hands
every request as ``scope["state"][STOPPING_STATE]`` (``bakery_local.serving``), and each open stream
ends at once with a reconnect hint instead of holding the restart until its client leaves. Same
handler, same ids, same resume rule (``docs/sse.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Send

from bakery_gateway.api.routes import ALERT_STREAM_PATH, SERVICE_PATHS
from bakery_gateway.errors import FeedUnavailableError
from bakery_gateway.realtime.alerts.sse import (
    LAST_EVENT_ID_HEADER,
    TENANT_HEADER,
    WAIT_STAGE_VARIABLE,
    StreamId,
    retry_hint,
)
from bakery_gateway.serve.alert_feed import BLOCK_MILLISECONDS, AlertFeeds, TenantFeed
from bakery_gateway.settings import Settings

# The template route the stream arrives on: the proxy's catch-all.
PROXY_ROUTE_KEY = f"ANY {SERVICE_PATHS}"
# The template's own route for the stream (its authorizer takes ?token= too); the catch-all serves it
# in a template without that route.
STREAM_ROUTE_KEYS = frozenset({f"GET {ALERT_STREAM_PATH}", PROXY_ROUTE_KEY})
HEARTBEAT = b": heartbeat\n\n"
# The key of the server's "stopping" future in each request's ASGI state.
STOPPING_STATE = "bakery.stopping"
# The stage variables of the proxy invocations behind a continuous stream: answer without waiting.
STREAM_STAGE_VARIABLES = {WAIT_STAGE_VARIABLE: "0"}
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


def reconnect_hint(retry_milliseconds: int) -> bytes:
    """The last block of a stream ended because the runtime stops: EventSource reconnects after
    ``retry`` ms with ``Last-Event-ID`` (to the restarted runtime, or again until it is back)."""
    return (
        b": the gateway is restarting or stopping; reconnect with Last-Event-ID\n"
        + retry_hint(retry_milliseconds).encode()
    )


# A feed's blocking reads (``alert_feed.BLOCK_MILLISECONDS``) get this much more before they time out.
FEED_READ_MARGIN_SECONDS = 2.0


@dataclass(frozen=True)
class AlertStreaming:
    """How open alert streams follow their tenant: one per server (``serve``, the local runtime)."""

    feeds: AlertFeeds
    heartbeat_seconds: float
    recheck_seconds: float  # SSE_WAIT_SECONDS: as often as a long poll would ask
    retry_milliseconds: int

    @classmethod
    def from_settings(cls, settings: Settings, *, heartbeat_seconds: float | None = None) -> AlertStreaming:
        """The alert settings, and one reader per followed tenant on connections whose reads outlast
        a feed's blocking ones; ``heartbeat_seconds`` in place of ``SSE_HEARTBEAT_SECONDS`` (tests)."""
        from bakery_gateway.clients.factories import async_redis_factory

        feed_timeout = BLOCK_MILLISECONDS / 1000 + FEED_READ_MARGIN_SECONDS
        alerts = settings.alerts
        return cls(
            feeds=AlertFeeds(async_redis_factory(settings.redis, read_timeout_seconds=feed_timeout)),
            heartbeat_seconds=alerts.sse_heartbeat_seconds
            if heartbeat_seconds is None
            else heartbeat_seconds,
            recheck_seconds=alerts.sse_wait_seconds,
            retry_milliseconds=alerts.sse_retry_milliseconds,
        )


async def stream(
    invoke: InvokeWith,
    receive: Receive,
    send: Send,
    streaming_with: AlertStreaming,
    *,
    extra_headers: Headers,
    stopping: asyncio.Future[None] | None = None,
) -> None:
    """Serve one client until it disconnects, the proxy stops answering 200, Redis fails, or
    ``stopping`` completes (the stream then ends with ``reconnect_hint``)."""
    # Done when the client goes away; cancelled when the runtime stops. Either way the stream ends.
    ended = asyncio.ensure_future(_disconnect(receive))

    def end_stream(_: object) -> None:
        ended.cancel()

    streaming = False
    try:
        answer = await _unless_ended(invoke(None), ended)
        if answer is None:
            return
        status, headers, body = answer
        if status != 200:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        streaming_headers = [(name, value) for name, value in headers if name != b"content-length"]
        await send(
            {"type": "http.response.start", "status": 200, "headers": streaming_headers + extra_headers}
        )
        streaming = True
        if stopping is not None:  # from the first byte on; a first answer still in the making completes
            stopping.add_done_callback(end_stream)
        relayed = relay_body(body, None, first=True)
        await _write(send, relayed.text)
        tenant_id = dict(headers).get(TENANT_HEADER.encode(), b"").decode("latin-1")
        if relayed.last_id is None or not tenant_id:  # nothing to follow from: let the client reconnect
            return
        async with streaming_with.feeds.follow(tenant_id) as feed:
            await _follow(
                feed,
                invoke,
                send,
                ended,
                relayed.last_id,
                streaming_with.heartbeat_seconds,
                streaming_with.recheck_seconds,
            )
    finally:
        if stopping is not None:
            stopping.remove_done_callback(end_stream)
        ended.cancel()
        if streaming:
            with contextlib.suppress(OSError, RuntimeError):  # the client may be gone already
                if stopping is not None and stopping.done():
                    await _write(send, reconnect_hint(streaming_with.retry_milliseconds))
                await send({"type": "http.response.body", "body": b""})


async def _follow(
    feed: TenantFeed,
    invoke: InvokeWith,
    send: Send,
    ended: asyncio.Future[None],
    last_id: str,
    heartbeat_seconds: float,
    recheck_seconds: float,
) -> None:
    loop = asyncio.get_running_loop()
    last_write = next_check = loop.time()
    # The first re-check at a random point of the second half of the period: streams opened together
    # (a deploy, a reconnecting office) would otherwise all re-check in the same instant, every period.
    next_check += recheck_seconds * random.uniform(0.5, 1.0)  # noqa: S311 - spreading load, not a secret
    while True:
        now = loop.time()
        timeout = max(0.0, min(last_write + heartbeat_seconds, next_check) - now)
        try:
            entries = await feed.after(StreamId.parse(last_id), timeout, interrupt=ended)
        except FeedUnavailableError:
            return
        if ended.done():
            return
        now = loop.time()
        if entries:
            await _write(send, "".join(block for _, block in entries).encode())
            last_id, last_write = str(entries[-1][0]), now
        elif now >= last_write + heartbeat_seconds:
            await _write(send, HEARTBEAT)
            last_write = now
        if now >= next_check:
            answer = await _unless_ended(invoke(last_id), ended)
            if answer is None or answer[0] != 200:
                return
            relayed = relay_body(answer[2], last_id, first=False)
            await _write(send, relayed.text)
            last_id = relayed.last_id or last_id
            next_check = loop.time() + recheck_seconds


async def _write(send: Send, text: bytes) -> None:
    if text:
        await send({"type": "http.response.body", "body": text, "more_body": True})


async def _unless_ended(work: Awaitable[Any], ended: asyncio.Future[None]) -> Any:
    """``work``'s result; None when the stream ended first (``work`` is then cancelled)."""
    pending = asyncio.ensure_future(work)
    await asyncio.wait({pending, ended}, return_when=asyncio.FIRST_COMPLETED)
    if not pending.done():
        pending.cancel()
        return None
    return pending.result()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

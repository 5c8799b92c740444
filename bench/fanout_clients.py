"""The clients of ``fanout.py``: SSE readers and WebSocket subscribers of one tenant, the publisher,
and what each client received (alert sequence numbers with their arrival times)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect

from bakery_gateway.api.routes import INTERNAL_ALERTS_PATH
from bakery_local.alert_client import new_alert

STREAM_PATH = "/api/v1/alerts/stream"
WS_PATH = "/api/v1/training/ws"
SUBSCRIBE = json.dumps({"action": "subscribe", "topic": "alerts"})


@dataclass
class Received:
    """One client's alerts, in arrival order: the sequence number and ``time.monotonic()``."""

    seqs: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    error: str | None = None

    def add(self, alert: dict[str, Any], now: float) -> None:
        self.seqs.append(int(alert["data"]["seq"]))
        self.times.append(now)


@dataclass
class Published:
    """When each alert was sent (``time.monotonic()`` just before its POST), its stream id, and the
    time its POST took to answer (the fanout function posts to every WebSocket before answering)."""

    sent: dict[int, float] = field(default_factory=dict)
    stream_ids: dict[int, str] = field(default_factory=dict)
    alert_ids: list[str] = field(default_factory=list)
    answer_seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def stream_order(self) -> list[int]:
        """Every published sequence number, in the order the stream holds them (what every client
        must see)."""

        def key(seq: int) -> tuple[int, int]:
            milliseconds, _, sequence = self.stream_ids[seq].partition("-")
            return int(milliseconds), int(sequence)

        known = sorted(self.stream_ids, key=key)
        # An alert whose POST failed may still be stored (a 503 after the store): by publish order.
        return known + sorted(set(self.sent) - set(self.stream_ids))


def _sse_alert(block: str) -> dict[str, Any] | None:
    lines = block.splitlines()
    if "event: alert" not in lines:
        return None
    data = "\n".join(line[len("data:") :].lstrip() for line in lines if line.startswith("data:"))
    return dict(json.loads(data))


async def sse_client(url: str, token: str, got: Received, opened: Callable[[], None]) -> None:
    """Read the alert stream until cancelled; ``opened()`` once the answer's headers are in.

    A bare HTTP/1.1 reader on asyncio streams: with a thousand streams in this one process, httpx's
    per-chunk cost would be measured as delivery latency."""
    parts = urlsplit(url)
    announced = False
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        request = (
            f"GET {STREAM_PATH} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        announced = True
        opened()
        status = head.split(" ", 2)[1]
        if status != "200":
            got.error = f"HTTP {status}: {head[:200]!r}"
            return
        if "transfer-encoding: chunked" not in head.lower():
            got.error = f"not a chunked stream: {head[:200]!r}"
            return
        buffer = ""
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                break
            chunk = (await reader.readexactly(size + 2))[:-2]
            now = time.monotonic()
            buffer += chunk.decode().replace("\r\n", "\n")
            *blocks, buffer = buffer.split("\n\n")
            for block in blocks:
                alert = _sse_alert(block)
                if alert is not None:
                    got.add(alert, now)
        got.error = "the stream ended"
        writer.close()
    except (OSError, ValueError, asyncio.IncompleteReadError) as error:
        got.error = f"{type(error).__name__}: {error}"
    finally:
        if not announced:
            opened()


async def ws_client(url: str, got: Received, opened: Callable[[], None], gate: asyncio.Semaphore) -> None:
    """Connect, subscribe to the tenant's alerts, then read until cancelled; ``opened()`` once the
    subscription is confirmed (or failed). ``gate`` bounds concurrent handshakes."""
    announced = False
    try:
        async with gate:
            socket = await connect(url, open_timeout=120, ping_interval=None, max_queue=None)
            await socket.send(SUBSCRIBE)
            answer = json.loads(await socket.recv())
        async with socket:
            announced = True
            opened()
            if answer.get("type") != "ok":
                got.error = f"subscribe answered {answer}"
                return
            async for message in socket:
                now = time.monotonic()
                body = json.loads(message)
                if body.get("type") == "alert":
                    got.add(body["alert"], now)
            got.error = "the socket closed"
    except Exception as error:  # reported in the table, not hidden
        got.error = f"{type(error).__name__}: {error}"
    finally:
        if not announced:
            opened()


async def publish(http: httpx.AsyncClient, tenant: str, count: int, rate: float, into: Published) -> None:
    """``count`` alerts through ``POST /internal/alerts``, started every ``1/rate`` s (0: back to back,
    one at a time), without waiting for one answer before the next start."""
    interval = 1.0 / rate if rate > 0 else 0.0
    tasks: list[asyncio.Task[None]] = []
    start = time.monotonic()
    for seq in range(count):
        delay = start + seq * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(_publish_one(http, tenant, seq, into))
        if interval == 0:
            await task
        tasks.append(task)
    await asyncio.gather(*tasks)


async def _publish_one(http: httpx.AsyncClient, tenant: str, seq: int, into: Published) -> None:
    alert = new_alert(tenant, "low", f"fanout bench alert {seq}")
    alert["data"] = {"seq": seq}
    into.alert_ids.append(alert["alert_id"])
    into.sent[seq] = sent = time.monotonic()
    try:
        response = await http.post(INTERNAL_ALERTS_PATH, json=alert)
    except httpx.HTTPError as error:
        into.failures.append(f"alert {seq}: {type(error).__name__}: {error}")
        return
    into.answer_seconds.append(time.monotonic() - sent)
    if response.status_code != 202:
        into.failures.append(f"alert {seq}: HTTP {response.status_code} {response.text[:200]}")
        return
    into.stream_ids[seq] = response.json()["stream_ids"][alert["alert_id"]]

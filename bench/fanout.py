"""Alert fan-out through the local runtime: N SSE clients and N WebSocket clients of one tenant.

Starts ``bakery-gateway local`` as a subprocess (real Redis, dev keys in a temporary state directory),
opens ``--sse-clients`` SSE streams (``GET /api/v1/alerts/stream``) and ``--ws-clients`` WebSockets
subscribed to the tenant's alerts, publishes ``--alerts`` alerts through the real ingress
(``POST /internal/alerts``) at ``--rate`` per second, and measures, per alert and client, the time
from the POST being sent to the alert arriving: p50/p99/max for SSE and for WS; every client must get
every alert exactly once, in stream order. The floor, measured in the same run: a raw Redis PUBLISH
received by a raw redis-py pub/sub subscriber. Prints figures, writes ``results/fanout.md``, never
asserts.

The runtime follows each tenant with one shared reader (``bakery_gateway/serve/alert_feed.py``): an
SSE client costs a proxy invocation when it connects and once per ``--sse-wait`` (the re-check), not
one per alert.

Run: ``.venv/bin/python bench/fanout.py [--sse-clients N] [--ws-clients N] [--alerts N] [--rate R]``
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis
import redis.asyncio as aioredis
from fanout_clients import Published, Received, publish, sse_client, ws_client
from harness import BENCH_DIR, UNREACHABLE_LIMIT, free_port

from bakery_gateway import constants as names
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.policies.subscription import Subscription
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.runtime_process import local_runtime_process, runtime_environment

RESULTS = BENCH_DIR / "results" / "fanout.md"
STARTUP_SECONDS = 60
RUN_ID = uuid.uuid4().hex[:8]


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parse(argv)
    workers = arguments.workers
    tenant = f"fanout-{RUN_ID}"
    print(
        f"fanout bench {RUN_ID}: {arguments.sse_clients} SSE + {arguments.ws_clients} WS clients, "
        f"{arguments.alerts} alerts at {arguments.rate}/s, --workers {workers}, "
        f"Redis {arguments.redis_host}:{arguments.redis_port} db {arguments.redis_db}",
        flush=True,
    )
    sync = redis.Redis(host=arguments.redis_host, port=arguments.redis_port, db=arguments.redis_db)
    floor = asyncio.run(_redis_floor(arguments))
    print(_latency_line("raw PUBLISH -> pub/sub", floor), flush=True)
    for field, value in Subscription("active", "professional", 0, 0).to_hash().items():
        sync.hset(redis_keyspace.subscription_key(tenant), field, value)
    outcome = Outcome()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-fanout-") as state,
            _runtime(arguments, workers, Path(state)) as url,
        ):
            keys = DevKeyPair.load_or_create(Path(state))
            asyncio.run(_fan_out(arguments, url, keys, tenant, outcome))
    finally:
        _delete_run_keys(sync, tenant, outcome.published.alert_ids)
        sync.close()
    lines = _report(arguments, workers, floor, outcome)
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"\nwritten to {RESULTS.relative_to(BENCH_DIR.parent)}")
    return 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sse-clients", type=int, default=1000)
    parser.add_argument("--ws-clients", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5.0, help="alerts per second (0: one after another)")
    parser.add_argument("--workers", type=int, default=64, help="runtime worker threads (Lambda containers)")
    parser.add_argument(
        "--separate-process",
        action="append",
        default=None,
        metavar="FUNCTION",
        help="functions the runtime runs in processes of their own (default: FanoutFunction; 'none')",
    )
    parser.add_argument(
        "--sse-wait", type=float, default=20.0, help="SSE_WAIT_SECONDS of the runtime: its re-check period"
    )
    parser.add_argument("--drain-seconds", type=float, default=60.0, help="how long to wait for deliveries")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--redis-db", type=int, default=4)
    arguments = parser.parse_args(argv)
    chosen = arguments.separate_process or ["FanoutFunction"]
    arguments.separate_process = [name for name in chosen if name != "none"]
    return arguments


@contextmanager
def _runtime(arguments: argparse.Namespace, workers: int, state: Path) -> Iterator[str]:
    """``bakery-gateway local`` on a free port; its URL. Its log is printed if it fails."""
    environ = runtime_environment(
        redis_host=arguments.redis_host,
        redis_port=arguments.redis_port,
        redis_db=arguments.redis_db,
        state_dir=state,
        settings={
            names.SSE_WAIT_SECONDS: str(arguments.sse_wait),
            names.RATE_LIMIT_REQUESTS: str(UNREACHABLE_LIMIT),
            names.RATE_LIMIT_TENANT_REQUESTS: str(UNREACHABLE_LIMIT),
        },
    )
    # No service is called: each is configured on a closed port, so no sample service starts.
    for service in names.SERVICES:
        environ[names.service_url_variable(service)] = f"http://127.0.0.1:{free_port()}"
    runtime_arguments = ["--workers", str(workers)]
    for function in arguments.separate_process:
        runtime_arguments += ["--separate-process", function]
    with local_runtime_process(
        runtime_arguments, environ, state / "gateway.log", startup_seconds=STARTUP_SECONDS
    ) as url:
        yield url


async def _redis_floor(arguments: argparse.Namespace) -> list[float]:
    """Per-message latency of a raw PUBLISH to one raw redis-py subscriber, at the same rate."""
    channel = f"bench:fanout:{RUN_ID}"
    connection = {"host": arguments.redis_host, "port": arguments.redis_port, "db": arguments.redis_db}
    subscriber, publisher = aioredis.Redis(**connection), aioredis.Redis(**connection)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    latencies: list[float] = []

    async def listen() -> None:
        while len(latencies) < arguments.alerts:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            if message is not None:
                latencies.append(time.monotonic() - float(message["data"]))

    listener = asyncio.create_task(listen())
    interval = 1.0 / arguments.rate if arguments.rate > 0 else 0.0
    for _ in range(arguments.alerts):
        await publisher.publish(channel, repr(time.monotonic()))
        await asyncio.sleep(interval)
    await asyncio.wait_for(listener, 30)
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await subscriber.aclose()
    await publisher.aclose()
    return latencies


class Outcome:
    def __init__(self) -> None:
        self.sse: list[Received] = []
        self.ws: list[Received] = []
        self.published = Published()
        self.open_seconds = 0.0
        self.publish_started = 0.0
        self.drained_at = 0.0


async def _fan_out(
    arguments: argparse.Namespace, url: str, keys: DevKeyPair, tenant: str, outcome: Outcome
) -> None:
    """Open the clients, publish, wait for the deliveries; what happened goes into ``outcome``."""
    outcome.sse = [Received() for _ in range(arguments.sse_clients)]
    outcome.ws = [Received() for _ in range(arguments.ws_clients)]
    total = arguments.sse_clients + arguments.ws_clients
    opened = asyncio.Semaphore(0)
    ws_url = url.replace("http://", "ws://") + "/api/v1/training/ws?token="
    gate = asyncio.Semaphore(50)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=120.0, trust_env=False) as publisher:
        tasks = [
            asyncio.create_task(sse_client(url, _token(keys, tenant, n), got, opened.release))
            for n, got in enumerate(outcome.sse)
        ]
        tasks += [
            asyncio.create_task(ws_client(ws_url + _token(keys, tenant, n), got, opened.release, gate))
            for n, got in enumerate(outcome.ws)
        ]
        for _ in range(total):
            await opened.acquire()
        outcome.open_seconds = time.monotonic() - started
        failed = sum(1 for got in (*outcome.sse, *outcome.ws) if got.error)
        print(f"{total} clients opened in {outcome.open_seconds:.1f} s ({failed} failed)", flush=True)
        outcome.publish_started = time.monotonic()
        await publish(publisher, tenant, arguments.alerts, arguments.rate, outcome.published)
        deadline = time.monotonic() + arguments.drain_seconds
        while time.monotonic() < deadline and not _all_delivered(outcome, arguments.alerts):  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # polls what the clients received
        outcome.drained_at = time.monotonic()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _token(keys: DevKeyPair, tenant: str, n: int) -> str:
    return keys.mint(user_id=f"fanout-user-{n}", tenant_id=tenant, tenant_ids=[tenant])


def _all_delivered(outcome: Outcome, alerts: int) -> bool:
    return all(len(got.seqs) >= alerts or got.error for got in (*outcome.sse, *outcome.ws))


def _nearest_rank(ordered: Sequence[float], quantile: float) -> float:
    return ordered[max(0, math.ceil(len(ordered) * quantile) - 1)] if ordered else float("nan")


def _latency_line(label: str, latencies: Sequence[float]) -> str:
    ordered = sorted(latencies)
    figures = [
        _nearest_rank(ordered, 0.5),
        _nearest_rank(ordered, 0.99),
        ordered[-1] if ordered else float("nan"),
    ]
    return f"| {label} | {len(ordered)} | " + " | ".join(f"{value * 1000:.1f}" for value in figures) + " |"


def _check(clients: Sequence[Received], published: Published) -> tuple[list[float], list[str]]:
    """Every (client, alert) latency, and what went wrong: errors, lost, duplicated, out of order."""
    expected = published.stream_order()
    latencies: list[float] = []
    errors = sum(1 for got in clients if got.error)
    lost = duplicated = disordered = 0
    for got in clients:
        latencies += [at - published.sent[seq] for seq, at in zip(got.seqs, got.times, strict=True)]
        lost += len(set(expected) - set(got.seqs))
        duplicated += len(got.seqs) - len(set(got.seqs))
        arrived = set(got.seqs)
        disordered += int(list(dict.fromkeys(got.seqs)) != [seq for seq in expected if seq in arrived])
    problems = [
        f"{count} {what}"
        for count, what in (
            (errors, "clients failed"),
            (lost, "deliveries lost"),
            (duplicated, "duplicates"),
            (disordered, "clients out of order"),
        )
        if count
    ]
    first_error = next((got.error for got in clients if got.error), None)
    if first_error:
        problems.append(f"first error: {first_error}")
    return latencies, problems


def _report(arguments: argparse.Namespace, workers: int, floor: list[float], outcome: Outcome) -> list[str]:
    published = outcome.published
    sse, sse_problems = _check(outcome.sse, published)
    ws, ws_problems = _check(outcome.ws, published)
    last = max((t for got in (*outcome.sse, *outcome.ws) for t in got.times), default=outcome.publish_started)
    span = last - outcome.publish_started
    rate = len(published.sent) / span if span > 0 else float("nan")
    answers = sorted(published.answer_seconds)
    clean = not (sse_problems or ws_problems or published.failures)
    lines = [
        f"# Alert fan-out ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{arguments.sse_clients} SSE + {arguments.ws_clients} WebSocket clients of one tenant, "
        f"{arguments.alerts} alerts via `POST /internal/alerts` at {arguments.rate}/s; runtime "
        f"`--workers {workers}`, separate processes: {', '.join(arguments.separate_process) or 'none'}, "
        f"`SSE_WAIT_SECONDS={arguments.sse_wait}`. "
        f"Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}. "
        f"Clients opened in {outcome.open_seconds:.1f} s.",
        "",
        "| path | deliveries | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
        _latency_line("raw PUBLISH -> redis-py pub/sub (floor)", floor),
        _latency_line("ingress -> SSE client", sse),
        _latency_line("ingress -> WebSocket client", ws),
        _latency_line("ingress POST answer (after WS posts)", answers),
        "",
        f"- alerts accepted: {len(published.stream_ids)}/{arguments.alerts}"
        + (
            f"; ingress failures: {len(published.failures)} (first: {published.failures[0]})"
            if published.failures
            else ""
        ),
        f"- SSE: {'; '.join(sse_problems) or 'every client got every alert once, in order'}",
        f"- WS: {'; '.join(ws_problems) or 'every client got every alert once, in order'}",
        f"- delivered rate: {rate:.1f} alerts/s "
        f"(published alerts / first publish to last delivery, {span:.1f} s)"
        + (" with zero lost" if clean else " — NOT clean, see above"),
        f"- SSE p99 / floor p99: {_ratio(sse, floor)}; WS p99 / floor p99: {_ratio(ws, floor)}",
    ]
    if not clean:
        lines.append(
            f"- LIMIT: not clean at {arguments.sse_clients} SSE + {arguments.ws_clients} WS on "
            f"{os.cpu_count()} CPUs (an ingress 503 is the fanout function passing its Timeout while it "
            "posts to every WebSocket)"
        )
    return lines


def _ratio(latencies: Sequence[float], floor: Sequence[float]) -> str:
    if not latencies or not floor:
        return "n/a"
    return f"{_nearest_rank(sorted(latencies), 0.99) / _nearest_rank(sorted(floor), 0.99):.0f}x"


def _delete_run_keys(client: redis.Redis, tenant: str, alert_ids: Sequence[str]) -> None:
    """This run's keys: the tenant's stream, subscription and topics, and its alerts' seen keys
    (nothing is flushed). Claims-cache entries and connection records expire by themselves."""
    for key in client.scan_iter(match=f"*{tenant}*", count=1000):
        client.delete(key)
    for alert_id in alert_ids:
        client.delete(redis_keyspace.alert_seen_key(alert_id))


if __name__ == "__main__":
    raise SystemExit(main())

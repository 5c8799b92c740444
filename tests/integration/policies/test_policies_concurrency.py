"""Exactness under concurrency: several Lambda containers (OS processes) share one user's budget in Redis."""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import function_event
from tests.support.lambda_runtime import GATEWAY_VARIABLES, PROXY_MODULE

PROCESSES = 4
LIMIT = 30
EXTRA = 30  # requests beyond the limit
START_TIMEOUT_SECONDS = 30


def container(
    environ: Mapping[str, str],
    events: list[dict[str, Any]],
    ready: Any,  # multiprocessing.Barrier
    results: Any,  # multiprocessing.Queue
) -> None:
    """One Lambda container: cold start, wait for the others, then invoke the proxy handler."""
    for variable in GATEWAY_VARIABLES:
        os.environ.pop(variable, None)
    os.environ.update(environ)
    asyncio.set_event_loop(asyncio.new_event_loop())  # every invocation runs on this thread's loop
    proxy = importlib.import_module(PROXY_MODULE)
    statuses: list[int] = []
    try:
        ready.wait(timeout=START_TIMEOUT_SECONDS)
        statuses = [int(proxy.handler(event, LambdaContext())["statusCode"]) for event in events]
    finally:
        results.put(statuses)


def test_concurrent_containers_let_exactly_the_limit_through(
    start_gateway: GatewayStarter, gateway_environment: dict[str, str], dev_keys: DevKeyPair
) -> None:
    environ = {
        **gateway_environment,
        "RATE_LIMIT_REQUESTS": str(LIMIT),
        "RATE_LIMIT_WINDOW_SECONDS": "3600",  # no request comes back during the test
    }
    gateway = start_gateway(**environ)
    context = gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a"))
    event = function_event("GET", "/api/v1/sales/orders", context=context)
    share = (LIMIT + EXTRA) // PROCESSES
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter each, like a cold Lambda container
    ready, results = spawn.Barrier(PROCESSES), spawn.Queue()
    processes = [
        spawn.Process(target=container, args=(environ, [event] * share, ready, results), daemon=True)
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        statuses = Counter(status for _ in processes for status in results.get(timeout=START_TIMEOUT_SECONDS))
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()

    assert statuses == {200: LIMIT, 429: EXTRA}

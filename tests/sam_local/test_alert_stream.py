"""The alert stream under ``sam local``: one long poll per request, as behind API Gateway, which
answers as soon as an alert arrives (``docs/sse.md``)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import redis

from bakery_local.alert_client import new_alert, publish
from bakery_local.sam_local.api import SamLocalApi
from tests.sam_local.conftest import SSE_WAIT_SECONDS
from tests.support.walkthrough import STREAM, Walker

BLOCKED_SECONDS = 60.0  # the stream's request reaches its XREAD BLOCK within this (a cold container)


def blocked_clients(api: SamLocalApi) -> int:
    client = redis.Redis(host=api.redis_host, port=api.redis_port)
    try:
        return int(client.info("clients")["blocked_clients"])
    finally:
        client.close()


def test_an_open_long_poll_answers_with_an_alert_published_while_it_waits(
    sam_api: SamLocalApi, walker: Walker
) -> None:
    tenant = f"bakery-{uuid.uuid4().hex[:8]}"
    token = walker.cli_token("--user", "u-4", "--tenant", tenant)
    with httpx.Client(timeout=walker.timeout) as client:  # the fanout's container, started before the poll
        publish(walker.url, new_alert(f"{tenant}-other", "low", "warming up"), client=client)
    answers: list[httpx.Response] = []
    polling = threading.Thread(
        target=lambda: answers.append(
            httpx.get(
                f"{walker.url}{STREAM}?tenant_id={tenant}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=BLOCKED_SECONDS + SSE_WAIT_SECONDS,
            )
        )
    )
    polling.start()
    deadline = time.monotonic() + BLOCKED_SECONDS
    while blocked_clients(sam_api) == 0:  # the proxy waits in XREAD BLOCK: the poll is open
        assert time.monotonic() < deadline, "the long poll never reached Redis"
        time.sleep(0.2)

    with httpx.Client(timeout=walker.timeout) as client:
        stream_id = publish(walker.url, new_alert(tenant, "high", "Low stock: flour"), client=client)
    polling.join(timeout=BLOCKED_SECONDS + SSE_WAIT_SECONDS)

    (response,) = answers
    assert response.status_code == 200
    assert f"id: {stream_id}\nevent: alert\n" in response.text
    data = next(line for line in response.text.splitlines() if line.startswith("data: "))
    assert json.loads(data.removeprefix("data: "))["message"] == "Low stock: flour"

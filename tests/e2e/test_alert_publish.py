"""``bakery-gateway publish`` through the local runtime's ``POST /internal/alerts``, into real Redis."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import cast

import httpx

from bakery_gateway import redis_keys
from tests.e2e.runtime import RunningGateway, run_cli
from tests.support.redis_server import RedisEndpoint


def stream(redis_server: RedisEndpoint, tenant: str) -> list[tuple[str, dict[str, str]]]:
    client = redis_server.client()
    try:
        return cast(list[tuple[str, dict[str, str]]], client.xrange(redis_keys.alert_stream_key(tenant)))
    finally:
        client.close()


def test_publish_prints_the_stream_id_of_the_stored_alert(
    gateway: RunningGateway, redis_server: RedisEndpoint, tmp_path: Path
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"

    result = run_cli(
        tmp_path, "publish", "--tenant", tenant, "--severity", "high", "--message", "Flour is low",
        "--type", "low_stock", "--url", gateway.url,
    )  # fmt: skip

    ((entry_id, fields),) = stream(redis_server, tenant)
    assert result.stdout.strip() == entry_id
    alert = json.loads(fields[redis_keys.ALERT_STREAM_FIELD])
    assert (alert["severity"], alert["type"], alert["message"]) == ("high", "low_stock", "Flour is low")


def test_a_malformed_alert_is_refused_with_a_problem_and_not_stored(
    gateway: RunningGateway, redis_server: RedisEndpoint
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"

    response = httpx.post(f"{gateway.url}/internal/alerts", json={"tenant_id": tenant}, timeout=10)

    assert (response.status_code, response.headers["content-type"]) == (400, "application/problem+json")
    assert stream(redis_server, tenant) == []

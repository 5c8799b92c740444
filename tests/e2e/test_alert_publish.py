"""``bakery-gateway publish`` through the local runtime's ``POST /internal/alerts``, into real Redis."""

from __future__ import annotations

import ipaddress
import json
import socket
import uuid
from pathlib import Path
from typing import cast

import httpx
import pytest

from bakery_gateway import constants as names
from bakery_gateway.clients import redis_keyspace
from bakery_local.alert_client import new_alert
from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.conftest import deployment_environment
from tests.e2e.runtime import RunningGateway, local_gateway, run_cli
from tests.support.redis_server import RedisEndpoint, free_port


def stream(redis_server: RedisEndpoint, tenant: str) -> list[tuple[str, dict[str, str]]]:
    client = redis_server.client()
    try:
        return cast(list[tuple[str, dict[str, str]]], client.xrange(redis_keyspace.alert_stream_key(tenant)))
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
    alert = json.loads(fields[redis_keyspace.ALERT_STREAM_FIELD])
    assert (alert["severity"], alert["type"], alert["message"]) == ("high", "low_stock", "Flour is low")


def test_a_malformed_alert_is_refused_with_a_problem_and_not_stored(
    gateway: RunningGateway, redis_server: RedisEndpoint
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"

    response = httpx.post(f"{gateway.url}/internal/alerts", json={"tenant_id": tenant}, timeout=10)

    assert (response.status_code, response.headers["content-type"]) == (400, "application/problem+json")
    assert stream(redis_server, tenant) == []


def this_machines_address() -> str | None:
    """An address of this machine other than loopback: the source of a packet toward a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: nothing is sent; the routing table picks the source
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


def test_the_internal_route_refuses_another_machine_even_one_claiming_to_be_this_one(
    redis_server: RedisEndpoint, dev_keys: DevKeyPair, tmp_path: Path
) -> None:
    # IAM's stand-in (docs/alerts.md): POST /internal/alerts from this machine only, over real sockets
    address = this_machines_address()
    if address is None:
        pytest.skip("this machine has no address but loopback to call from")
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    environ = deployment_environment(redis_server, dev_keys)
    environ.update(
        {names.service_url_variable(name): f"http://127.0.0.1:{free_port()}" for name in names.SERVICES}
    )
    with local_gateway(environ, tmp_path / "gateway.log", "--host", "0.0.0.0") as gateway:  # noqa: S104
        port = gateway.url.rsplit(":", 1)[1]
        remote = httpx.post(
            f"http://{address}:{port}/internal/alerts",
            json=new_alert(tenant, "high", "from another machine"),
            headers={"X-Forwarded-For": "127.0.0.1"},
            timeout=10,
        )
        local = httpx.post(
            f"{gateway.url}/internal/alerts", json=new_alert(tenant, "high", "from this machine"), timeout=10
        )

    assert (remote.status_code, remote.json()) == (403, {"message": "Forbidden"})
    assert local.status_code == 202
    assert [
        json.loads(fields[redis_keyspace.ALERT_STREAM_FIELD])["message"]
        for _, fields in stream(redis_server, tenant)
    ] == ["from this machine"]

"""WebSocket connections whose token ends, and the fanout in a process of its own, through the local
runtime over real sockets."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bakery_gateway.clients import redis_keyspace
from bakery_local.alert_client import new_alert, publish
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import new_paying_tenant
from tests.e2e.conftest import deployment_environment
from tests.e2e.runtime import RunningGateway, local_gateway
from tests.e2e.test_websocket import receive, ws_url
from tests.support.redis_server import RedisEndpoint

SUBSCRIBE = json.dumps({"action": "subscribe", "topic": "alerts"})
EXIT_SECONDS = 10.0


@pytest.fixture(scope="module")
def separate_fanout(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisEndpoint, dev_keys: DevKeyPair
) -> Iterator[RunningGateway]:
    """The runtime running the fanout function in a worker process of its own."""
    log_path = tmp_path_factory.mktemp("separate") / "gateway.log"
    environ = deployment_environment(redis_server, dev_keys)
    with local_gateway(environ, log_path, "--separate-process", "FanoutFunction") as running:
        yield running


def test_a_fanout_in_its_own_process_reaches_a_subscriber(
    separate_fanout: RunningGateway, dev_keys: DevKeyPair, client: redis.Redis
) -> None:
    tenant = new_paying_tenant(client)
    token = dev_keys.mint(user_id="user-1", tenant_id=tenant, tenant_ids=[tenant])
    with connect(ws_url(separate_fanout, token), open_timeout=10) as socket:
        socket.send(SUBSCRIBE)
        receive(socket)
        stream_id = publish(separate_fanout.url, new_alert(tenant, "high", "Proofer 1 too warm"))

        message = receive(socket)

    assert (message["type"], message["stream_id"]) == ("alert", stream_id)


def test_a_socket_whose_token_was_revoked_is_told_and_closed_on_the_next_alert(
    gateway: RunningGateway, dev_keys: DevKeyPair, client: redis.Redis
) -> None:
    tenant = new_paying_tenant(client)
    token = dev_keys.mint(user_id="user-1", tenant_id=tenant, tenant_ids=[tenant])
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with connect(ws_url(gateway, token), open_timeout=10) as socket:
        socket.send(SUBSCRIBE)
        receive(socket)
        client.set(redis_keyspace.revoked_key(jti), "1", ex=60)  # what a logout stores
        publish(gateway.url, new_alert(tenant, "high", "not for a logged-out user"))

        notice = receive(socket)
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)

    assert notice == {"type": "closing", "reason": "token-revoked"}


def test_worker_processes_end_when_the_runtime_is_killed(
    tmp_path: Path, redis_server: RedisEndpoint, dev_keys: DevKeyPair, client: redis.Redis
) -> None:
    environ = deployment_environment(redis_server, dev_keys)
    with local_gateway(environ, tmp_path / "gateway.log", "--separate-process", "FanoutFunction") as running:
        publish(running.url, new_alert(new_paying_tenant(client), "low", "starts the worker"))
        workers = _children(running.process.pid)
        assert workers, "the fanout ran in no worker process"
        os.kill(running.process.pid, signal.SIGKILL)
        running.process.wait()
        deadline = time.monotonic() + EXIT_SECONDS
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)

    assert not any(_alive(pid) for pid in workers)


def _children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (spawned by multiprocessing: not the resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        if int(parent) == pid and "multiprocessing-fork" in command:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = next(
            line.split()[1]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("State:")
        )
    except (OSError, StopIteration):
        return False
    return state != "Z"

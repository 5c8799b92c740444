"""The alert stream over real sockets through the local runtime: one continuous SSE response,
resumable with Last-Event-ID."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import httpx
import jwt
import pytest
import redis

from bakery_gateway import constants as names
from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.conftest import deployment_environment
from tests.e2e.runtime import RunningGateway, local_gateway
from tests.support.alerts import ServerEvent, alerts_of, parse_events, write_alert
from tests.support.redis_server import RedisEndpoint, free_port

STREAM = "/api/v1/alerts/stream"
READ_TIMEOUT_SECONDS = 10.0


@pytest.fixture(scope="module")
def sse_gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisEndpoint, dev_keys: DevKeyPair
) -> Iterator[RunningGateway]:
    """The local runtime with short SSE timings: 1 s per invocation, a heartbeat every second."""
    environ = {
        **deployment_environment(redis_server, dev_keys),
        names.SSE_WAIT_SECONDS: "1",
        names.SSE_HEARTBEAT_SECONDS: "1",
        names.SSE_RETRY_MILLISECONDS: "500",
    }
    # No service is called: every one is configured (so no samples start), on a closed port.
    for service in names.SERVICES:
        environ[names.service_url_variable(service)] = f"http://127.0.0.1:{free_port()}"
    with local_gateway(environ, tmp_path_factory.mktemp("sse") / "gateway.log") as running:
        yield running


@pytest.fixture
def headers(dev_keys: DevKeyPair, tenant: str) -> dict[str, str]:
    token = dev_keys.mint(user_id="user-1", tenant_id=tenant, tenant_ids=[tenant])
    return {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}


class EventReader:
    """The events of one open response, read as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.iter_text()
        self._text = ""

    @property
    def events(self) -> list[ServerEvent]:
        return parse_events(self._text)

    def until(self, done: Callable[[list[ServerEvent]], bool]) -> list[ServerEvent]:
        deadline = time.monotonic() + READ_TIMEOUT_SECONDS
        while not done(self.events):
            assert time.monotonic() < deadline, f"not seen in time; got {self._text!r}"
            self._text += next(self._chunks)
        return self.events


def alert_count(count: int) -> Callable[[list[ServerEvent]], bool]:
    return lambda events: len(alerts_of(events)) >= count


def heartbeat_after_alerts(count: int) -> Callable[[list[ServerEvent]], bool]:
    """``count`` alerts, then a heartbeat: anything more would have come before it."""

    def seen(events: list[ServerEvent]) -> bool:
        positions = [index for index, event in enumerate(events) if event.event == "alert"]
        return len(positions) >= count and any("heartbeat" in e.comments for e in events[positions[-1] :])

    return seen


def open_stream(gateway: RunningGateway, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, headers=headers, timeout=READ_TIMEOUT_SECONDS)


def test_a_client_receives_alerts_written_after_it_connected(
    sse_gateway: RunningGateway, headers: dict[str, str], client: redis.Redis, tenant: str
) -> None:
    with open_stream(sse_gateway, headers) as http, http.stream("GET", STREAM) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        written = [write_alert(client, tenant, f"alert {n}") for n in range(3)]

        events = EventReader(response).until(alert_count(3))

    assert alerts_of(events) == [(entry_id, f"alert {n}") for n, entry_id in enumerate(written)]


def test_heartbeats_keep_an_idle_stream_open(sse_gateway: RunningGateway, headers: dict[str, str]) -> None:
    with open_stream(sse_gateway, headers) as http, http.stream("GET", STREAM) as response:
        events = EventReader(response).until(lambda events: any("heartbeat" in e.comments for e in events))

    assert alerts_of(events) == []


def test_a_reconnecting_client_gets_every_alert_once_and_in_order(
    sse_gateway: RunningGateway, headers: dict[str, str], client: redis.Redis, tenant: str
) -> None:
    with open_stream(sse_gateway, headers) as http:
        with http.stream("GET", STREAM) as response:
            write_alert(client, tenant, "before the disconnection")
            first = alerts_of(EventReader(response).until(alert_count(1)))
        write_alert(client, tenant, "during the disconnection 1")
        write_alert(client, tenant, "during the disconnection 2")
        with http.stream("GET", STREAM, headers={"Last-Event-ID": first[-1][0]}) as response:
            write_alert(client, tenant, "after reconnecting")
            second = alerts_of(EventReader(response).until(heartbeat_after_alerts(3)))

    assert [message for _, message in first + second] == [
        "before the disconnection",
        "during the disconnection 1",
        "during the disconnection 2",
        "after reconnecting",
    ]
    ids = [entry_id for entry_id, _ in first + second]
    assert ids == sorted(ids, key=lambda entry_id: tuple(int(part) for part in entry_id.split("-")))


def test_a_refused_stream_is_answered_as_the_handler_answered(
    sse_gateway: RunningGateway, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{sse_gateway.url}{STREAM}?tenant_id=someone-else", headers=headers, timeout=10)

    assert response.status_code == 403
    assert response.json()["type"].endswith("tenant-forbidden")


def test_a_revoked_token_ends_an_open_stream_within_one_wait(
    sse_gateway: RunningGateway, dev_keys: DevKeyPair, client: redis.Redis, tenant: str
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id=tenant, tenant_ids=[tenant])
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    with open_stream(sse_gateway, headers) as http, http.stream("GET", STREAM) as response:
        assert response.status_code == 200
        client.set(redis_keyspace.revoked_key(jti), "1", ex=60)
        started = time.monotonic()
        remainder = response.read()  # returns once the runtime ends the response

    assert time.monotonic() - started < READ_TIMEOUT_SECONDS
    assert alerts_of(parse_events(remainder.decode())) == []


def test_streams_of_one_tenant_share_one_reader_and_all_get_every_alert(
    sse_gateway: RunningGateway, headers: dict[str, str], client: redis.Redis, tenant: str
) -> None:
    with contextlib.ExitStack() as stack:
        http = stack.enter_context(open_stream(sse_gateway, headers))
        responses = [stack.enter_context(http.stream("GET", STREAM)) for _ in range(5)]
        followed = httpx.get(f"{sse_gateway.url}/_local/status").json()["followed_alert_streams"]
        written = [write_alert(client, tenant, f"alert {n}") for n in range(3)]
        received = [alerts_of(EventReader(response).until(alert_count(3))) for response in responses]

    assert followed == 1
    assert received == [[(entry_id, f"alert {n}") for n, entry_id in enumerate(written)]] * 5

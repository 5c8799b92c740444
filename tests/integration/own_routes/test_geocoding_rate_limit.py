"""Nominatim's one request per second, kept across proxy containers by the shared slot in Redis.

Each "container" is the proxy's app with clients of its own, invoked on its own thread and event
loop, as two Lambda containers would be: only Redis is shared between them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop, async_redis_factory, http_client_factory
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.edge.lambda_http import AsgiAppHandler, run_on_container_loop
from bakery_gateway.own_routes.app import create_app
from bakery_gateway.settings import Settings
from bakery_local.dev_tokens import DevKeyPair
from tests.support.fake_nominatim import FakeNominatim
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem, function_event

GEOCODE = "/api/v1/geocode"
MIN_INTERVAL_SECONDS = 1.0  # Nominatim's usage policy: at most one request per second


class Container:
    """One proxy container: its app, its own Redis and HTTP clients, its one thread and event loop."""

    def __init__(self, settings: Settings) -> None:
        self._clients: list[Any] = []
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._loop = asyncio.new_event_loop()
        self._thread.submit(asyncio.set_event_loop, self._loop).result()
        app = create_app(
            settings,
            redis_clients=PerEventLoop(
                self._tracked(async_redis_factory(settings.redis, decode_responses=False))
            ),
            http_clients=PerEventLoop(self._tracked(http_client_factory(settings))),
            blocking_redis_clients=PerEventLoop(self._tracked(async_redis_factory(settings.redis))),
        )
        self._events = AsgiAppHandler(lambda: app)

    def _tracked(self, factory: Any) -> Any:
        def create() -> Any:
            client = factory()
            self._clients.append(client)
            return client

        return create

    def invoke(self, event: dict[str, Any]) -> Future[ProxyResponse]:
        context: Any = LambdaContext()
        return self._thread.submit(lambda: ProxyResponse(run_on_container_loop(self._events(event, context))))

    def close(self) -> None:
        async def close_clients() -> None:
            for client in self._clients:
                await client.aclose()

        self._thread.submit(self._loop.run_until_complete, close_clients()).result()
        self._thread.submit(self._loop.close).result()
        self._thread.shutdown()


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    with FakeNominatim() as fake:
        yield fake


@pytest.fixture
def containers(gateway_environment: dict[str, str], nominatim: FakeNominatim) -> Iterator[list[Container]]:
    settings = Settings.from_environ({**gateway_environment, "NOMINATIM_URL": nominatim.url})
    started = [Container(settings), Container(settings), Container(settings)]
    yield started
    for container in started:
        container.close()


@pytest.fixture
def context(gateway: LambdaGateway, dev_keys: DevKeyPair) -> dict[str, Any]:
    """The authorizer's verdict on a tenant-a token, as API Gateway hands it to every container."""
    return gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-a"]))


def geocode_event(context: dict[str, Any], address: str) -> dict[str, Any]:
    return function_event(
        "POST",
        GEOCODE,
        context=context,
        headers={"content-type": "application/json"},
        body=json.dumps({"address": address}),
    )


def two_containers_asking_at_once(
    containers: list[Container], context: dict[str, Any], nominatim: FakeNominatim
) -> float:
    """Two containers geocode at the same moment; both succeed. The seconds between the two
    requests Nominatim received."""
    first, second, _ = containers
    answers = [
        first.invoke(geocode_event(context, "Calle Mayor 1, Madrid")),
        second.invoke(geocode_event(context, "Calle Sierpes 2, Sevilla")),
    ]
    assert [answer.result().status for answer in answers] == [200, 200]
    earlier, later = sorted(request.arrived_at for request in nominatim.requests)
    return later - earlier


def test_two_containers_asking_at_once_reach_nominatim_a_second_apart(
    containers: list[Container], context: dict[str, Any], nominatim: FakeNominatim
) -> None:
    assert two_containers_asking_at_once(containers, context, nominatim) >= MIN_INTERVAL_SECONDS


def test_a_stream_of_lookups_across_containers_never_exceeds_one_per_second(
    containers: list[Container], context: dict[str, Any], nominatim: FakeNominatim
) -> None:
    statuses = []
    for round_number in range(2):
        answers = [
            container.invoke(geocode_event(context, f"Calle {round_number}-{index}, Madrid"))
            for index, container in enumerate(containers)
        ]
        statuses += [answer.result().status for answer in answers]

    # Whoever could not get a slot within the bounded wait was told to come back (503), never let through.
    assert set(statuses) <= {200, 503}
    assert statuses.count(200) == len(nominatim.requests) >= 2
    arrivals = sorted(request.arrived_at for request in nominatim.requests)
    assert all(later - earlier >= MIN_INTERVAL_SECONDS for earlier, later in itertools.pairwise(arrivals))


def test_a_request_waits_for_a_slot_that_frees_within_a_second(
    containers: list[Container], context: dict[str, Any], nominatim: FakeNominatim, redis_client: redis.Redis
) -> None:
    redis_client.set(redis_keyspace.GEOCODE_SLOT_KEY, "other-container", px=400)

    started = time.monotonic()
    response = containers[0].invoke(geocode_event(context, "Sol")).result()

    assert response.status == 200
    assert nominatim.requests[0].arrived_at - started >= 0.4


def test_a_slot_taken_for_longer_than_the_wait_is_a_503_with_retry_after_at_once(
    containers: list[Container], context: dict[str, Any], nominatim: FakeNominatim, redis_client: redis.Redis
) -> None:
    redis_client.set(redis_keyspace.GEOCODE_SLOT_KEY, "other-container", px=4_500)

    started = time.monotonic()
    response = containers[0].invoke(geocode_event(context, "Sol")).result()

    problem = assert_problem(response, 503, "geocoding-busy")
    assert "one request per second" in problem["detail"]
    assert response.headers["retry-after"] == "5"
    assert time.monotonic() - started < 0.5
    assert nominatim.requests == []


def test_the_second_starts_when_nominatim_has_answered_not_when_the_first_was_sent(
    containers: list[Container], context: dict[str, Any], nominatim: FakeNominatim
) -> None:
    nominatim.be_slow(0.4)
    assert two_containers_asking_at_once(containers, context, nominatim) >= 0.4 + MIN_INTERVAL_SECONDS
